package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// keyVersion changes whenever the key's composition changes, so that old
// entries can never be mistaken for new ones.
const keyVersion = "velocity-result-v1"

// cacheable reports whether n's result may come from the result cache.
func (x *execution) cacheable(n *plan.Node) bool {
	return x.Blobs != nil && !x.run.NoCache && !n.NoResultCache
}

// cacheKey hashes everything n's result depends on: its definition, the
// environment it gets (but secrets only as keyed fingerprints), the files
// it reads, the outputs of every node finished before it may start, and
// the Velocity version. Variables that change every run (the run id, the
// commit) are left out unless the script names them. Alongside, it keeps
// what it hashed, from which a miss builds the key's parts (keyParts): a
// hit, the common case, pays for nothing more.
func (x *execution) cacheKey(n *plan.Node) (*nodeKey, error) {
	h := sha256.New()
	line := func(format string, args ...any) { fmt.Fprintf(h, format+"\n", args...) }
	k := &nodeKey{node: n}
	line("%s", keyVersion)
	line("velocity %s", x.Version)
	k.definition = fmt.Sprintf("project %q stage %q action %q kind %s", x.run.Plan.Project, n.Stage, n.Name, n.Kind)
	if n.Image != "" {
		// By reference: a moving tag (latest) is not re-resolved; a
		// digest pins the image in the key too.
		k.definition += fmt.Sprintf(" image %q user %q", n.Image, n.User)
		if n.Memory != 0 || n.CPU != 0 {
			// A cap can decide the outcome (a test killed for memory).
			k.definition += fmt.Sprintf(" memory %d cpu %g", n.Memory, n.CPU)
		}
	}
	line("%s", k.definition)
	line("script %q", n.Script)
	if n.Build != nil {
		k.definition += " build " + buildDefinition(n.Build)
		line("build %s", buildDefinition(n.Build))
	}
	k.env = x.keyEnv(n)
	for _, e := range k.env {
		line("env %q", e.kv)
	}
	for _, name := range n.Secrets {
		fp, err := x.Secrets.Fingerprint(name)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", name, err)
		}
		line("secret %q %s", name, fp)
		k.secrets = append(k.secrets, [2]string{name, fp})
	}
	for _, sc := range n.Sidecars {
		def := fmt.Sprintf("sidecar %q run %q ready %q env %q", sc.Name, sc.Run, sc.Ready.Run, sortedEnv(sc.Env))
		if sc.Image != "" {
			def += fmt.Sprintf(" image %q port %d", sc.Image, sc.Port)
		}
		line("%s", def)
		k.sidecars = append(k.sidecars, [2]string{sc.Name, def})
	}
	line("outputs %q", n.Outputs)
	if n.Inputs == nil {
		line("inputs: the snapshot %s", x.snapshot)
		k.inputs, k.files = x.snapshot, x.snapshotFiles
	} else {
		files, err := artifact.HashPresent(x.run.Dir, n.Inputs)
		if err != nil {
			return nil, fmt.Errorf("inputs: %w", err)
		}
		k.inputs, k.files = string(artifact.TreeDigest(files)), files
		line("inputs %q %s", n.Inputs, k.inputs)
	}
	x.mu.Lock()
	for _, b := range n.Before() {
		line("before %s %s", b.ID(), x.outputs[b])
		k.upstream = append(k.upstream, [2]string{b.ID(), x.outputs[b]})
	}
	x.mu.Unlock()
	k.key = hex.EncodeToString(h.Sum(nil))
	return k, nil
}

// keyEnv is the environment that goes into n's key: the run's base and
// n's own env, plus run-specific variables only when the script uses them.
func (x *execution) keyEnv(n *plan.Node) []keyVar {
	var env []keyVar
	for _, kv := range x.run.Env {
		if !strings.HasPrefix(kv, "TERM=") {
			env = append(env, keyVar{kv, originHost})
		}
	}
	for _, kv := range sortedEnv(n.Env) {
		env = append(env, keyVar{kv, originDefinition})
	}
	for _, kv := range x.run.Vars {
		name, _, _ := strings.Cut(kv, "=")
		if strings.Contains(n.Script, name) && name != "VELOCITY_RUN_ID" && name != "VELOCITY_WORKSPACE" {
			env = append(env, keyVar{kv, originRun})
		}
	}
	return env
}

// keyVar is one variable of a key and where it came from, which decides
// whether its value may be shown.
type keyVar struct {
	kv     string
	origin int
}

// Origins of a key's variables.
const (
	originHost = iota
	originDefinition
	originRun
)

func sortedEnv(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// hit is a result that can stand in for executing a node.
type hit struct {
	from int64
	// stage and action name the action in run from, whose records (its
	// image) the hit stands for.
	stage, action string
	outputs       []store.Output
	// log is the original's log: a blob digest or, for a rerun, a path.
	logBlob string
	logPath string
}

// pastRun is what the engine reads of an earlier run whose results it
// reuses: each action's outputs and last log. It is read once per run, not
// once per reused action.
type pastRun struct {
	outputs map[store.Key][]store.Output
	logs    map[store.Key]string
}

func (x *execution) pastRun(ctx context.Context, id int64) (*pastRun, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p := x.past[id]; p != nil {
		return p, nil
	}
	outs, err := x.Journal.Outputs(ctx, id)
	if err != nil {
		return nil, err
	}
	atts, err := x.Journal.Attempts(ctx, id)
	if err != nil {
		return nil, err
	}
	p := &pastRun{outputs: map[store.Key][]store.Output{}, logs: map[store.Key]string{}}
	for _, o := range outs {
		k := store.Key{Stage: o.Stage, Name: o.Action}
		p.outputs[k] = append(p.outputs[k], o)
	}
	for _, a := range atts {
		p.logs[store.Key{Stage: a.Stage, Name: a.Action}] = a.Log
	}
	x.past[id] = p
	return p, nil
}

// lookup finds a reusable result for n: the run a rerun names, or the
// result cache. It returns nil when n must execute.
func (x *execution) lookup(ctx context.Context, n *plan.Node, key string) (*hit, error) {
	k := store.Key{Stage: n.Stage, Name: n.Name}
	if from, ok := x.run.Reuse[k]; ok {
		p, err := x.pastRun(ctx, from)
		if err != nil {
			return nil, err
		}
		return &hit{from: from, stage: k.Stage, action: k.Name, outputs: p.outputs[k], logPath: p.logs[k]}, nil
	}
	if key == "" {
		return nil, nil
	}
	r, err := x.Journal.Result(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := x.pastRun(ctx, r.RunID)
	if err != nil {
		return nil, err
	}
	return &hit{from: r.RunID, stage: r.Stage, action: r.Action, outputs: p.outputs[store.Key{Stage: r.Stage, Name: r.Action}], logBlob: r.Log}, nil
}

// OutputFiles turns outputs recorded in the journal into the manifest the
// blob store restores. Only regular files have a digest: symlinks and
// directories are entries without a blob.
func OutputFiles(outs []store.Output) ([]artifact.File, error) {
	files := make([]artifact.File, len(outs))
	for i, o := range outs {
		f := artifact.File{Path: o.Path, Mode: os.FileMode(o.Mode), Size: o.Size, Digest: artifact.Digest(o.Digest), Link: o.Link}
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("output of %s/%s: %w", o.Stage, o.Action, err)
		}
		files[i] = f
	}
	return files, nil
}

// restore puts a hit's outputs into the workspace and its log into the
// attempt's log. A missing or corrupt blob makes the hit unusable: the
// caller executes the action instead, and the entry is dropped.
func (x *execution) restore(h *hit, logFile io.Writer) error {
	files, err := OutputFiles(h.outputs)
	if err != nil {
		return err
	}
	if err := x.Blobs.Restore(x.run.Dir, files); err != nil {
		return err
	}
	switch {
	case h.logBlob != "":
		d, err := artifact.Parse(h.logBlob)
		if err != nil {
			return err
		}
		r, err := x.Blobs.Open(d)
		if err != nil {
			return err
		}
		defer r.Close()
		if _, err := io.Copy(logFile, r); err != nil {
			return fmt.Errorf("log of run %d: %w", h.from, err)
		}
	case h.logPath != "":
		r, err := os.Open(h.logPath)
		if err != nil {
			return nil // an old log that was cleaned up is no reason to execute
		}
		defer r.Close()
		io.Copy(logFile, r)
	}
	return nil
}

// saveOutputs stores n's declared outputs after it succeeded, records them
// with the run and notes their digest for later keys.
func (x *execution) saveOutputs(ctx context.Context, n *plan.Node) error {
	var outs []store.Output
	digest := "none"
	if len(n.Outputs) > 0 {
		if x.Blobs == nil {
			return nil
		}
		files, err := x.Blobs.Collect(x.run.Dir, n.Outputs)
		if err != nil {
			return fmt.Errorf("outputs: %w", err)
		}
		for _, f := range files {
			outs = append(outs, store.Output{Stage: n.Stage, Action: n.Name, Path: f.Path, Mode: uint32(f.Mode),
				Size: f.Size, Digest: string(f.Digest), Link: f.Link})
		}
		digest = string(artifact.TreeDigest(files))
		if err := x.Journal.SetOutputs(ctx, x.run.ID, store.Key{Stage: n.Stage, Name: n.Name}, outs); err != nil {
			return fmt.Errorf("%w: %w", errJournal, err)
		}
	}
	x.mu.Lock()
	x.outputs[n] = digest
	x.mu.Unlock()
	return nil
}

// noteOutputs records the outputs restored from a hit with this run, and
// their digest for later keys; restore already checked them.
func (x *execution) noteOutputs(ctx context.Context, n *plan.Node, h *hit) error {
	digest := "none"
	if len(h.outputs) > 0 {
		files, err := OutputFiles(h.outputs)
		if err != nil {
			return err
		}
		digest = string(artifact.TreeDigest(files))
		if err := x.Journal.SetOutputs(ctx, x.run.ID, store.Key{Stage: n.Stage, Name: n.Name}, h.outputs); err != nil {
			return fmt.Errorf("%w: %w", errJournal, err)
		}
	}
	x.mu.Lock()
	x.outputs[n] = digest
	x.mu.Unlock()
	return nil
}

// saveResult makes n's successful attempt the cache entry for key.
func (x *execution) saveResult(ctx context.Context, n *plan.Node, key, logPath string) error {
	d, _, err := x.Blobs.PutFile(logPath)
	if err != nil {
		return fmt.Errorf("store log: %w", err)
	}
	now := time.Now()
	return x.Journal.SaveResult(ctx, store.Result{
		Key: key, RunID: x.run.ID, Stage: n.Stage, Action: n.Name, Log: string(d), Created: now, Used: now,
	})
}

// depCacheScope names n's dependency cache: the same action of the same
// project with the same paths shares it across runs.
func (x *execution) depCacheScope(n *plan.Node) string {
	return fmt.Sprintf("%s/%s/%s %q", x.run.Plan.Project, n.Stage, n.Name, n.CachePaths)
}

// depCacheKey hashes the cache_key files; "" when there are none.
func (x *execution) depCacheKey(n *plan.Node) (string, error) {
	if len(n.CacheKey) == 0 {
		return "", nil
	}
	files, err := artifact.HashPresent(x.run.Dir, n.CacheKey)
	if err != nil {
		return "", fmt.Errorf("cache_key: %w", err)
	}
	return string(artifact.TreeDigest(files)), nil
}

// restoreDepCache unpacks the best dependency cache for n into the
// workspace, telling the log what it did. It reports whether the entry
// matched the key exactly (then saving it again is pointless).
func (x *execution) restoreDepCache(ctx context.Context, n *plan.Node, key string, log io.Writer) bool {
	c, exact, err := x.Journal.DepCache(ctx, x.depCacheScope(n), key)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(log, "velocity: dependency cache not restored: %v\n", err)
		}
		return false
	}
	d, err := artifact.Parse(c.Digest)
	if err == nil {
		err = x.Blobs.UnpackDirs(x.run.Dir, d)
	}
	if err != nil {
		fmt.Fprintf(log, "velocity: dependency cache not restored: %v\n", err)
		return false
	}
	how := "exact key"
	if !exact {
		how = "newest entry, key differs"
	}
	fmt.Fprintf(log, "velocity: restored dependency cache %s (%s)\n", strings.Join(n.CachePaths, ", "), how)
	return exact && key != ""
}

// saveDepCache packs n's cache paths after it succeeded.
func (x *execution) saveDepCache(ctx context.Context, n *plan.Node, key string) error {
	d, size, err := x.Blobs.PackDirs(x.run.Dir, n.CachePaths)
	if err != nil {
		return err
	}
	return x.Journal.SaveDepCache(ctx, store.DepCache{
		Scope: x.depCacheScope(n), Key: key, Digest: string(d), Size: size, Created: time.Now(),
	})
}

// snapshotDigest hashes the workspace before any action runs: the default
// inputs of every action that declares none. The files are kept to explain
// a miss. known, when not nil, is the workspace's manifest already made.
func snapshotDigest(dir string, known []artifact.File) (string, []artifact.File, error) {
	if known != nil {
		return string(artifact.TreeDigest(known)), known, nil
	}
	files, err := artifact.HashPresent(dir, []string{"**"})
	if err != nil {
		return "", nil, fmt.Errorf("hash the workspace: %w", err)
	}
	return string(artifact.TreeDigest(files)), files, nil
}

// sidecarDir is where n's sidecars get their directories.
func (x *execution) sidecarDir(n *plan.Node, attempt int) string {
	return filepath.Join(x.run.TempDir, fmt.Sprintf("%s.%s.%d", n.Stage, n.Name, attempt))
}

// needsSnapshot reports whether some action's key hashes the whole
// snapshot; when every cached action declares its inputs, hashing every
// file of the project before the first action would be wasted start-up.
func needsSnapshot(p *plan.Plan) bool {
	needed := false
	p.Each(func(_ *plan.Stage, n *plan.Node) {
		if n.Inputs == nil && !n.NoResultCache && n.Deploy == "" {
			needed = true
		}
	})
	return needed
}
