package docker

import (
	"slices"
	"strings"
)

// initScript is the first process of every step's container, run by
// /bin/sh with the arguments that command builds:
//
//	NAME... -- script SCRIPT
//	NAME... -- command PROGRAM ARG...
//
// It unsets the NAMEs (what the image and the engine put in the
// environment that the step did not ask for), sends stderr to stdout (one
// pipe keeps the order in which the step wrote the two, which separate
// pipes read by the engine would not), and starts the step: a script with
// bash -eo pipefail when the image has bash, else sh -e; a command as it
// is, without a shell reading it (a missing program exits 127). As PID 1
// it would not be killed by a SIGTERM it does not handle, so it traps it
// and sends it on to every other process of the container (kill -1): the
// step and whatever it started, as the local executor signals the whole
// process group. It exits with the step's status; the engine then kills
// what remains in the container. Its own messages ("Terminated" when the
// step dies of the signal) go nowhere: the step's output is the step's.
const initScript = `while [ "$1" != -- ]; do unset "$1" 2>/dev/null; shift; done; shift
exec 2>&1
if [ "$1" = script ]; then
	if command -v bash >/dev/null 2>&1; then set -- bash --noprofile --norc -eo pipefail -c "$2"
	else set -- sh -e -c "$2"; fi
else shift; fi
trap 'kill -TERM -1 2>/dev/null' TERM INT
"$@" &
c=$!
exec 2>/dev/null
while :; do wait "$c"; s=$?; kill -0 "$c" 2>/dev/null || exit "$s"; done
`

// engineEnv are the variables the engine adds to every container.
var engineEnv = []string{"HOSTNAME"}

// command is the container's command line for a step with environment
// env in an image whose config sets imageEnv.
func command(script string, argv []string, env, imageEnv []string) []string {
	set := map[string]bool{}
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		set[name] = true
	}
	cmd := []string{"/bin/sh", "-c", initScript, "velocity-init"}
	for _, name := range slices.Concat(imageEnv, engineEnv) {
		// PATH and HOME stay when the step sets none: without them a
		// program in the image finds neither its tools nor its files.
		if set[name] || name == "PATH" || name == "HOME" {
			continue
		}
		set[name] = true
		cmd = append(cmd, name)
	}
	cmd = append(cmd, "--")
	if argv != nil {
		return append(append(cmd, "command"), argv...)
	}
	return append(cmd, "script", script)
}
