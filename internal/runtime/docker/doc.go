// Package containers is the runtime that runs a service's instances as
// Docker containers of Spec.Image, through the Engine API (internal/docker
// connects to it). It meets the same contract as the process runtime
// (runtime.Runtime, conformance suite runtimetest), so deploy, the proxy's
// health checks and every rollout strategy treat both alike.
//
//   - One container per instance, named after the instance ID and created
//     from Spec.Image with exactly Spec.Env, plus PORT (the port the
//     program listens on inside the container: Spec.Port, else 8080) and
//     VELOCITY_INSTANCE. Spec.Command, when set, is run by the image's
//     /bin/sh -c (so the image needs a shell, and the command should exec
//     the server so that SIGTERM reaches it); without it the image's own
//     entrypoint and command run. Spec.Dir is not used: the image is the
//     release.
//   - Addr is 127.0.0.1:HOSTPORT, a loopback port published to the
//     container's PORT. A container's own IP would spare the engine's
//     userland proxy, but the engine hands out bridge addresses in turn, so
//     a restarted container comes back at another IP; the published port
//     keeps the address of an instance fixed across restarts, as the
//     contract wants, and works wherever the engine runs on this host.
//   - Supervision is Velocity's, not the engine's (restart policy "no"):
//     when the container exits, Exits counts it ("exited with code 3",
//     "was killed by SIGKILL", or killed for exceeding its memory limit),
//     and after the backoff the same container is started again, keeping
//     its port binding. A container's processes all end with it, so a
//     restart never finds leftovers.
//   - Output is read from the engine's log of the container (json-file,
//     capped at 10 MiB), masked with package secret's Masker and kept like
//     the process runtime's (runtime.Log: the file in Spec.LogDir that
//     `velocity service logs` reads, LastLines, Logs).
//   - Stop sends SIGTERM, waits up to StopGrace, sends SIGKILL, and
//     removes the container.
//   - Memory and CPU limits are the engine's (HostConfig memory and
//     NanoCPUs, enforced with cgroup v1 or v2 alike).
//
// Containers are labelled with their instance, service, environment and
// release, with Config.Owner (the data directory) and with the pid of the
// Velocity that started them. Like host processes they do not outlive
// Velocity on purpose: Close stops them, and when Velocity was killed
// before it could, the next New for the same Owner removes the containers
// whose Velocity is gone. They are removed, not adopted: a new Velocity
// deploys what its journal says is live, on fresh instances.
package containers
