package home

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// A full blob store must not lose the files of releases a rollback can
// return to, while everything else goes.
func TestEvictionSparesRollbackTargets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	blobs, err := artifact.OpenBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	put := func(content string) artifact.Digest {
		d, _, err := blobs.Put(strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	deployed := func(release string, status store.DeploymentStatus, content string) artifact.Digest {
		d := put(content)
		id, err := st.CreateDeployment(ctx, store.Deployment{
			Environment: "production", Service: "web", Release: release, Status: store.Deploying,
			Files:   []store.Output{{Path: "dist/app", Digest: string(d), Size: int64(len(content))}},
			Created: time.Now(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if status == store.DeployFailed {
			err = st.SetDeploymentStatus(ctx, id, store.DeployFailed, "never healthy", time.Now())
		} else {
			err = st.SetLive(ctx, id, store.Superseded, time.Now())
		}
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	var old []artifact.Digest
	for i := range rollbackDepth + 2 {
		old = append(old, deployed("r"+string(rune('a'+i)), store.Live, "release "+string(rune('a'+i))))
	}
	failed := deployed("rfail", store.DeployFailed, "a release that never served")
	scratch := put("an ordinary cached output")

	evict(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), st, blobs, 0)

	for i, d := range old {
		// The newest rollbackDepth releases stay; older ones may go.
		want := i >= len(old)-rollbackDepth
		if got := blobs.Has(d); got != want {
			t.Errorf("release %d of %d: kept=%v, want %v", i+1, len(old), got, want)
		}
	}
	if blobs.Has(failed) {
		t.Error("the files of a release that never served were kept")
	}
	if blobs.Has(scratch) {
		t.Error("an unpinned blob survived eviction to size 0")
	}
}
