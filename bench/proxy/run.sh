#!/usr/bin/env bash
# Proxy overhead: requests/s and p50/p99 latency at 32 connections through
# both of Velocity's reverse-proxy data paths (internal/proxy), through
# nginx and direct to one backend instance, measured in one run on this
# machine.
#
#   bench/proxy/run.sh [DURATION]     (default 15s per measurement; any
#                                      wrk duration such as 30s or 1m)
#
# Goal, for proxy.Serve (the path velocity run and velocity serve use):
# at least nginx's requests/s, and a p99 no worse than nginx's. Exits 2
# when a goal is missed or requests failed, 1 on setup errors. The net/http
# path is measured beside it for comparison, without a goal: it serves
# only what Serve hands it (see docs/benchmarks.md).
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
#   nginx-headers
#             the same nginx on another port, also adding what Velocity's
#             proxy adds to every exchange: X-Forwarded-For, -Host and
#             -Proto and an X-Request-Id upstream, the X-Request-Id in the
#             response; the backend parses four more headers per request.
#             Measured for comparison; the goal stays against nginx.
#   velocity  bench/proxy/velocityproxy: proxy.Serve (the proxy's own
#             HTTP/1.1 data path, as velocity run serves it) with one route,
#             Host web.bench.localhost, one healthy target (the backend)
#   velocity-nethttp
#             the same proxy served by net/http with Proxy.ServeHTTP as
#             its Handler (httputil.ReverseProxy): the path Serve hands
#             HTTP/2, HTTP/1.0, Upgrade and Expect requests to
# Each target gets a 3s warm-up, then `wrk -t2 -c32 -d$DURATION --latency`.
#
# Environment:
#   ROUNDS=1               measure every target this many times, in turn
#                          (nginx, nginx-headers, velocity,
#                          velocity-nethttp, direct per round); the table shows medians and the ratios
#                          are medians of each round's ratios, so a burst
#                          of other load skews one round, not the result
#   PORT_BASE=18080        backend, nginx, velocity, velocity-nethttp and
#                          nginx-headers listen on PORT_BASE to PORT_BASE+4
#   WARMUP=3s              warm-up per target (first round only)
#   VELOCITY_GOMAXPROCS=N  run both Velocity proxies with GOMAXPROCS=N (the
#                          backend keeps the default): by default they use
#                          every core, as velocity serve does
#   CPUPROFILE=FILE        write a CPU profile of the velocity proxy (Serve),
#                          and one of velocity-nethttp to FILE.nethttp,
#                          covering warm-up and measurement (inspect with
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
# Caveat printed with the results: wrk, nginx, the proxies and the backend
# all share this machine's cores, so every figure includes contention
# between them; compare ratios from the same run, not absolute numbers
# across machines.
set -euo pipefail

duration=${1:-15s}
warmup=${WARMUP:-3s}
base=${PORT_BASE:-18080}
rounds=${ROUNDS:-1}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS=$rounds: want a positive integer" >&2; exit 1; }
backend_port=$base nginx_port=$((base + 1)) velocity_port=$((base + 2)) nethttp_port=$((base + 3))
nginx_headers_port=$((base + 4))
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
for port in "$backend_port" "$nginx_port" "$velocity_port" "$nethttp_port" "$nginx_headers_port"; do
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
    server {
        listen 127.0.0.1:$nginx_headers_port;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Request-Id \$request_id;
            add_header X-Request-Id \$request_id;
        }
    }
}
EOF
"$nginx_bin" -p "$work/nginx" -e "$work/nginx.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' >>"$work/nginx.log" 2>&1 &
nginx_pid=$!
pids+=($!)
wait_port "$nginx_port" "$!" nginx

profile_args=() nethttp_profile_args=()
if [[ -n ${CPUPROFILE:-} ]]; then
	profile=$(cd "$(dirname "$CPUPROFILE")" && pwd)/$(basename "$CPUPROFILE")
	profile_args=(-cpuprofile "$profile")
	nethttp_profile_args=(-cpuprofile "$profile.nethttp")
fi
proxy_env=()
[[ -n ${VELOCITY_GOMAXPROCS:-} ]] && proxy_env=("GOMAXPROCS=$VELOCITY_GOMAXPROCS")
env "${proxy_env[@]}" "$work/velocityproxy" -addr "127.0.0.1:$velocity_port" -backend "http://127.0.0.1:$backend_port" \
	-host "$vhost" "${profile_args[@]}" >"$work/velocity.log" 2>&1 &
velocity_pid=$!
pids+=("$velocity_pid")
wait_port "$velocity_port" "$velocity_pid" velocity
env "${proxy_env[@]}" "$work/velocityproxy" -front handler -addr "127.0.0.1:$nethttp_port" -backend "http://127.0.0.1:$backend_port" \
	-host "$vhost" "${nethttp_profile_args[@]}" >"$work/velocity-nethttp.log" 2>&1 &
nethttp_pid=$!
pids+=("$nethttp_pid")
wait_port "$nethttp_port" "$nethttp_pid" velocity-nethttp

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

# measure ROUND NAME PID URL [wrk args...]: warm up (first round only),
# measure, and set rps/p50/p99/errs/cpu[NAME,ROUND], cpu being the CPU
# microseconds PID spent per request (PID 0 for none).
declare -A rps p50 p99 errs cpu
measure() {
	local round=$1 name=$2 pid=$3 url=$4 out t0 t1 n k=$2,$1
	shift 4
	if ((round == 1)); then
		echo "$name: warm-up $warmup, then ${duration}..." >&2
		wrk -t2 -c32 -d"$warmup" "$@" "$url" >/dev/null
	else
		echo "$name: round $round, ${duration}..." >&2
	fi
	out=$work/wrk-$name-$round.txt
	t0= t1=
	((pid)) && t0=$(cpu_ticks "$pid")
	wrk -t2 -c32 -d"$duration" --latency "$@" "$url" >"$out"
	((pid)) && t1=$(cpu_ticks "$pid")
	n=$(awk '/requests in/ {print $1}' "$out")
	if [[ -n $t0 && -n $t1 && ${n:-0} -gt 0 ]]; then
		cpu[$k]=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n="$n" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
	fi
	rps[$k]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	p50[$k]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
	p99[$k]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	errs[$k]=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")
	if [[ -z ${rps[$k]} || ${errs[$k]} != 0 ]]; then
		echo "$name: wrk reported errors or no result:" >&2
		cat "$out" >&2
	fi
}

# Sanity check: the velocity routes must reach the backend.
if command -v curl >/dev/null 2>&1; then
	curl -fsS -o /dev/null -H "Host: $vhost" "http://127.0.0.1:$velocity_port/" ||
		{ echo "velocity proxy does not answer for $vhost" >&2; exit 1; }
	curl -fsS -o /dev/null -H "Host: $vhost" "http://127.0.0.1:$nethttp_port/" ||
		{ echo "velocity proxy (net/http) does not answer for $vhost" >&2; exit 1; }
	curl -fsS -o /dev/null "http://127.0.0.1:$nginx_port/" ||
		{ echo "nginx does not answer" >&2; exit 1; }
	curl -fsS -o /dev/null "http://127.0.0.1:$nginx_headers_port/" ||
		{ echo "nginx (headers) does not answer" >&2; exit 1; }
fi

targets=(direct nginx nginx-headers velocity velocity-nethttp)
for ((r = 1; r <= rounds; r++)); do
	# The proxies back to back, so each round's ratios compare them under
	# the same load.
	measure "$r" nginx "$nginx_pid" "http://127.0.0.1:$nginx_port/"
	measure "$r" nginx-headers "$nginx_pid" "http://127.0.0.1:$nginx_headers_port/"
	measure "$r" velocity "$velocity_pid" "http://127.0.0.1:$velocity_port/" -H "Host: $vhost"
	measure "$r" velocity-nethttp "$nethttp_pid" "http://127.0.0.1:$nethttp_port/" -H "Host: $vhost"
	measure "$r" direct 0 "http://127.0.0.1:$backend_port/"
done

if [[ -n ${CPUPROFILE:-} ]]; then
	kill -TERM "$velocity_pid" "$nethttp_pid" && wait "$velocity_pid" "$nethttp_pid" || true
	echo "CPU profiles: $profile and $profile.nethttp (binary: $work/velocityproxy; set KEEP=1 to keep it)" >&2
fi

# median VALUES...: the median of the non-empty numeric values, or empty.
median() {
	printf '%s\n' "$@" | awk '$1 != "" && $1 != "nan"' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "nan" }'; }
# of FIELD NAME: FIELD's value for NAME in every round.
of() {
	local -n field=$1
	local r
	for ((r = 1; r <= rounds; r++)); do echo "${field[$2,$r]:-}"; done
}
# ratio_median FIELD A B: the median over rounds of FIELD[A]/FIELD[B].
ratio_median() {
	local -n field=$1
	local r out=()
	for ((r = 1; r <= rounds; r++)); do out+=("$(ratio "${field[$2,$r]:-}" "${field[$3,$r]:-}")"); done
	local m
	m=$(median "${out[@]}")
	if [[ -n $m ]]; then printf '%.2f' "$m"; else echo nan; fi
}
# spread FIELD A B: the lowest and highest of the rounds' FIELD[A]/FIELD[B].
spread() {
	local -n field=$1
	local r
	((rounds > 1)) || return 0
	for ((r = 1; r <= rounds; r++)); do ratio "${field[$2,$r]:-}" "${field[$3,$r]:-}"; echo; done |
		awk '$1 != "nan"' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "(%s-%s)", lo, hi }'
}

cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
echo
echo "Proxy overhead, wrk -t2 -c32 -d$duration --latency, GET / with a ~100-byte body, $rounds round(s) ($(date -u +%Y-%m-%dT%H:%MZ), $(uname -m))"
echo "wrk, nginx, the Velocity proxies and the backend all share this machine's $cpus CPU core(s): figures include their contention."
echo "1-minute load average before the run: $load (anything else running skews the figures; rerun on a quiet machine)."
[[ -n ${VELOCITY_GOMAXPROCS:-} ]] && echo "The Velocity proxies ran with GOMAXPROCS=$VELOCITY_GOMAXPROCS."
((rounds > 1)) && echo "Figures are medians over the rounds; ratios are medians of each round's ratios, with their range."
echo
printf '%-17s %12s %10s %10s %8s %14s\n' target 'requests/s' 'p50 ms' 'p99 ms' errors 'proxy CPU/req'
failed=0
for name in "${targets[@]}"; do
	n_errs=0
	for ((r = 1; r <= rounds; r++)); do n_errs=$((n_errs + ${errs[$name,$r]:-0})); done
	((n_errs == 0)) || failed=1
	c=$(median $(of cpu "$name")) q=$(median $(of rps "$name"))
	l50=$(median $(of p50 "$name")) l99=$(median $(of p99 "$name"))
	printf '%-17s %12.0f %10.3f %10.3f %8d %14s\n' "$name" "${q:-0}" "${l50:-nan}" "${l99:-nan}" "$n_errs" \
		"${c:+$(printf '%.1f' "$c") us}"
done
echo
rps_vn=$(ratio_median rps velocity nginx)
p99_vn=$(ratio_median p99 velocity nginx)
printf '%-40s %6s %s\n' 'nginx/direct requests/s' "$(ratio_median rps nginx direct)" "$(spread rps nginx direct)"
printf '%-40s %6s %s\n' 'velocity/direct requests/s' "$(ratio_median rps velocity direct)" "$(spread rps velocity direct)"
printf '%-40s %6s %s\n' 'velocity/nginx requests/s' "$rps_vn" "$(spread rps velocity nginx)"
printf '%-40s %6s %s\n' 'velocity/nginx p99' "$p99_vn" "$(spread p99 velocity nginx)"
printf '%-40s %6s %s\n' 'velocity/nginx CPU per request' "$(ratio_median cpu velocity nginx)" "$(spread cpu velocity nginx)"
printf '%-40s %6s %s\n' 'nginx-headers/nginx requests/s' "$(ratio_median rps nginx-headers nginx)" "$(spread rps nginx-headers nginx)"
printf '%-40s %6s %s\n' 'velocity/nginx-headers requests/s' "$(ratio_median rps velocity nginx-headers)" "$(spread rps velocity nginx-headers)"
printf '%-40s %6s %s\n' 'velocity/nginx-headers p99' "$(ratio_median p99 velocity nginx-headers)" "$(spread p99 velocity nginx-headers)"
printf '%-40s %6s %s\n' 'velocity/nginx-headers CPU per request' "$(ratio_median cpu velocity nginx-headers)" "$(spread cpu velocity nginx-headers)"
printf '%-40s %6s %s\n' 'velocity-nethttp/nginx requests/s' "$(ratio_median rps velocity-nethttp nginx)" "$(spread rps velocity-nethttp nginx)"
printf '%-40s %6s %s\n' 'velocity-nethttp/nginx p99' "$(ratio_median p99 velocity-nethttp nginx)" "$(spread p99 velocity-nethttp nginx)"
printf '%-40s %6s %s\n' 'velocity-nethttp/nginx CPU per request' "$(ratio_median cpu velocity-nethttp nginx)" "$(spread cpu velocity-nethttp nginx)"
printf '%-40s %6s %s\n' 'velocity/velocity-nethttp requests/s' "$(ratio_median rps velocity velocity-nethttp)" "$(spread rps velocity velocity-nethttp)"
echo
ok=1
if awk -v r="$rps_vn" 'BEGIN { exit !(r >= 1.0) }'; then
	echo "goal velocity requests/s >= 1.0 x nginx: met ($rps_vn)"
else
	echo "goal velocity requests/s >= 1.0 x nginx: NOT met ($rps_vn)"
	ok=0
fi
if awk -v r="$p99_vn" 'BEGIN { exit !(r <= 1.0) }'; then
	echo "goal velocity p99 <= nginx's:           met ($p99_vn)"
else
	echo "goal velocity p99 <= nginx's:           NOT met ($p99_vn)"
	ok=0
fi
if ((failed)); then
	echo "warning: some requests failed (errors column); the run is not valid"
	ok=0
fi
((ok)) || exit 2
