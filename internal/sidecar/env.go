package sidecar

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// host is where sidecars listen: loopback only, so that a run never
// exposes a database to the network.
const host = "127.0.0.1"

// envName turns a sidecar name into the prefix of its variables: upper
// case, and "_" for anything a shell variable name cannot hold.
func envName(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// sidecarEnv builds a sidecar's environment: base, then its own variables,
// then PORT and VELOCITY_SIDECAR_DIR. Later entries replace earlier ones of
// the same name here rather than relying on the executor to pick one, and
// PORT comes last because readiness and the action depend on it.
func sidecarEnv(base []string, own map[string]string, port int, dir string) []string {
	var env []string
	index := map[string]int{}
	set := func(kv string) {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := index[name]; ok {
			env[i] = kv
			return
		}
		index[name] = len(env)
		env = append(env, kv)
	}
	for _, kv := range base {
		set(kv)
	}
	for _, k := range slices.Sorted(maps.Keys(own)) {
		set(k + "=" + own[k])
	}
	set("PORT=" + strconv.Itoa(port))
	set("VELOCITY_SIDECAR_DIR=" + dir)
	return env
}
