package kube

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ObjectMeta is the part of an object's metadata Velocity sets or reads.
type ObjectMeta struct {
	Name            string            `json:"name,omitempty"`
	Namespace       string            `json:"namespace,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
	// DeletionTimestamp is set once the object is being deleted.
	DeletionTimestamp *time.Time `json:"deletionTimestamp,omitempty"`
}

// Secret is a v1 Secret of opaque data.
type Secret struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   ObjectMeta        `json:"metadata"`
	Type       string            `json:"type,omitempty"`
	Data       map[string][]byte `json:"data,omitempty"`
}

// Pod is a v1 Pod with the fields of its spec and status Velocity uses.
type Pod struct {
	APIVersion string     `json:"apiVersion,omitempty"`
	Kind       string     `json:"kind,omitempty"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       PodSpec    `json:"spec"`
	Status     PodStatus  `json:"status,omitzero"`
}

// PodSpec is the part of a pod's spec Velocity sets.
type PodSpec struct {
	// InitContainers with RestartPolicy "Always" are sidecars: started
	// in order before Containers, each once its StartupProbe passed,
	// and stopped after them.
	InitContainers                []Container         `json:"initContainers,omitempty"`
	Containers                    []Container         `json:"containers"`
	HostAliases                   []HostAlias         `json:"hostAliases,omitempty"`
	Volumes                       []Volume            `json:"volumes,omitempty"`
	RestartPolicy                 string              `json:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64              `json:"terminationGracePeriodSeconds,omitempty"`
	EnableServiceLinks            *bool               `json:"enableServiceLinks,omitempty"`
	AutomountServiceAccountToken  *bool               `json:"automountServiceAccountToken,omitempty"`
	SecurityContext               *PodSecurityContext `json:"securityContext,omitempty"`
	NodeName                      string              `json:"nodeName,omitempty"`
	ImagePullSecrets              []LocalObjectRef    `json:"imagePullSecrets,omitempty"`
}

// PodSecurityContext says who a pod's processes run as.
type PodSecurityContext struct {
	RunAsUser  *int64 `json:"runAsUser,omitempty"`
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
}

// Container is the part of a container's spec Velocity sets.
type Container struct {
	Name            string        `json:"name"`
	Image           string        `json:"image"`
	ImagePullPolicy string        `json:"imagePullPolicy,omitempty"`
	Command         []string      `json:"command,omitempty"`
	Args            []string      `json:"args,omitempty"`
	WorkingDir      string        `json:"workingDir,omitempty"`
	Env             []EnvVar      `json:"env,omitempty"`
	VolumeMounts    []VolumeMount `json:"volumeMounts,omitempty"`
	Resources       Resources     `json:"resources,omitzero"`
	// RestartPolicy "Always" makes an init container a sidecar.
	RestartPolicy   string           `json:"restartPolicy,omitempty"`
	StartupProbe    *Probe           `json:"startupProbe,omitempty"`
	ReadinessProbe  *Probe           `json:"readinessProbe,omitempty"`
	SecurityContext *SecurityContext `json:"securityContext,omitempty"`
}

// SecurityContext says who a container's processes run as.
type SecurityContext struct {
	RunAsUser  *int64 `json:"runAsUser,omitempty"`
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
}

// Probe is a check the kubelet runs on a container: a command in it or
// a TCP connection to one of its ports.
type Probe struct {
	Exec             *ExecAction      `json:"exec,omitempty"`
	TCPSocket        *TCPSocketAction `json:"tcpSocket,omitempty"`
	HTTPGet          *HTTPGetAction   `json:"httpGet,omitempty"`
	PeriodSeconds    int32            `json:"periodSeconds,omitempty"`
	TimeoutSeconds   int32            `json:"timeoutSeconds,omitempty"`
	FailureThreshold int32            `json:"failureThreshold,omitempty"`
}

// ExecAction runs Command in the container; exit status 0 passes.
type ExecAction struct {
	Command []string `json:"command"`
}

// HTTPGetAction asks GET Path of Port of the pod; 2xx and 3xx pass.
type HTTPGetAction struct {
	Path string `json:"path"`
	Port int    `json:"port"`
}

// TCPSocketAction connects to Port of the pod.
type TCPSocketAction struct {
	Port int `json:"port"`
}

// HostAlias adds Hostnames resolving to IP to a pod's /etc/hosts.
type HostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames"`
}

// EnvVar is a variable with its value inline or from a Secret's key.
type EnvVar struct {
	Name      string        `json:"name"`
	Value     string        `json:"value,omitempty"`
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource points at a Secret's key.
type EnvVarSource struct {
	SecretKeyRef *KeyRef `json:"secretKeyRef,omitempty"`
}

// KeyRef names a key of a Secret.
type KeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// Resources are a container's limits ("memory": "67108864", "cpu": "500m").
type Resources struct {
	Limits map[string]string `json:"limits,omitempty"`
}

// VolumeMount mounts a volume of the pod.
type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
}

// Volume is a pod's volume; only host paths are used.
type Volume struct {
	Name     string    `json:"name"`
	HostPath *HostPath `json:"hostPath,omitempty"`
}

// HostPath is a directory of the node.
type HostPath struct {
	Path string `json:"path"`
	Type string `json:"type,omitempty"`
}

// PodStatus is the part of a pod's status Velocity reads.
type PodStatus struct {
	Phase             string            `json:"phase,omitempty"`
	Reason            string            `json:"reason,omitempty"`
	Message           string            `json:"message,omitempty"`
	PodIP             string            `json:"podIP,omitempty"`
	ContainerStatuses []ContainerStatus `json:"containerStatuses,omitempty"`
	// InitContainerStatuses holds the sidecars' (InitContainers).
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`
}

// ContainerStatus is where a container is in its life.
type ContainerStatus struct {
	Name  string         `json:"name"`
	State ContainerState `json:"state"`
	// LastState is how the previous run of a restarted container ended.
	LastState    ContainerState `json:"lastState,omitzero"`
	RestartCount int            `json:"restartCount,omitempty"`
	// Started is true once the container's StartupProbe passed (at once
	// without one).
	Started *bool `json:"started,omitempty"`
}

// ContainerState has one of its fields set.
type ContainerState struct {
	Waiting    *StateReason     `json:"waiting,omitempty"`
	Running    *struct{}        `json:"running,omitempty"`
	Terminated *StateTerminated `json:"terminated,omitempty"`
}

// StateReason says why a container waits.
type StateReason struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// StateTerminated is how a container ended.
type StateTerminated struct {
	ExitCode int    `json:"exitCode"`
	Signal   int    `json:"signal,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
}

// CreateSecret creates s in namespace ns.
func (c *Client) CreateSecret(ctx context.Context, ns string, s *Secret) error {
	s.APIVersion, s.Kind = "v1", "Secret"
	return c.Do(ctx, http.MethodPost, apiPath(ns, "secrets", "", nil), s, nil)
}

// DeleteSecret deletes a Secret; one already gone is not an error.
func (c *Client) DeleteSecret(ctx context.Context, ns, name string) error {
	err := c.Do(ctx, http.MethodDelete, apiPath(ns, "secrets", name, nil), nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// CreatePod creates p in namespace ns and returns it as the API server
// stored it (with its resourceVersion, to watch from).
func (c *Client) CreatePod(ctx context.Context, ns string, p *Pod) (*Pod, error) {
	p.APIVersion, p.Kind = "v1", "Pod"
	var out Pod
	if err := c.Do(ctx, http.MethodPost, apiPath(ns, "pods", "", nil), p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPod reads a pod.
func (c *Client) GetPod(ctx context.Context, ns, name string) (*Pod, error) {
	var out Pod
	if err := c.Do(ctx, http.MethodGet, apiPath(ns, "pods", name, nil), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePod deletes a pod, giving its containers grace seconds between
// SIGTERM and SIGKILL; one already gone is not an error.
func (c *Client) DeletePod(ctx context.Context, ns, name string, grace int64) error {
	body := map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": grace}
	err := c.Do(ctx, http.MethodDelete, apiPath(ns, "pods", name, nil), body, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// DeleteCollection deletes every object of resource ("pods", "secrets")
// in ns whose labels match selector, at once (grace 0).
func (c *Client) DeleteCollection(ctx context.Context, ns, resource, selector string) error {
	q := url.Values{"labelSelector": {selector}}
	body := map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
	return c.Do(ctx, http.MethodDelete, apiPath(ns, resource, "", q), body, nil)
}

// List returns the metadata of the objects of resource ("pods",
// "secrets") in ns whose labels match selector.
func (c *Client) List(ctx context.Context, ns, resource, selector string) ([]ObjectMeta, error) {
	var list struct {
		Items []struct {
			Metadata ObjectMeta `json:"metadata"`
		} `json:"items"`
	}
	q := url.Values{"labelSelector": {selector}}
	if err := c.Do(ctx, http.MethodGet, apiPath(ns, resource, "", q), nil, &list); err != nil {
		return nil, err
	}
	out := make([]ObjectMeta, len(list.Items))
	for i, it := range list.Items {
		out[i] = it.Metadata
	}
	return out, nil
}

// Delete deletes one object of resource at once (grace 0); one already
// gone is not an error.
func (c *Client) Delete(ctx context.Context, ns, resource, name string) error {
	body := map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
	err := c.Do(ctx, http.MethodDelete, apiPath(ns, resource, name, nil), body, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// Event is one change a watch reports: ADDED, MODIFIED, DELETED (Pod set),
// or ERROR.
type Event struct {
	Type   string `json:"type"`
	Object Pod    `json:"object"`
}

// maxEvent caps one event of a watch: a pod is a few kilobytes.
const maxEvent = 1 << 20

// WatchPod calls fn with every change of pod name in ns after
// resourceVersion, until fn returns false (WatchPod returns nil), ctx
// ends, or the server ends the watch (it may after minutes: the caller
// reads the pod again and watches anew).
func (c *Client) WatchPod(ctx context.Context, ns, name, resourceVersion string, fn func(Event) bool) error {
	q := url.Values{
		"watch":           {"1"},
		"fieldSelector":   {"metadata.name=" + name},
		"resourceVersion": {resourceVersion},
		// Ends the watch before an idle proxy would.
		"timeoutSeconds": {"300"},
	}
	body, err := c.Stream(ctx, apiPath(ns, "pods", "", q))
	if err != nil {
		return err
	}
	defer body.Close()
	r := bufio.NewReaderSize(body, 64<<10)
	for {
		// The API server writes one JSON object per line.
		line, err := readLine(r, maxEvent)
		if err != nil {
			if err == io.EOF {
				return fmt.Errorf("watch of pod %s ended", name)
			}
			return fmt.Errorf("watch of pod %s: %w", name, err)
		}
		if len(line) == 0 {
			continue
		}
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("watch of pod %s: %w", name, err)
		}
		if ev.Type == "ERROR" {
			return fmt.Errorf("watch of pod %s: %s", name, ev.Object.Status.Message)
		}
		if !fn(ev) {
			return nil
		}
	}
}

// readLine reads a line of at most limit bytes.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > limit {
			return nil, fmt.Errorf("an event larger than %d bytes", limit)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return line, nil
			}
			return nil, err
		}
		return line[:len(line)-1], nil
	}
}

// Logs follows the log of a pod's container (its stdout and stderr as the
// runtime recorded them) until the container ends; the caller closes it.
// The container must have started: before, the server refuses (400).
func (c *Client) Logs(ctx context.Context, ns, pod, container string) (io.ReadCloser, error) {
	q := url.Values{"follow": {"true"}, "container": {container}}
	return c.Stream(ctx, apiPath(ns, "pods", pod+"/log", q))
}

// LogsSoFar reads the log of a pod's container as it is now, without
// following it; the caller closes it.
func (c *Client) LogsSoFar(ctx context.Context, ns, pod, container string) (io.ReadCloser, error) {
	q := url.Values{"container": {container}}
	return c.Stream(ctx, apiPath(ns, "pods", pod+"/log", q))
}

// PreviousLogs reads the log of the run before the last of a restarted
// container (a sidecar that exited); the caller closes it.
func (c *Client) PreviousLogs(ctx context.Context, ns, pod, container string) (io.ReadCloser, error) {
	q := url.Values{"container": {container}, "previous": {"true"}}
	return c.Stream(ctx, apiPath(ns, "pods", pod+"/log", q))
}

// Quantity formats a CPU count for resources.limits in millicores.
func Quantity(cpu float64) string {
	return strconv.FormatInt(int64(cpu*1000+0.5), 10) + "m"
}
