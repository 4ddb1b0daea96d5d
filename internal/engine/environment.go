package engine

import (
	"sort"
	"strings"
)

// HostAllowlist names the host variables every action gets. Everything
// else from the host is left out so that a run does not depend on what
// happens to be set in one developer's shell; env_passthrough adds more.
// Names ending in "*" are prefixes.
func HostAllowlist() []string {
	return []string{
		"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TZ", "TMPDIR",
		"LANG", "LANGUAGE", "LC_*",
		// Network settings of the machine, without which package managers
		// cannot reach their registries behind a proxy.
		"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
		"SSL_CERT_FILE", "SSL_CERT_DIR",
		// Toolchain locations and mirrors that are machine settings too.
		"GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOSUMDB", "GOFLAGS", "GOPATH", "GOCACHE", "GOMODCACHE", "GOTOOLCHAIN",
		"NPM_CONFIG_REGISTRY", "PIP_INDEX_URL", "CARGO_HOME", "RUSTUP_HOME",
	}
}

// HostEnv picks from host ("KEY=value" entries, as os.Environ returns)
// the variables named by the allowlist and by passthrough, sorted by name.
func HostEnv(host []string, passthrough []string) []string {
	return PassEnv(host, append(HostAllowlist(), passthrough...))
}

// PassEnv picks from host the variables named by patterns (names, or
// prefixes ending in "*"), sorted by name: what a container gets of the
// host, which has its own PATH, HOME and the rest.
func PassEnv(host []string, patterns []string) []string {
	var out []string
	for _, kv := range host {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		for _, p := range patterns {
			if p == name || strings.HasSuffix(p, "*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*")) {
				out = append(out, kv)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// hostPlaces are the allowlisted variables that name places on the host
// (directories, the user): an action in an image gets them only when the
// pipeline or the action sets them, since the image has its own PATH and
// HOME, and the host's would hide them.
var hostPlaces = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "SHELL": true, "TMPDIR": true,
	"GOPATH": true, "GOCACHE": true, "GOMODCACHE": true, "CARGO_HOME": true, "RUSTUP_HOME": true,
	"SSL_CERT_FILE": true, "SSL_CERT_DIR": true,
}

// imageEnv drops hostPlaces from a run's base environment for an action
// running in an image.
func imageEnv(base []string) []string {
	out := make([]string, 0, len(base))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !hostPlaces[name] {
			out = append(out, kv)
		}
	}
	return out
}
