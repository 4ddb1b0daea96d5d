#!/bin/sh
# One item in on stdin as JSON ({"name":"alpha"}), its result out on
# stdout. The item named "flaky" is busy the first time (VELOCITY_ATTEMPT
# is the retry count), which the state's Retry handles for it alone.
name=$(sed 's/.*"name":"\([^"]*\)".*/\1/')
if [ "$name" = flaky ] && [ "${VELOCITY_ATTEMPT:-0}" = 0 ]; then
  echo '{"error":"Item.Busy","cause":"try again"}'
  exit 1
fi
echo "{\"name\":\"$name\",\"done\":true}"
