package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/explain"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// MissObserver is an Observer that also hears why an action executes
// although an earlier run of it succeeded. It is optional: the engine
// checks for it, so an Observer without it keeps working. CacheMiss is
// called before the action's process starts, from the engine's goroutine
// for n, and must return quickly.
type MissObserver interface {
	// CacheMiss gets the reason as one line: "cache miss: script changed".
	CacheMiss(n *plan.Node, reason string)
}

// nodeKey is a node's result-cache key with what went into it.
type nodeKey struct {
	key  string
	node *plan.Node
	// What was hashed, kept for keyParts: the definition line, the
	// variables, secrets (name, fingerprint), sidecars (name, definition),
	// the inputs' tree digest and files, and the upstream actions (ID,
	// digest of outputs). files is dropped once a miss stored its list.
	definition string
	env        []keyVar
	secrets    [][2]string
	sidecars   [][2]string
	inputs     string
	files      []artifact.File
	upstream   [][2]string
	// parts is built from the above on the first miss.
	parts *explain.Parts
}

// keyParts builds k's record for the journal. Host variables, secrets and
// sidecars are kept only as keyed hashes: a host variable may hold a
// token; definition and run variables in full, since velocity.yml and the
// run's own variables are no secret.
func (x *execution) keyParts(k *nodeKey) *explain.Parts {
	if k.parts != nil {
		return k.parts
	}
	n := k.node
	p := &explain.Parts{Format: explain.Format, Velocity: x.Version, Outputs: n.Outputs,
		Definition: explain.PlainHash(k.definition)}
	p.SetScript(n.Script)
	for _, v := range k.env {
		name, value, _ := strings.Cut(v.kv, "=")
		switch v.origin {
		case originHost:
			record(&p.Host, name, x.hasher.Hash("env", name, value))
		case originDefinition:
			record(&p.Env, name, value)
		default:
			record(&p.RunVars, name, value)
		}
	}
	for _, s := range k.secrets {
		record(&p.Secrets, s[0], x.hasher.Hash("secret", s[0], s[1]))
	}
	for _, s := range k.sidecars {
		record(&p.Sidecars, s[0], x.hasher.Hash("sidecar", s[0], s[1]))
	}
	p.Inputs = explain.Inputs{Patterns: n.Inputs, Snapshot: n.Inputs == nil, Digest: k.inputs, Count: len(k.files)}
	if len(k.upstream) > 0 {
		set := sha256.New()
		for _, u := range k.upstream {
			fmt.Fprintln(set, u[0])
			if u[1] != "none" {
				record(&p.Upstream, u[0], upstreamDigest(u[1]))
			}
		}
		p.UpstreamSet = hex.EncodeToString(set.Sum(nil)[:8])
	}
	k.parts = p
	return p
}

// maxMissPhrases is how many reasons the console's miss line names before
// pointing to velocity explain.
const maxMissPhrases = 3

func record(m *map[string]string, k, v string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = v
}

// upstreamDigest is what a record keeps of an upstream action's outputs:
// a deploy's "release of run N at URL" changes every run and says so.
func upstreamDigest(d string) string {
	if strings.HasPrefix(d, "release") {
		return "release " + explain.PlainHash(d)[:8]
	}
	return explain.ShortDigest(d)
}

// uncachedParts is the record of an action that computed no key, so that
// velocity explain can say why; nil when the run has no caches at all.
// There are two such records, each encoded once per run (every action of
// a --no-cache run has one); the journal only reads them.
func (x *execution) uncachedParts(n *plan.Node) []byte {
	var why string
	switch {
	case x.Blobs == nil || n.Deploy != "":
		return nil
	case x.run.NoCache:
		why = explain.NoCacheFlag
	case n.NoResultCache:
		why = explain.CacheFalse
	default:
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	b, ok := x.uncached[why]
	if !ok {
		p := explain.Parts{Format: explain.Format, Uncached: why}
		b = p.Encode()
		if x.uncached == nil {
			x.uncached = map[string][]byte{}
		}
		x.uncached[why] = b
	}
	return b
}

// storeList keeps k's input list in the blob store, once per distinct
// list and run, for a later run's explanation. Only an executing action
// needs it: a hit has the same inputs as the run it came from. A failure
// only costs a later explanation its file names.
func (x *execution) storeList(k *nodeKey) {
	p := x.keyParts(k)
	d := p.Inputs.Digest
	x.mu.Lock()
	blob, ok := x.lists[d]
	x.mu.Unlock()
	if !ok {
		b, _, err := x.Blobs.Put(bytes.NewReader(explain.EncodeList(k.files)))
		if err != nil {
			x.log.Debug("input list not stored", "err", err)
			return
		}
		blob = string(b)
		x.mu.Lock()
		x.lists[d] = blob
		x.mu.Unlock()
	}
	p.Inputs.List = blob
}

// explainMiss tells the log and the observer why n executes although an
// earlier run of it succeeded. Nothing is said when there is no earlier
// success: every action of a first run would say so.
func (x *execution) explainMiss(ctx context.Context, n *plan.Node, k *nodeKey, log io.Writer) {
	e, err := explain.ExplainMiss(ctx, x.Journal, x.readList, x.run.Plan.Project, x.run.ID,
		store.Key{Stage: n.Stage, Name: n.Name}, *x.keyParts(k), k.key, x.entries(k))
	if err != nil {
		x.log.Debug("cache miss not explained", "action", n.ID(), "err", err)
		return
	}
	line := MissLine(e, fmt.Sprintf("velocity explain %d %s", x.run.ID, n.ID()))
	if line == "" {
		return
	}
	fmt.Fprintf(log, "velocity: %s\n", line)
	if o, ok := x.Observer.(MissObserver); ok {
		o.CacheMiss(n, line)
	}
}

// MissLine is the one-line reason of an executed action's miss, ending
// with more (the explain command) when reasons are left out; "" when
// there was no earlier result to compare with.
func MissLine(e explain.Explanation, more string) string {
	switch {
	case e.Previous == 0:
		return ""
	case e.SameKey:
		return fmt.Sprintf("cache miss: the result of run %d is no longer in the cache", e.Previous)
	case e.PreviousNoRecord:
		return fmt.Sprintf("cache miss: run %d recorded no key details to compare with", e.Previous)
	case len(e.Changes) == 0:
		return fmt.Sprintf("cache miss: the key differs from run %d's", e.Previous)
	}
	return "cache miss: " + explain.Summary(e.Changes, maxMissPhrases, more)
}

// readList reads an earlier input list once per run: the actions that key
// on the whole snapshot all compare with the same earlier list.
func (x *execution) readList(d string) map[string]string {
	x.mu.Lock()
	m, ok := x.readLists[d]
	x.mu.Unlock()
	if !ok {
		m = explain.ReadBlobList(x.Blobs, d)
		x.mu.Lock()
		x.readLists[d] = m
		x.mu.Unlock()
	}
	return m
}

// entries is k's input list as the explanation compares it, made once per
// run for each distinct list.
func (x *execution) entries(k *nodeKey) map[string]string {
	d := k.inputs
	x.mu.Lock()
	m, ok := x.curLists[d]
	x.mu.Unlock()
	if !ok {
		m = explain.Entries(k.files)
		x.mu.Lock()
		x.curLists[d] = m
		x.mu.Unlock()
	}
	return m
}
