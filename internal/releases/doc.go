// Package releases is the application service of deploys: it deploys a
// release of a service to an environment, rolls back, lists releases,
// says what serves and finds the instances' logs. It knows no terminal
// and no HTTP: `velocity serve`, `velocity run` and the control API of
// internal/server are adapters over it.
//
// Every deploy is written to the deployment journal (store.Deployments)
// before it is carried out; Recover reads the journal when a host starts,
// brings back what was live and marks what was in progress interrupted.
//
// Host is the one place the parts that run services are put together:
// the runtime, the proxy in front of the instances and the deployer's
// rollouts. A data directory has at most one host at a time (a lock
// file); whoever else deploys does it through that host's control socket.
package releases
