package kubetest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The kubeconfig the tests are given reaches an API server that accepts
// its client certificate and reports the version the cluster was built at.
func TestVersion(t *testing.T) {
	c := Connect(t)
	var v struct {
		Major      string `json:"major"`
		GitVersion string `json:"gitVersion"`
	}
	if err := c.Get(context.Background(), "/version", &v); err != nil {
		t.Fatal(err)
	}
	if v.Major != "1" || !strings.HasPrefix(v.GitVersion, "v1.") {
		t.Fatalf("/version = major %q, gitVersion %q; want a Kubernetes 1.x", v.Major, v.GitVersion)
	}
}

// The cluster has a node ready to run pods: what the Kubernetes tests of
// the executor need before anything else.
func TestNodeReady(t *testing.T) {
	c := Connect(t)
	var nodes struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Status struct {
				Conditions []struct {
					Type   string `json:"type"`
					Status string `json:"status"`
				} `json:"conditions"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := c.Get(context.Background(), "/api/v1/nodes", &nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == "Ready" && cond.Status == "True" {
				return
			}
		}
	}
	t.Fatalf("no Ready node among %d", len(nodes.Items))
}

// A pod of an image the node holds runs in a test's namespace: the node
// runs containers (containerd, the sandbox image, the CNI network).
func TestPodRuns(t *testing.T) {
	c := Connect(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	pod := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": "waiter"},
		"spec": map[string]any{
			"terminationGracePeriodSeconds": 1,
			"containers": []any{map[string]any{
				"name": "waiter", "image": PauseImage, "imagePullPolicy": "Never",
			}},
		},
	}
	if err := c.Do(ctx, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods", pod, nil); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Status struct {
			Phase string `json:"phase"`
			PodIP string `json:"podIP"`
		} `json:"status"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for got.Status.Phase != "Running" {
		if time.Now().After(deadline) {
			t.Fatalf("pod not running after 60s: phase %q", got.Status.Phase)
		}
		time.Sleep(200 * time.Millisecond)
		if err := c.Get(ctx, "/api/v1/namespaces/"+ns+"/pods/waiter", &got); err != nil {
			t.Fatal(err)
		}
	}
	if got.Status.PodIP == "" {
		t.Fatal("running pod has no IP address")
	}
}
