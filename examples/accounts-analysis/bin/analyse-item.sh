#!/bin/sh
# Analyses one work item of one account ($ACCOUNT, $ITEM) and prints the
# result as JSON. Items named flaky-* are busy on the first attempt (the
# definition retries Item.Busy); items named broken-* cannot be analysed.
# With $ANALYSIS_LOG set, it appends when it starts and ends, with its
# execution's ARN, so that tests can check what ran when.
set -eu
log() { [ -z "${ANALYSIS_LOG:-}" ] || echo "$1 $ACCOUNT $ITEM $VELOCITY_EXECUTION_ARN" >> "$ANALYSIS_LOG"; }
log start
sleep "${ANALYSIS_SECONDS:-0.2}"
log end
case $ITEM in
flaky-*)
	if [ "$VELOCITY_ATTEMPT" = 0 ]; then
		echo '{"error": "Item.Busy", "cause": "the item is locked by another job; try again"}'
		exit 1
	fi ;;
broken-*)
	echo "cannot parse $ITEM: unexpected end of file" >&2
	exit 2 ;;
esac
printf '{"item": "%s", "status": "analysed", "size": %d}\n' "$ITEM" "${#ITEM}"
