#!/usr/bin/env bash
# Engine overhead per action against a plain shell script running the same
# commands, measured in one run on this machine.
#
#   bench/overhead.sh [ROUNDS]      (default 15 rounds; run from the repository root)
#
# VELOCITY=path/to/velocity measures that binary instead of one built from
# this tree (to compare two versions on the same machine).
#
# (a) 50 no-op actions chained by needs: velocity run vs a script that runs
#     the same 50 commands one after another, each in its own
#     `bash --noprofile --norc -eo pipefail -c` as velocity does.
# (b) 200 independent no-op actions with -j 2 vs the same commands through
#     `xargs -P 2`.
# Each scenario gives two figures:
#   executed  `velocity run --no-cache`: every action runs its command
#             (journal, log file, process, outputs) — the path a changed
#             commit takes;
#   cached    `velocity run` after a first run: every action's result
#             comes from the cache and no command runs.
# The journal is on (SQLite in a fresh data directory, as in normal use);
# the project is a git repository, so the workspace copy is included.
# Every round runs executed, script and cached back to back (the order
# rotates between rounds), so all three see the same load. Reported are
# the medians of each and the median of the per-round differences
# (velocity - script) / actions: the overhead per action. The first
# scenario, a single action, is velocity's fixed start-up cost, which the
# per-action figures include, spread over their actions.
set -euo pipefail
rounds=${1:-15}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -n ${VELOCITY:-} ]]; then
	cp "$VELOCITY" "$work/velocity"
else
	go build -o "$work/velocity" "$root/cmd/velocity"
fi
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
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# timed CMD...: runs CMD, prints its wall time in microseconds.
timed() {
	local t0 t1
	t0=$(now)
	"$@" >/dev/null
	t1=$(now)
	echo $(((t1 - t0) / 1000))
}

# measure NAME N DIR JOBS BASELINE
measure() {
	local name=$1 n=$2 dir=$3 jobs=$4 baseline=$5
	local ex=() ca=() sc=() dex=() dca=()
	local vel=("$work/velocity" run -C "$dir" -j "$jobs" --progress plain)
	"${vel[@]}" --no-cache >/dev/null # warm-up, and fills the cache
	bash -c "$baseline"
	for ((r = 0; r < rounds; r++)); do
		local e c s
		case $((r % 3)) in
		0) e=$(timed "${vel[@]}" --no-cache); s=$(timed bash -c "$baseline"); c=$(timed "${vel[@]}") ;;
		1) s=$(timed bash -c "$baseline"); c=$(timed "${vel[@]}"); e=$(timed "${vel[@]}" --no-cache) ;;
		2) c=$(timed "${vel[@]}"); e=$(timed "${vel[@]}" --no-cache); s=$(timed bash -c "$baseline") ;;
		esac
		ex+=("$e") ca+=("$c") sc+=("$s")
		dex+=("$(((e - s)))") dca+=("$(((c - s)))")
	done
	local em cm sm dem dcm
	em=$(printf '%s\n' "${ex[@]}" | median)
	cm=$(printf '%s\n' "${ca[@]}" | median)
	sm=$(printf '%s\n' "${sc[@]}" | median)
	dem=$(printf '%s\n' "${dex[@]}" | median)
	dcm=$(printf '%s\n' "${dca[@]}" | median)
	awk -v name="$name" -v n="$n" -v em="$em" -v cm="$cm" -v sm="$sm" -v dem="$dem" -v dcm="$dcm" 'BEGIN {
		printf "%s (script %.1f ms)\n", name, sm / 1000
		printf "  executed (--no-cache)  velocity %8.1f ms   ratio %5.2f   overhead %6.3f ms/action\n",
			em / 1000, em / sm, dem / 1000 / n
		printf "  cached                 velocity %8.1f ms   ratio %5.2f   overhead %6.3f ms/action\n",
			cm / 1000, cm / sm, dcm / 1000 / n
	}'
}

make_project "$work/one" 1 no
make_project "$work/chain" 50 yes
make_project "$work/wide" 200 no

one_script='bash --noprofile --norc -eo pipefail -c true'
chain_script='for i in $(seq 50); do bash --noprofile --norc -eo pipefail -c true; done'
wide_script='seq 200 | xargs -P 2 -I{} bash --noprofile --norc -eo pipefail -c true'

echo "velocity engine overhead, $rounds rounds, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "medians of whole 'velocity run' commands (start-up, workspace copy, journal, every action);"
echo "overhead = median over rounds of (velocity - script) / actions"
measure "start-up: 1 action" 1 "$work/one" 2 "$one_script"
measure "(a) 50 actions chained by needs" 50 "$work/chain" 2 "$chain_script"
measure "(b) 200 independent actions, -j 2" 200 "$work/wide" 2 "$wide_script"
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
