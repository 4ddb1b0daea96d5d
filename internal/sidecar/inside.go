package sidecar

import (
	"fmt"
	"net"
	"strconv"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/spec"
)

// Inside turns an action's sidecars into sidecars its step runs inside
// it (executor.Capabilities.Sidecars: the containers of the action's
// pod), and returns with them the variables that tell the action where
// they listen: NAME_HOST is the sidecar's name, which resolves in the
// step as it does on the Docker executor's network, NAME_PORT its port.
// The defaults of readiness are the ones Start applies. A sidecar without
// an image runs on Velocity's host, which the step cannot be relied on
// to reach: it is refused.
func Inside(sidecars []spec.Sidecar) ([]executor.Sidecar, []string, error) {
	if err := checkNames(sidecars); err != nil {
		return nil, nil, err
	}
	var out []executor.Sidecar
	var env []string
	for _, sc := range sidecars {
		if sc.Image == "" {
			return nil, nil, fmt.Errorf("sidecar %q runs on Velocity's host, which the action's pod cannot reach: give the sidecar an image", sc.Name)
		}
		timeout, interval := sc.Ready.Timeout, sc.Ready.Interval
		if timeout <= 0 {
			timeout = defaultReadyTimeout
		}
		if interval <= 0 {
			interval = defaultReadyInterval
		}
		out = append(out, executor.Sidecar{
			Name:          sc.Name,
			Image:         sc.Image,
			Script:        sc.Run,
			Env:           containerEnv(sc.Env, sc.Port),
			Port:          sc.Port,
			Ready:         sc.Ready.Run,
			ReadyTimeout:  timeout,
			ReadyInterval: interval,
		})
		port := strconv.Itoa(sc.Port)
		prefix := envName(sc.Name)
		env = append(env,
			prefix+"_HOST="+sc.Name,
			prefix+"_PORT="+port,
			prefix+"_ADDR="+net.JoinHostPort(sc.Name, port),
		)
	}
	return out, env, nil
}
