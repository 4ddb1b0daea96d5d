// Package pods runs service instances on Kubernetes: a runtime.Runtime
// whose instances are Pods, supervised by Velocity as the container
// runtime supervises containers.
//
// Each run of an instance is one Pod (restartPolicy Never): when it ends,
// the runtime records how in words, deletes it and creates the next one
// after the backoff. The environment is in a Secret of the instance
// (referenced by the pod, never written into its spec); the command runs
// through the image's /bin/sh -c; limits are resources.limits. The output
// is read from the pod's log stream and masked before it is kept. Stop
// deletes the pod with the grace period (the kubelet sends SIGTERM, then
// SIGKILL) and waits until it is gone.
//
// The address stays the same across restarts: Addr is a loopback port of
// Velocity's own that relays each connection to the pod running at that
// moment (see forwarder), so Velocity must reach pod IPs, as it does on
// the single node it shares with the cluster. Instances die with
// Velocity's Runtime: Close deletes every object it labelled.
package pods
