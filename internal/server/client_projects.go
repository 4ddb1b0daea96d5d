package server

import (
	"context"
	"net/http"
	"net/url"

	"github.com/velocity-ci/velocity/internal/projects"
)

// Projects lists the server's projects.
func (c *Client) Projects(ctx context.Context) ([]projects.Project, error) {
	var out []projects.Project
	err := c.do(ctx, http.MethodGet, pathProjects, nil, &out)
	return out, err
}

// Project shows one project with its queue and recent runs.
func (c *Client) Project(ctx context.Context, name string) (projects.Details, error) {
	var out projects.Details
	err := c.do(ctx, http.MethodGet, pathProjects+"/"+url.PathEscape(name), nil, &out)
	return out, err
}

// AddProject adds a project (an admin's token).
func (c *Client) AddProject(ctx context.Context, req projects.AddRequest) (projects.Project, error) {
	var out projects.Project
	err := c.do(ctx, http.MethodPost, pathProjects, req, &out)
	return out, err
}

// RemoveProject removes a project (an admin's token).
func (c *Client) RemoveProject(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, pathProjects+"/"+url.PathEscape(name), nil, nil)
}

// TriggerProject queues a run of a project at ref ("" its branch).
func (c *Client) TriggerProject(ctx context.Context, name, ref string) (projects.Request, error) {
	var out projects.Request
	err := c.do(ctx, http.MethodPost, pathProjects+"/"+url.PathEscape(name)+"/runs", projects.TriggerRequest{Ref: ref}, &out)
	return out, err
}
