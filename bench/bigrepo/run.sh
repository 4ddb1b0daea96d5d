#!/usr/bin/env bash
# A run of a large repository costs what changed, not what the repository
# holds: velocity run on the Go toolchain's own source tree
# ($(go env GOROOT)/src, ~11k files, ~160 MB, available offline) committed
# as a project with one trivial action that keys on the whole snapshot.
#
#   bench/bigrepo/run.sh [UNCHANGED]     (default 10 unchanged runs; run from the repository root)
#
# Reports, in one run on this machine: `git status --short` (the yardstick,
# timed before every run, as the median of those; the ratios use it), the
# first run, each unchanged run (to show there is no growth), three runs
# each after one file changed and was committed, and with one uncommitted
# change, and for each run the bytes it made the kernel write (write_bytes of
# /proc/self/io, counted for velocity and the git processes it starts).
# Set BIGREPO_TREE to use another tree, BIGREPO_KEEP=1 to keep the files,
# VELOCITY_BIN to time a velocity binary built elsewhere (an older commit).
set -euo pipefail
unchanged=${1:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
tree=${BIGREPO_TREE:-$(go env GOROOT)/src}
work=$(mktemp -d)
[[ ${BIGREPO_KEEP:-} == 1 ]] || trap 'rm -rf "$work"' EXIT
if [[ -n ${VELOCITY_BIN:-} ]]; then
	cp "$VELOCITY_BIN" "$work/velocity"
else
	go build -o "$work/velocity" "$root/cmd/velocity"
fi
export VELOCITY_HOME=$work/home CI=true
gitc() { git -C "$proj" -c user.name=bench -c user.email=bench@example.com "$@"; }

proj=$work/bigrepo
cp -r "$tree" "$proj"
cat >"$proj/velocity.yml" <<'YML'
name: bigrepo
stages:
  - name: check
    actions:
      - name: noop
        run: 'true'
YML
git -C "$proj" init -q
git -C "$proj" config gc.auto 0 # no background gc racing the clean-up
gitc add -A
gitc commit -qm bench
files=$(git -C "$proj" ls-files | wc -l)
size=$(du -sh --exclude=.git "$proj" | cut -f1)

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) / 1e6 }'; }
now() { date +%s%N; }

# timed CMD...: runs CMD in a shell that reports, after it, the bytes its
# waited-for children wrote; prints "<ms> <bytes>".
timed() {
	local t0 t1 wb
	t0=$(now)
	wb=$(bash -c '"$@" >/dev/null; grep ^write_bytes /proc/$$/io | cut -d" " -f2' _ "$@")
	t1=$(now)
	echo "$(ms "$t0" "$t1") $wb"
}

# gitstatus: times `git status --short` once, in ms, and keeps the sample.
statuses=()
gitstatus() {
	local t0 t1
	t0=$(now)
	git -C "$proj" status --short >/dev/null
	t1=$(now)
	statuses+=("$(ms "$t0" "$t1")")
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
gitstatus
gitstatus
gitstatus
run() { timed "$work/velocity" run -C "$proj"; }
rows=()
row() { # label "<ms> <bytes>"
	gitstatus
	rows+=("$1|$2")
}

row "first run" "$(run)"
for ((i = 1; i <= unchanged; i++)); do
	row "unchanged run $i" "$(run)"
done
# Three times each (another file every time), as single runs are noisy.
mapfile -t picks < <(git -C "$proj" ls-files | awk -v n="$files" 'NR % int(n / 7) == 1' | head -6)
for f in "${picks[@]:0:3}"; do
	echo "// changed" >>"$proj/$f"
	gitc commit -qam "one file changed"
	row "one file changed and committed" "$(run)"
	row "unchanged again" "$(run)"
done
for f in "${picks[@]:3:3}"; do
	echo "// uncommitted" >>"$proj/$f"
	row "one uncommitted change" "$(run)"
	row "unchanged again" "$(run)"
done

status=$(printf '%s\n' "${statuses[@]}" | median)
((status > 0)) || status=1
echo "bigrepo: $files files, $size, from $tree"
printf "%-34s %8d ms  (median of %d, min %d, max %d)\n" "git status --short" "$status" "${#statuses[@]}" \
	"$(printf '%s\n' "${statuses[@]}" | sort -n | head -1)" "$(printf '%s\n' "${statuses[@]}" | sort -n | tail -1)"
times=() changes=()
for r in "${rows[@]}"; do
	label=${r%%|*}
	set -- ${r#*|}
	awk -v l="$label" -v t="$1" -v b="$2" -v s="$status" 'BEGIN {
		printf "%-34s %8d ms  %6.1fx git status  %10.1f KB written\n", l, t, t / s, b / 1024 }'
	[[ $label == "unchanged run "* ]] && times+=("$1")
	[[ $label == "one file changed and committed" ]] && changes+=("$1")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v s="$status" '{a[NR]=$1} END {
	m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
	printf "%-34s %8d ms  %6.1fx git status  (min %d, max %d)\n", "unchanged runs, median", m, m / s, a[1], a[NR] }'
m=$(printf '%s\n' "${times[@]}" | median)
c=$(printf '%s\n' "${changes[@]}" | median)
half=$((${#times[@]} / 2))
early=$(printf '%s\n' "${times[@]:0:half}" | sort -n | head -1)
late=$(printf '%s\n' "${times[@]:half}" | sort -n | head -1)
awk -v m="$m" -v s="$status" -v c="$c" -v early="$early" -v late="$late" 'BEGIN {
	printf "goals: unchanged <= 10x git status: %.1fx; one file changed (median of 3) <= 2x unchanged: %.2fx;\n", m / s, c / m
	printf "       growth (fastest of the later unchanged runs / fastest of the earlier): %.2fx\n", late / early }'
