#!/usr/bin/env bash
# Proxy overhead: requests/s and p50/p99 latency at 32 connections through
# Velocity's reverse proxy (internal/proxy), through nginx and direct to one
# backend instance, measured in one run on this machine.
#
#   bench/proxy/run.sh [DURATION]     (default 15s per measurement; any
#                                      wrk duration such as 30s or 1m)
#
# Goal: Velocity reaches at least 0.8 of nginx's requests/s, and its p99 is
# no worse than 1.5 times nginx's. Exits 2 when a goal is missed or requests
# failed, 1 on setup errors.
#
# Needs wrk and nginx (Debian packages):
#   sudo apt-get install -y wrk nginx
# and Go to build bench/proxy/backend and bench/proxy/velocityproxy.
#
# Setup, all on loopback:
#   backend   bench/proxy/backend: GET / answers a fixed ~100-byte body
#   nginx     generated config in a temp dir: worker_processes auto,
#             upstream with keepalive 64, proxy_http_version 1.1,
#             Connection "" (upstream keep-alive), access_log off; run in
#             the foreground (daemon off) as a background job
#   velocity  bench/proxy/velocityproxy: proxy.Serve (the proxy's own
#             HTTP/1.1 data path, as velocity run serves it) with one route,
#             Host web.bench.localhost, one healthy target (the backend)
# Each target gets a 3s warm-up, then `wrk -t2 -c32 -d$DURATION --latency`.
#
# Environment:
#   PORT_BASE=18080        backend, nginx and velocity listen on PORT_BASE,
#                          PORT_BASE+1 and PORT_BASE+2
#   WARMUP=3s              warm-up per target
#   CPUPROFILE=FILE        write a CPU profile of the velocity proxy, covering
#                          its warm-up and measurement (inspect with
#                          `go tool pprof -top bench/proxy/velocityproxy FILE`
#                          after building it there, or use the binary path
#                          printed at the end)
#   KEEP=1                 keep the temp dir (binaries, nginx config and logs,
#                          raw wrk output)
#
# Besides requests/s and latency, it reports the CPU time the proxy
# process (nginx: master and workers) spent per request during the
# measurement, from /proc: less sensitive than requests/s to other load on
# the machine, since contention changes how long a request waits more than
# how much work it takes.
#
# Caveat printed with the results: wrk, nginx, the proxy and the backend all
# share this machine's cores, so every figure includes contention between
# them; compare ratios from the same run, not absolute numbers across
# machines.
set -euo pipefail

duration=${1:-15s}
warmup=${WARMUP:-3s}
base=${PORT_BASE:-18080}
backend_port=$base nginx_port=$((base + 1)) velocity_port=$((base + 2))
vhost=web.bench.localhost
root=$(cd "$(dirname "$0")/../.." && pwd)

missing=()
for tool in wrk nginx go; do
	command -v "$tool" >/dev/null 2>&1 || [[ $tool == nginx && -x /usr/sbin/nginx ]] || missing+=("$tool")
done
if ((${#missing[@]})); then
	echo "missing: ${missing[*]}" >&2
	for tool in "${missing[@]}"; do
		case $tool in
		wrk | nginx) echo "  install with: sudo apt-get install -y $tool   (Debian/Ubuntu packages)" >&2 ;;
		go) echo "  install Go (https://go.dev/dl/) to build the backend and the proxy" >&2 ;;
		esac
	done
	exit 1
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?') # before we add any
work=$(mktemp -d)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ ${KEEP:-} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$backend_port" "$nginx_port" "$velocity_port"; do
	if port_busy "$port"; then
		echo "port $port is in use; set PORT_BASE to use other ports" >&2
		exit 1
	fi
done

# wait_port PORT PID NAME: until PORT accepts connections, failing if the
# process PID exits first.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		port_busy "$1" && return 0
		kill -0 "$2" 2>/dev/null || { echo "$3 exited; its log:" >&2; cat "$work/$3.log" >&2; exit 1; }
		sleep 0.05
	done
	echo "$3 did not listen on port $1" >&2
	exit 1
}

echo "building backend and velocityproxy..." >&2
(cd "$root" && go build -o "$work/backend" ./bench/proxy/backend && go build -o "$work/velocityproxy" ./bench/proxy/velocityproxy)

"$work/backend" -addr "127.0.0.1:$backend_port" >"$work/backend.log" 2>&1 &
pids+=($!)
wait_port "$backend_port" "$!" backend

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/client_body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    upstream backend {
        server 127.0.0.1:$backend_port;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
        }
    }
}
EOF
"$nginx_bin" -p "$work/nginx" -e "$work/nginx.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' >>"$work/nginx.log" 2>&1 &
nginx_pid=$!
pids+=($!)
wait_port "$nginx_port" "$!" nginx

profile_args=()
if [[ -n ${CPUPROFILE:-} ]]; then
	profile_args=(-cpuprofile "$(cd "$(dirname "$CPUPROFILE")" && pwd)/$(basename "$CPUPROFILE")")
fi
"$work/velocityproxy" -addr "127.0.0.1:$velocity_port" -backend "http://127.0.0.1:$backend_port" \
	-host "$vhost" "${profile_args[@]}" >"$work/velocity.log" 2>&1 &
velocity_pid=$!
pids+=("$velocity_pid")
wait_port "$velocity_port" "$velocity_pid" velocity

# to_ms VALUE: wrk latency (e.g. 812.00us, 1.23ms, 1.02s) in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) printf "%.3f", substr(v, 1, length(v)-2) / 1000
		else if (v ~ /ms$/) printf "%.3f", substr(v, 1, length(v)-2)
		else if (v ~ /m$/) printf "%.3f", substr(v, 1, length(v)-1) * 60000
		else if (v ~ /s$/) printf "%.3f", substr(v, 1, length(v)-1) * 1000
		else printf "nan"
	}'
}

# cpu_ticks PID: user+system clock ticks used so far by PID and its child
# processes (nginx's workers); empty if unknown.
cpu_ticks() {
	local pid total=0 t
	for pid in "$1" $(pgrep -P "$1" 2>/dev/null); do
		# Fields after the command name (which may hold spaces): utime is
		# the 12th, stime the 13th.
		t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || return 0
		total=$((total + ${t:-0}))
	done
	echo "$total"
}
clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)

# measure NAME PID URL [wrk args...]: warm up, measure, set rps/p50/p99/
# errors, and cpu (the CPU microseconds PID spent per request; PID 0 for
# none).
declare -A rps p50 p99 errs cpu
measure() {
	local name=$1 pid=$2 url=$3 out t0 t1 n
	shift 3
	echo "$name: warm-up $warmup, then ${duration}..." >&2
	wrk -t2 -c32 -d"$warmup" "$@" "$url" >/dev/null
	out=$work/wrk-$name.txt
	t0= t1=
	((pid)) && t0=$(cpu_ticks "$pid")
	wrk -t2 -c32 -d"$duration" --latency "$@" "$url" >"$out"
	((pid)) && t1=$(cpu_ticks "$pid")
	n=$(awk '/requests in/ {print $1}' "$out")
	if [[ -n $t0 && -n $t1 && ${n:-0} -gt 0 ]]; then
		cpu[$name]=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n="$n" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
	fi
	rps[$name]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	p50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
	p99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	errs[$name]=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")
	if [[ -z ${rps[$name]} || ${errs[$name]} != 0 ]]; then
		echo "$name: wrk reported errors or no result:" >&2
		cat "$out" >&2
	fi
}

# Sanity check: the velocity route must reach the backend.
if command -v curl >/dev/null 2>&1; then
	curl -fsS -o /dev/null -H "Host: $vhost" "http://127.0.0.1:$velocity_port/" ||
		{ echo "velocity proxy does not answer for $vhost" >&2; exit 1; }
	curl -fsS -o /dev/null "http://127.0.0.1:$nginx_port/" ||
		{ echo "nginx does not answer" >&2; exit 1; }
fi

measure direct 0 "http://127.0.0.1:$backend_port/"
measure nginx "$nginx_pid" "http://127.0.0.1:$nginx_port/"
measure velocity "$velocity_pid" "http://127.0.0.1:$velocity_port/" -H "Host: $vhost"

if [[ -n ${CPUPROFILE:-} ]]; then
	kill -TERM "$velocity_pid" && wait "$velocity_pid" || true
	echo "CPU profile: ${profile_args[1]} (binary: $work/velocityproxy; set KEEP=1 to keep it)" >&2
fi

cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
echo
echo "Proxy overhead, wrk -t2 -c32 -d$duration --latency, GET / with a ~100-byte body ($(date -u +%Y-%m-%dT%H:%MZ), $(uname -m))"
echo "wrk, nginx, the Velocity proxy and the backend all share this machine's $cpus CPU core(s): figures include their contention."
echo "1-minute load average before the run: $load (anything else running skews the figures; rerun on a quiet machine)."
echo
printf '%-10s %12s %10s %10s %8s %14s\n' target 'requests/s' 'p50 ms' 'p99 ms' errors 'proxy CPU/req'
for name in direct nginx velocity; do
	printf '%-10s %12.0f %10.3f %10.3f %8d %14s\n' "$name" "${rps[$name]:-0}" "${p50[$name]:-nan}" "${p99[$name]:-nan}" "${errs[$name]:-0}" \
		"${cpu[$name]:+${cpu[$name]} us}"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "nan" }'; }
rps_vn=$(ratio "${rps[velocity]}" "${rps[nginx]}")
p99_vn=$(ratio "${p99[velocity]}" "${p99[nginx]}")
printf '%-32s %6s\n' 'nginx/direct requests/s' "$(ratio "${rps[nginx]}" "${rps[direct]}")"
printf '%-32s %6s\n' 'velocity/direct requests/s' "$(ratio "${rps[velocity]}" "${rps[direct]}")"
printf '%-32s %6s\n' 'velocity/nginx requests/s' "$rps_vn"
printf '%-32s %6s\n' 'velocity/nginx p99' "$p99_vn"
if [[ -n ${cpu[nginx]:-} && -n ${cpu[velocity]:-} ]]; then
	printf '%-32s %6s\n' 'velocity/nginx CPU per request' "$(ratio "${cpu[velocity]}" "${cpu[nginx]}")"
fi
echo
ok=1
if awk -v r="$rps_vn" 'BEGIN { exit !(r >= 0.8) }'; then
	echo "goal requests/s >= 0.8 x nginx: met ($rps_vn)"
else
	echo "goal requests/s >= 0.8 x nginx: NOT met ($rps_vn)"
	ok=0
fi
if awk -v r="$p99_vn" 'BEGIN { exit !(r <= 1.5) }'; then
	echo "goal p99 <= 1.5 x nginx:        met ($p99_vn)"
else
	echo "goal p99 <= 1.5 x nginx:        NOT met ($p99_vn)"
	ok=0
fi
if [[ ${errs[direct]} != 0 || ${errs[nginx]} != 0 || ${errs[velocity]} != 0 ]]; then
	echo "warning: some requests failed (errors column); the run is not valid"
	ok=0
fi
((ok)) || exit 2
