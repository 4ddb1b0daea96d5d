package kube

import (
	"encoding/base64"
	"encoding/json"
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
