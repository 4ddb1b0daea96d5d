#!/usr/bin/env bash
# Engine overhead per action against a plain shell script running the same
# commands, measured in one run on this machine.
#
#   bench/overhead.sh [ROUNDS]      (default 15 rounds; run from the repository root)
#
# (a) 50 no-op actions chained by needs: velocity run vs a script that runs
#     the same 50 commands one after another, each in its own
#     `bash --noprofile --norc -eo pipefail -c` as velocity does.
# (b) 200 independent no-op actions with -j 2 vs the same commands through
#     `xargs -P 2`.
# The journal is on (SQLite in a fresh data directory, as in normal use);
# the project is a git repository, so the workspace copy is included.
# Rounds alternate velocity and the baseline; medians are reported. The
# first row, a single action, is velocity's fixed start-up cost, which the
# per-action figures of (a) and (b) include, spread over their actions.
set -euo pipefail
rounds=${1:-15}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/velocity" "$root/cmd/velocity"
export VELOCITY_HOME=$work/home CI=true

# make_project DIR N CHAIN: a git repository with N no-op actions.
make_project() {
	local dir=$1 n=$2 chain=$3
	mkdir -p "$dir"
	{
		echo "name: $(basename "$dir")"
		echo "stages:"
		echo "  - name: s"
		echo "    actions:"
		for ((i = 0; i < n; i++)); do
			echo "      - name: a$i"
			echo "        run: 'true'"
			if [[ $chain == yes && $i -gt 0 ]]; then echo "        needs: [a$((i - 1))]"; fi
		done
	} >"$dir/velocity.yml"
	git -C "$dir" init -q
	git -C "$dir" -c user.name=bench -c user.email=bench@example.com add -A
	git -C "$dir" -c user.name=bench -c user.email=bench@example.com commit -qm bench
}

now() { date +%s%N; }

# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# measure NAME N VELOCITY_ARGS... -- BASELINE_COMMAND
measure() {
	local name=$1 n=$2 dir=$3 jobs=$4 baseline=$5
	local v=() b=()
	"$work/velocity" run -C "$dir" -j "$jobs" --progress plain >/dev/null # warm-up
	bash -c "$baseline"
	for ((r = 0; r < rounds; r++)); do
		local t0 t1 t2
		t0=$(now)
		"$work/velocity" run -C "$dir" -j "$jobs" --progress plain >/dev/null
		t1=$(now)
		bash -c "$baseline"
		t2=$(now)
		v+=($(((t1 - t0) / 1000)))
		b+=($(((t2 - t1) / 1000)))
	done
	local vm bm
	vm=$(printf '%s\n' "${v[@]}" | median)
	bm=$(printf '%s\n' "${b[@]}" | median)
	awk -v name="$name" -v n="$n" -v vm="$vm" -v bm="$bm" 'BEGIN {
		printf "%-40s velocity %8.1f ms   script %8.1f ms   ratio %.2f   overhead %.3f ms/action\n",
			name, vm / 1000, bm / 1000, vm / bm, (vm - bm) / 1000 / n
	}'
}

make_project "$work/one" 1 no
make_project "$work/chain" 50 yes
make_project "$work/wide" 200 no

one_script='bash --noprofile --norc -eo pipefail -c true'
chain_script='for i in $(seq 50); do bash --noprofile --norc -eo pipefail -c true; done'
wide_script='seq 200 | xargs -P 2 -I{} bash --noprofile --norc -eo pipefail -c true'

echo "velocity engine overhead, $rounds rounds, $(nproc) CPUs, medians of whole 'velocity run' commands"
echo "(start-up, workspace copy, journal, every action; overhead = (velocity - script) / actions)"
measure "start-up: 1 action" 1 "$work/one" 2 "$one_script"
measure "(a) 50 actions chained by needs" 50 "$work/chain" 2 "$chain_script"
measure "(b) 200 independent actions, -j 2" 200 "$work/wide" 2 "$wide_script"
