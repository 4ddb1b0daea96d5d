package kube

import (
	"strconv"
	"strings"
	"time"
)

// EnvKey is the key of a Secret holding the i-th variable of an
// environment: a variable's name may hold characters a key may not.
func EnvKey(i int) string { return "e" + strconv.Itoa(i) }

// EnvData is the Data of a Secret holding env ("KEY=value" entries),
// each value under its EnvKey.
func EnvData(env []string) map[string][]byte {
	data := make(map[string][]byte, len(env))
	for i, kv := range env {
		_, v, _ := strings.Cut(kv, "=")
		data[EnvKey(i)] = []byte(v)
	}
	return data
}

// EnvFrom is env as a container's variables, each read from the Secret
// named secret that holds EnvData(env): values never appear in the pod's
// spec.
func EnvFrom(env []string, secret string) []EnvVar {
	vars := make([]EnvVar, len(env))
	for i, kv := range env {
		n, _, _ := strings.Cut(kv, "=")
		vars[i] = EnvVar{Name: n, ValueFrom: &EnvVarSource{SecretKeyRef: &KeyRef{Name: secret, Key: EnvKey(i)}}}
	}
	return vars
}

// GraceSeconds rounds a duration up to whole seconds, the unit of the
// API's grace periods and probes (0 would kill at once).
func GraceSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }
