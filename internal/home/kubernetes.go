package home

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/velocity-ci/velocity/internal/clusterimages"
	"github.com/velocity-ci/velocity/internal/docker"
	"github.com/velocity-ci/velocity/internal/executor/kube"
	kubeclient "github.com/velocity-ci/velocity/internal/kube"
)

// Kubernetes says where actions with an image run as pods.
type Kubernetes struct {
	// Namespace holds the pods and their secrets; it must exist.
	Namespace string
	// Kubeconfig is the file naming the cluster and the credentials.
	Kubeconfig string
}

// executor connects to the cluster; called at a run's first step with an
// image. The pods use the workspace through a hostPath volume, so they
// are pinned to no node but must run on this machine (docs/kubernetes.md).
func (k *Kubernetes) executor(ctx context.Context, images kube.Images, log *slog.Logger) (*podExecutor, error) {
	c, err := kubeclient.Load(k.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("actions with an image run in Kubernetes (namespace %s): %w", k.Namespace, err)
	}
	ex, err := kube.New(ctx, c, kube.Options{Namespace: k.Namespace, Images: images, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("actions with an image run in Kubernetes (namespace %s): %w", k.Namespace, err)
	}
	return &podExecutor{ex}, nil
}

// podExecutor is the pod executor, which holds nothing to close between
// runs (each run's pods and secrets go at its Cleanup).
type podExecutor struct{ *kube.Executor }

func (podExecutor) Close() error { return nil }

// clusterImages makes the images this machine's Docker Engine built
// pullable by the cluster, through the data directory's registry served
// on its loopback port (see RunRegistry): made once per Home, since it
// serialises its pushes.
func (h *Home) clusterImages() *clusterimages.Publisher {
	h.publisherOnce.Do(func() {
		h.publisher = &clusterimages.Publisher{
			Storage:  h.registryStorage,
			Registry: h.RunRegistry,
			Docker:   docker.Connect,
		}
	})
	return h.publisher
}

// CheckKubernetes reaches the cluster this data directory runs images on
// and reads its namespace, so that velocity serve says at its start
// what is wrong (a kubeconfig it cannot read, a namespace that does not
// exist, credentials refused) rather than at the first step with an
// image. It returns where images run, "" without a cluster.
func (h *Home) CheckKubernetes(ctx context.Context) (string, error) {
	k := h.cfg.Kubernetes
	if k == nil {
		return "", nil
	}
	c, err := kubeclient.Load(k.Kubeconfig)
	if err != nil {
		return "", fmt.Errorf("Kubernetes namespace %s: %w", k.Namespace, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Do(ctx, http.MethodGet, "/api/v1/namespaces/"+url.PathEscape(k.Namespace), nil, nil); err != nil {
		return "", fmt.Errorf("Kubernetes namespace %s at %s: %w", k.Namespace, c.Server(), err)
	}
	return fmt.Sprintf("actions and services with an image run as pods in namespace %s of %s", k.Namespace, c.Server()), nil
}
