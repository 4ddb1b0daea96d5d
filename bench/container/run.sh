#!/usr/bin/env bash
# Overhead of a no-op action in a container: `velocity run --no-cache` of
# N no-op actions running in an image, chained by needs, against the same
# N `docker run --rm IMAGE true` one after another in a plain shell loop.
#
#   bench/container/run.sh [N] [ROUNDS]   (default 20 actions, 5 rounds;
#                                          run from the repository root)
#
# Both sides pay for a container per action (create, attach, start, wait,
# remove) on the same engine and image; velocity also pays its start-up,
# the workspace copy, the journal, the run's network, the log files and
# its init script in each container. Every round runs both back to back,
# alternating which goes first; reported are the medians of the wall
# times, per action, and their ratio (the goal is at most 1.2).
set -euo pipefail
n=${1:-20}
rounds=${2:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/velocity" "$root/cmd/velocity"
image=$(cd "$root" && go run ./bench/container/image)
export VELOCITY_HOME=$work/home CI=true

dir=$work/project
mkdir -p "$dir"
{
	echo "name: container-bench"
	echo "image: $image"
	echo "stages:"
	echo "  - name: s"
	echo "    actions:"
	for ((i = 0; i < n; i++)); do
		echo "      - name: a$i"
		echo "        run: 'true'"
		if ((i > 0)); then echo "        needs: [a$((i - 1))]"; fi
	done
} >"$dir/velocity.yml"
git -C "$dir" init -q
git -C "$dir" -c user.name=bench -c user.email=bench@example.com add -A
git -C "$dir" -c user.name=bench -c user.email=bench@example.com commit -qm bench

velocity() { "$work/velocity" run -C "$dir" --no-cache --progress plain >/dev/null; }
loop() { for ((i = 0; i < n; i++)); do docker run --rm "$image" true; done; }

# seconds CMD: wall time of CMD in seconds
seconds() {
	local TIMEFORMAT='%3R'
	{ time "$@" >/dev/null; } 2>&1
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

velocity # warm-up: the data directory, the image
loop >/dev/null
: >"$work/v" && : >"$work/d"
for ((r = 0; r < rounds; r++)); do
	if ((r % 2)); then
		seconds loop >>"$work/d"
		seconds velocity >>"$work/v"
	else
		seconds velocity >>"$work/v"
		seconds loop >>"$work/d"
	fi
done
v=$(median <"$work/v")
d=$(median <"$work/d")
left=$(docker ps -aq --filter label=io.velocity.owner | wc -l)
awk -v image="$image" -v v="$v" -v d="$d" -v n="$n" -v r="$rounds" -v left="$left" 'BEGIN {
	printf "%d no-op actions in %s, median of %d rounds\n", n, image, r
	printf "  velocity run --no-cache  %7.3f s  %6.1f ms/action\n", v, v * 1000 / n
	printf "  docker run --rm loop     %7.3f s  %6.1f ms/action\n", d, d * 1000 / n
	printf "  ratio                    %7.2f\n", v / d
	printf "  containers left with io.velocity.owner: %d\n", left
}'
