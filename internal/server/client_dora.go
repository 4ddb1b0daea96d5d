package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/velocity-ci/velocity/internal/dora"
)

// Dora computes a project's DORA four keys on the server.
func (c *Client) Dora(ctx context.Context, req dora.Request) (dora.Report, error) {
	q := url.Values{}
	if req.Days != 0 {
		q.Set("days", strconv.Itoa(req.Days))
	}
	if req.Environment != "" {
		q.Set("environment", req.Environment)
	}
	path := pathProjects + "/" + url.PathEscape(req.Project) + "/dora"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out dora.Report
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}
