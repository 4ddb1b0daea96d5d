package kube

import (
	"context"
	"net/http"
)

// Service is a v1 Service of type ClusterIP with the fields Velocity sets.
type Service struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   ObjectMeta  `json:"metadata"`
	Spec       ServiceSpec `json:"spec"`
}

// ServiceSpec selects the pods a Service sends its ports to.
type ServiceSpec struct {
	// ClusterIP is the Service's address, given by the API server;
	// kept as read when a Service is updated.
	ClusterIP string            `json:"clusterIP,omitempty"`
	Selector  map[string]string `json:"selector"`
	Ports     []ServicePort     `json:"ports"`
}

// ServicePort is a port of a Service and the pods' port behind it.
type ServicePort struct {
	Name       string `json:"name,omitempty"`
	Port       int    `json:"port"`
	TargetPort int    `json:"targetPort"`
}

// CreateService creates s in ns; an existing one of the same name is an
// error IsConflict reports.
func (c *Client) CreateService(ctx context.Context, ns string, s *Service) error {
	s.APIVersion, s.Kind = "v1", "Service"
	return c.Do(ctx, http.MethodPost, apiPath(ns, "services", "", nil), s, nil)
}

// GetService reads Service name.
func (c *Client) GetService(ctx context.Context, ns, name string) (*Service, error) {
	var s Service
	if err := c.Do(ctx, http.MethodGet, apiPath(ns, "services", name, nil), nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// UpdateService replaces Service s (as read, with its resourceVersion
// and cluster IP, then changed).
func (c *Client) UpdateService(ctx context.Context, ns string, s *Service) error {
	s.APIVersion, s.Kind = "v1", "Service"
	return c.Do(ctx, http.MethodPut, apiPath(ns, "services", s.Metadata.Name, nil), s, nil)
}

// Endpoints are the addresses a Service sends traffic to: Ready those
// whose pods pass their readiness probe, NotReady the others.
type Endpoints struct {
	Subsets []struct {
		Addresses         []EndpointAddress `json:"addresses"`
		NotReadyAddresses []EndpointAddress `json:"notReadyAddresses"`
	} `json:"subsets"`
}

// EndpointAddress is one pod's address behind a Service.
type EndpointAddress struct {
	IP string `json:"ip"`
}

// GetEndpoints reads the endpoints of Service name.
func (c *Client) GetEndpoints(ctx context.Context, ns, name string) (*Endpoints, error) {
	var e Endpoints
	if err := c.Do(ctx, http.MethodGet, apiPath(ns, "endpoints", name, nil), nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}
