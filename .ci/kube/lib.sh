# Shared by the test cluster's scripts: where things are and how the
# cluster's processes are started, watched and stopped.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/versions"
cache=${VELOCITY_KUBE_CACHE:-$HOME/.cache/velocity/kube}
dir=$cache/v$KUBE_VERSION
bin=$dir/bin
state=${VELOCITY_KUBE_STATE:-/tmp/velocity-kube}
pki=$state/pki
logs=$state/log
run=$state/run
kubeconfig=$state/admin.kubeconfig

# Addresses and names. Ports sit away from the usual ones so the cluster
# does not meet another Kubernetes or etcd on the same machine.
node=velocity-kube-node
apiserver_port=16443
etcd_client_port=23790
etcd_peer_port=23800
etcd_client=http://127.0.0.1:$etcd_client_port
etcd_peer=http://127.0.0.1:$etcd_peer_port
# The kubelet's and kube-proxy's ports are in kubelet.yaml and
# kube-proxy.yaml.
kubelet_ports=(20250 20248)
kube_proxy_ports=(20256 20249)
service_cidr=10.96.0.0/16
service_ip=10.96.0.1
pod_cidr=10.244.0.0/24
cni_bridge=velkube0
containerd_sock=$state/containerd/containerd.sock
# Tests run pods of it (internal/kubetest.PauseImage): keep the two equal.
pause_image=docker.io/velocity-kube/pause:1

PATH=$bin:$PATH

die() {
	echo "kube: $*" >&2
	exit 1
}

pid_of() {
	[[ -f $run/$1.pid ]] && cat "$run/$1.pid"
}

running() {
	local pid
	pid=$(pid_of "$1") || return 1
	kill -0 "$pid" 2>/dev/null
}

# start NAME PROGRAM ARGS...: runs PROGRAM in its own session (it outlives
# the script), logging to $logs/NAME.log, unless NAME already runs.
start() {
	local name=$1
	shift
	running "$name" && return 0
	mkdir -p "$logs" "$run"
	setsid "$@" >>"$logs/$name.log" 2>&1 </dev/null &
	echo $! >"$run/$name.pid"
}

# ports_free NAME PORT...: fails when NAME does not run and another
# program listens on one of its ports (its health check would otherwise
# ask that program and be fooled).
ports_free() {
	local name=$1 port
	shift
	running "$name" && return 0
	for port in "$@"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			die "port $port, which $name needs, is taken by another program (ss -ltnp 'sport = :$port')"
		fi
	done
}

# await NAME SECONDS WHAT CMD...: waits until CMD succeeds; fails with the
# tail of NAME's log when NAME exits or SECONDS pass first.
await() {
	local name=$1 secs=$2 what=$3
	shift 3
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ! running "$name"; then
			echo "kube: $name exited before $what; last lines of $logs/$name.log:" >&2
			tail -25 "$logs/$name.log" >&2
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			echo "kube: $what not within ${secs}s; last lines of $logs/$name.log:" >&2
			tail -25 "$logs/$name.log" >&2
			exit 1
		fi
		sleep 0.2
	done
}

# stop NAME...: SIGTERM to all at once (each takes a second or two to
# shut down), then SIGKILL to those left after 10 s.
stop() {
	local name pids=()
	for name in "$@"; do
		pids+=($(pid_of "$name")) || true
		rm -f "$run/$name.pid"
	done
	((${#pids[@]})) || return 0
	kill "${pids[@]}" 2>/dev/null
	local pid alive
	for _ in $(seq 1 50); do
		alive=()
		for pid in "${pids[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive+=("$pid")
		done
		((${#alive[@]})) || return 0
		sleep 0.2
	done
	kill -9 "${alive[@]}" 2>/dev/null || true
}

ctr_k8s() {
	ctr -a "$containerd_sock" -n k8s.io "$@"
}
