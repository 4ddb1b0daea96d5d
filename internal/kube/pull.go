package kube

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"time"
)

// LocalObjectRef names an object of the pod's namespace.
type LocalObjectRef struct {
	Name string `json:"name"`
}

// Pull is how a pod gets an image: the reference its container names
// and, for a registry that wants one, the credential of the pull secret
// (Secret type kubernetes.io/dockerconfigjson) the pod lists.
type Pull struct {
	// Ref is the image reference the container names.
	Ref string
	// Registry is the registry's host[:port] the credential is for; empty
	// when the pull needs no credential.
	Registry string
	Username string
	Password string
}

// LogValue keeps the password out of logs.
func (p Pull) LogValue() slog.Value {
	return slog.GroupValue(slog.String("ref", p.Ref), slog.String("registry", p.Registry), slog.String("username", p.Username))
}

// SecretTypeDockerConfig is the type of a pull secret.
const SecretTypeDockerConfig = "kubernetes.io/dockerconfigjson"

// PullSecret is the pull secret of p with meta, or nil when p needs no
// credential.
func (p Pull) PullSecret(meta ObjectMeta) *Secret {
	if p.Registry == "" {
		return nil
	}
	type auth struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Auth     string `json:"auth"`
	}
	config, _ := json.Marshal(struct {
		Auths map[string]auth `json:"auths"`
	}{map[string]auth{p.Registry: {
		Username: p.Username, Password: p.Password,
		Auth: base64.StdEncoding.EncodeToString([]byte(p.Username + ":" + p.Password)),
	}}})
	return &Secret{Metadata: meta, Type: SecretTypeDockerConfig, Data: map[string][]byte{".dockerconfigjson": config}}
}

// PullRetryWindow is how long a failed image pull of a pod with a pull
// secret is left to the kubelet's own retries (after 10 s, then 20 s):
// the kubelet may not see a secret created just before the pod at its
// first pull (event FailedToRetrieveImagePullSecret), pulls without the
// credential and is refused (401).
const PullRetryWindow = 45 * time.Second

// PullMayRecover reports whether a container waiting for reason, in a
// pod with a pull secret (withSecret) created at created, may still be
// pulled by the kubelet's next try, rather than have failed for good.
func PullMayRecover(reason string, withSecret bool, created time.Time) bool {
	return withSecret && (reason == "ErrImagePull" || reason == "ImagePullBackOff") && time.Since(created) < PullRetryWindow
}
