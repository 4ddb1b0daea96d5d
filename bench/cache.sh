#!/usr/bin/env bash
# Result cache: examples/hello's first run against its second run with
# nothing changed (every action cached), in one script.
#
#   bench/cache.sh [ROUNDS]      (default 5; run from the repository root)
#
# Each round uses a fresh data directory and a fresh git copy of the
# example, so the first run really executes (the Go build cache of $HOME is
# shared, as it is for a developer). Medians are reported.
set -euo pipefail
rounds=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/velocity" "$root/cmd/velocity"
export CI=true

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

first=() second=() third=()
for ((r = 0; r < rounds; r++)); do
	proj=$work/hello-$r
	cp -r "$root/examples/hello" "$proj"
	rm -rf "$proj/dist"
	git -C "$proj" init -q
	git -C "$proj" -c user.name=bench -c user.email=bench@example.com add -A
	git -C "$proj" -c user.name=bench -c user.email=bench@example.com commit -qm bench
	export VELOCITY_HOME=$work/home-$r
	t0=$(now)
	"$work/velocity" run -C "$proj" >/dev/null
	t1=$(now)
	"$work/velocity" run -C "$proj" >"$work/second.out"
	t2=$(now)
	if grep -q "^==> .* succeeded in" "$work/second.out"; then
		echo "second run executed an action:" >&2
		cat "$work/second.out" >&2
		exit 1
	fi
	first+=($(((t1 - t0) / 1000)))
	second+=($(((t2 - t1) / 1000)))
done
f=$(printf '%s\n' "${first[@]}" | median)
s=$(printf '%s\n' "${second[@]}" | median)
awk -v f="$f" -v s="$s" -v n="$rounds" 'BEGIN {
	printf "examples/hello, %d rounds, medians\n", n
	printf "first run (executes test, vet, package, smoke)   %8.1f ms\n", f / 1000
	printf "second run, nothing changed (all cached)         %8.1f ms   ratio %.3f   goal <= 300 ms\n", s / 1000, s / f
}'
