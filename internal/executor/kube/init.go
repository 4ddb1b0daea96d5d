package kube

// initScript is the first process of every step's container, run by
// /bin/sh with the arguments command builds:
//
//	NAME... -- script SCRIPT
//	NAME... -- command PROGRAM ARG...
//
// The NAMEs are the variables of Step.Env. Kubernetes and the image add
// others (HOSTNAME, KUBERNETES_SERVICE_HOST, the image's ENV), which the
// executor cannot list before the container runs, so the script unsets
// every variable of its environment that is not a NAME, except PATH and
// HOME (a program in an image finds neither its tools nor its files
// without them; the step's own replace them when it sets them). It needs
// env(1), which every image with a shell has.
//
// It then sends stderr to stdout (one stream keeps the order in which the
// step wrote the two), and starts the step: a script with bash
// -eo pipefail when the image has bash, else sh -e; a command as it is,
// without a shell reading it (a missing program exits 127). As PID 1 it
// would not be killed by a SIGTERM it does not handle, so it traps it and
// sends it on to every other process of the container (kill -1): the step
// and whatever it started. When it exits the kernel kills every process
// left in the container's PID namespace, so nothing outlives the step.
const initScript = clearEnvScript + startScript

// clearEnvScript is the part of initScript that unsets what is not the
// step's; a sidecar's script keeps its image's environment and skips it.
const clearEnvScript = `_velocity_keep=" PATH HOME "
while [ "$1" != -- ]; do _velocity_keep="$_velocity_keep$1 "; shift; done; shift
_velocity_vars=$(env)
IFS='
'
for _velocity_l in $_velocity_vars; do
	_velocity_n=${_velocity_l%%=*}
	case $_velocity_n in ''|*[!A-Za-z0-9_]*) continue ;; esac
	case $_velocity_keep in *" $_velocity_n "*) ;; *) unset "$_velocity_n" 2>/dev/null ;; esac
done
unset IFS _velocity_vars _velocity_l _velocity_n _velocity_keep
`

// startScript starts the script or command of its arguments and passes
// SIGTERM on, as initScript says.
const startScript = `exec 2>&1
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

// command is the container's command line for a step.
func command(script string, argv []string, names []string) []string {
	cmd := append([]string{"/bin/sh", "-c", initScript, "velocity-init"}, names...)
	cmd = append(cmd, "--")
	if argv != nil {
		return append(append(cmd, "command"), argv...)
	}
	return append(cmd, "script", script)
}

// sidecarCommand is the container's command line for a sidecar's script:
// started like a step's, in the image's environment.
func sidecarCommand(script string) []string {
	return []string{"/bin/sh", "-c", startScript, "velocity-sidecar", "script", script}
}
