#!/usr/bin/env bash
# Engine overhead per action against a plain shell script running the same
# commands, measured in one run on this machine.
#
#   bench/overhead.sh [ROUNDS]      (default 15 rounds; run from the repository root)
#
# VELOCITY=path/to/velocity measures that binary instead of one built from
# this tree (to compare two versions on the same machine). VELOCITY_OLD=
# path/to/velocity also runs that binary, executed, in every round (with
# its own data directory), and reports the median of the per-round
# differences new - old: on a busy machine, the figure to compare two
# versions by, as both see the same load.
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
# (velocity - script) / actions: the overhead per action, in wall time
# and in CPU time (user + system of the command and all its children,
# the shells included). On a machine shared with other work, wall time
# follows the load; CPU time much less. The first
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
old=""
if [[ -n ${VELOCITY_OLD:-} ]]; then
	cp "$VELOCITY_OLD" "$work/velocity-old"
	old=$work/velocity-old
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

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# timed CMD...: runs CMD, prints its wall time and the CPU time (user +
# system) of it and its children, in microseconds.
timed() {
	local TIMEFORMAT='%3R %3U %3S' t
	t=$({ time "$@" >/dev/null; } 2>&1)
	awk -v t="$t" 'BEGIN { split(t, f, " "); printf "%d %d\n", f[1] * 1e6, (f[2] + f[3]) * 1e6 }'
}

# measure NAME N DIR JOBS BASELINE
measure() {
	local name=$1 n=$2 dir=$3 jobs=$4 baseline=$5
	local vel=("$work/velocity" run -C "$dir" -j "$jobs" --progress plain)
	local prev=("$old" run -C "$dir" -j "$jobs" --progress plain)
	# warm-up; the second run fills the cache (--no-cache stores no result)
	"${vel[@]}" --no-cache >/dev/null
	"${vel[@]}" >/dev/null
	if [[ -n $old ]]; then VELOCITY_HOME=$work/home-old "${prev[@]}" --no-cache >/dev/null; fi
	bash -c "$baseline"
	# item K: the timing of executed (e), script (s), cached (c) or the
	# old binary executed (o)
	item() {
		case $1 in
		e) timed "${vel[@]}" --no-cache ;;
		s) timed bash -c "$baseline" ;;
		c) timed "${vel[@]}" ;;
		o) VELOCITY_HOME=$work/home-old timed "${prev[@]}" --no-cache ;;
		esac
	}
	local items=(e s c)
	if [[ -n $old ]]; then items+=(o); fi
	# one line per round: executed, script, cached (and old), wall and
	# CPU each, run in an order that rotates
	local rows=()
	for ((r = 0; r < rounds; r++)); do
		local -A t=([o]="0 0")
		local k
		for ((k = 0; k < ${#items[@]}; k++)); do
			local i=${items[$(((k + r) % ${#items[@]}))]}
			t[$i]=$(item "$i")
		done
		rows+=("${t[e]} ${t[s]} ${t[c]} ${t[o]}")
	done
	# column: the median of field k of the rows, or of field k minus field j
	col() { printf '%s\n' "${rows[@]}" | awk -v k="$1" -v j="${2:-0}" '{print $k - (j ? $j : 0)}' | median; }
	# fields: 1 2 executed wall, CPU; 3 4 script; 5 6 cached; 7 8 old
	awk -v name="$name" -v n="$n" \
		-v ew="$(col 1)" -v sw="$(col 3)" -v cw="$(col 5)" -v sc="$(col 4)" \
		-v dew="$(col 1 3)" -v dec="$(col 2 4)" -v dcw="$(col 5 3)" -v dcc="$(col 6 4)" 'BEGIN {
		printf "%s (script %.1f ms, %.1f ms CPU)\n", name, sw / 1000, sc / 1000
		printf "  executed (--no-cache)  velocity %8.1f ms  ratio %5.2f  overhead %6.3f ms/action, CPU %6.3f ms/action\n",
			ew / 1000, ew / sw, dew / 1000 / n, dec / 1000 / n
		printf "  cached                 velocity %8.1f ms  ratio %5.2f  overhead %6.3f ms/action, CPU %6.3f ms/action\n",
			cw / 1000, cw / sw, dcw / 1000 / n, dcc / 1000 / n
	}'
	if [[ -n $old ]]; then
		awk -v n="$n" -v ow="$(col 7)" -v sw="$(col 3)" -v dow="$(col 7 3)" -v doc="$(col 8 4)" \
			-v dnw="$(col 1 7)" -v dnc="$(col 2 8)" 'BEGIN {
			printf "  executed, old binary   velocity %8.1f ms  ratio %5.2f  overhead %6.3f ms/action, CPU %6.3f ms/action\n",
				ow / 1000, ow / sw, dow / 1000 / n, doc / 1000 / n
			printf "  new - old, executed    per round: wall %6.3f ms/action, CPU %6.3f ms/action\n",
				dnw / 1000 / n, dnc / 1000 / n
		}'
	fi
}

make_project "$work/one" 1 no
make_project "$work/chain" 50 yes
make_project "$work/wide" 200 no

one_script='bash --noprofile --norc -eo pipefail -c true'
chain_script='for i in $(seq 50); do bash --noprofile --norc -eo pipefail -c true; done'
wide_script='seq 200 | xargs -P 2 -I{} bash --noprofile --norc -eo pipefail -c true'

echo "velocity engine overhead, $rounds rounds, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "medians of whole 'velocity run' commands (start-up, workspace copy, journal, every action);"
echo "overhead = median over rounds of (velocity - script) / actions, in wall time and in CPU time"
echo "(user + system of the command and its children: the figure to trust when the machine is shared)"
measure "start-up: 1 action" 1 "$work/one" 2 "$one_script"
measure "(a) 50 actions chained by needs" 50 "$work/chain" 2 "$chain_script"
measure "(b) 200 independent actions, -j 2" 200 "$work/wide" 2 "$wide_script"
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
