package kubetest

import (
	"context"
	"strings"
	"testing"
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
