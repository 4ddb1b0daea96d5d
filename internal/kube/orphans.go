package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"

	"github.com/velocity-ci/velocity/internal/executor/owner"
)

// Where an object was made and by which process: a later Velocity on the
// same host deletes what one that is gone left (DeleteOrphans). The host
// is a label (selectable), hashed since a label's value is short; the
// process (owner.Self) an annotation.
const (
	OwnerAnnotation = "io.velocity/owner"
	HostLabel       = "io.velocity/host"
)

// HostHash is HostLabel's value for this host: its name and, where
// there is one, its machine ID, since two machines may share a name
// (localhost.localdomain) and a namespace.
func HostHash() string {
	host, _ := os.Hostname()
	id, _ := os.ReadFile("/etc/machine-id")
	sum := sha256.Sum256([]byte(host + "\x00" + strings.TrimSpace(string(id))))
	return hex.EncodeToString(sum[:8])
}

// DeleteOrphans deletes the objects of resources (such as "pods") in ns
// that selector and this host's HostLabel select and whose
// OwnerAnnotation names a process of this host that is gone: a Velocity
// killed with SIGKILL cleans up nothing itself, and its secrets hold
// environments. What it cannot list or delete is logged, not returned:
// leftovers must not stop a start.
func DeleteOrphans(ctx context.Context, c *Client, ns, selector string, resources []string, log *slog.Logger) {
	sel := HostLabel + "=" + HostHash()
	if selector != "" {
		sel = selector + "," + sel
	}
	for _, res := range resources {
		objs, err := c.List(ctx, ns, res, sel)
		if err != nil {
			log.Warn("cannot list leftovers", "resource", res, "err", err)
			continue
		}
		for _, o := range objs {
			if owner.Alive(o.Annotations[OwnerAnnotation]) {
				continue
			}
			log.Info("deleting what a Velocity that is gone left", "resource", res, "name", o.Name)
			if err := c.Delete(ctx, ns, res, o.Name); err != nil {
				log.Warn("leftover not deleted", "resource", res, "name", o.Name, "err", err)
			}
		}
	}
}
