package explain

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/store"
)

// Change is one difference between an action's key and the key of the
// last run in which it succeeded.
type Change struct {
	// What is "input", "inputs" (the patterns), "env", "script",
	// "upstream", "secret", "sidecar", "outputs", "definition" or
	// "velocity".
	What string
	// Name is the file, variable, secret, sidecar or upstream action.
	Name string
	// How is "changed", "added" or "removed".
	How string
	// Detail may say more: old → new of a variable whose value may be
	// shown, a script's changed lines, an upstream's changed files.
	Detail string
}

// Side is one of the two keys compared.
type Side struct {
	Parts Parts
	// Files is the input list (path → entry); nil when unknown.
	Files map[string]string
	// Outputs are the run's recorded outputs by action ID (path → what
	// the file was); nil when not read.
	Outputs map[string]map[string]string
}

// maxDetail bounds the names a Detail lists.
const maxDetail = 5

// Diff lists what differs from old to cur: input files first, since they
// change most often, then env, script, upstream outputs, secrets,
// sidecars, the definition and the Velocity version.
func Diff(old, cur Side) []Change {
	var out []Change
	o, c := old.Parts, cur.Parts
	if !slices.Equal(o.Inputs.Patterns, c.Inputs.Patterns) || o.Inputs.Snapshot != c.Inputs.Snapshot {
		out = append(out, Change{What: "inputs", How: "changed", Detail: patterns(o.Inputs) + " → " + patterns(c.Inputs)})
	}
	if o.Inputs.Digest != c.Inputs.Digest {
		if old.Files == nil || cur.Files == nil {
			out = append(out, Change{What: "input", How: "changed",
				Detail: fmt.Sprintf("%d files before, %d now; the file list of the earlier run is no longer kept", o.Inputs.Count, c.Inputs.Count)})
		} else {
			out = append(out, fileChanges("input", old.Files, cur.Files)...)
		}
	}
	out = append(out, valueChanges(o.Env, c.Env)...)
	out = append(out, valueChanges(o.RunVars, c.RunVars)...)
	out = append(out, hashChanges("env", o.Host, c.Host)...)
	if o.ScriptHash != c.ScriptHash {
		out = append(out, Change{What: "script", How: "changed", Detail: scriptDiff(o.Script, c.Script)})
	}
	out = append(out, upstreamChanges(old, cur)...)
	out = append(out, hashChanges("secret", o.Secrets, c.Secrets)...)
	out = append(out, hashChanges("sidecar", o.Sidecars, c.Sidecars)...)
	if !slices.Equal(o.Outputs, c.Outputs) {
		out = append(out, Change{What: "outputs", How: "changed", Detail: fmt.Sprintf("%q → %q", o.Outputs, c.Outputs)})
	}
	if o.Definition != c.Definition {
		out = append(out, Change{What: "definition", How: "changed"})
	}
	if o.Velocity != c.Velocity {
		out = append(out, Change{What: "velocity", How: "changed", Detail: o.Velocity + " → " + c.Velocity})
	}
	return out
}

func patterns(in Inputs) string {
	if in.Snapshot {
		return "every file"
	}
	return fmt.Sprintf("%q", in.Patterns)
}

// fileChanges compares two path → entry maps, in path order. Only the
// changes are sorted: a 10,000-file list with one change sorts one path.
func fileChanges(what string, old, cur map[string]string) []Change {
	var out []Change
	for p, now := range cur {
		before, had := old[p]
		switch {
		case !had:
			out = append(out, Change{What: what, Name: printable(p), How: "added"})
		case before != now:
			out = append(out, Change{What: what, Name: printable(p), How: "changed"})
		}
	}
	for p := range old {
		if _, has := cur[p]; !has {
			out = append(out, Change{What: what, Name: printable(p), How: "removed"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func sortedKeys[V any](ms ...map[string]V) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// valueChanges names changed variables of velocity.yml or the run, with
// their values.
func valueChanges(old, cur map[string]string) []Change {
	var out []Change
	for _, name := range sortedKeys(old, cur) {
		before, had := old[name]
		now, has := cur[name]
		switch {
		case !had:
			out = append(out, Change{What: "env", Name: name, How: "added", Detail: fmt.Sprintf("%q", now)})
		case !has:
			out = append(out, Change{What: "env", Name: name, How: "removed", Detail: fmt.Sprintf("%q", before)})
		case before != now:
			out = append(out, Change{What: "env", Name: name, How: "changed", Detail: fmt.Sprintf("%q → %q", before, now)})
		}
	}
	return out
}

// hashChanges compares host variables, secrets or sidecars by name; only
// names are shown.
func hashChanges(what string, old, cur map[string]string) []Change {
	var out []Change
	for _, name := range sortedKeys(old, cur) {
		before, had := old[name]
		now, has := cur[name]
		switch {
		case !had:
			out = append(out, Change{What: what, Name: name, How: "added"})
		case !has:
			out = append(out, Change{What: what, Name: name, How: "removed"})
		case before != now:
			out = append(out, Change{What: what, Name: name, How: "changed"})
		}
	}
	return out
}

// upstreamChanges names upstream actions whose outputs differ and, when
// both runs' outputs are known, the files that differ. An action without
// outputs is absent from Upstream: a change from or to none is a change.
func upstreamChanges(old, cur Side) []Change {
	o, c := old.Parts.Upstream, cur.Parts.Upstream
	var out []Change
	for _, a := range sortedKeys(o, c) {
		if o[a] == c[a] {
			continue
		}
		ch := Change{What: "upstream", Name: a, How: "changed"}
		switch {
		case strings.HasPrefix(c[a], "release"):
			ch.Detail = "a new release was deployed"
		case old.Outputs != nil && cur.Outputs != nil:
			ch.Detail = names(fileChanges("output", old.Outputs[a], cur.Outputs[a]), maxDetail)
		}
		out = append(out, ch)
	}
	if len(out) == 0 && old.Parts.UpstreamSet != cur.Parts.UpstreamSet {
		out = append(out, Change{What: "upstream", How: "changed", Detail: "the actions that finish before it changed"})
	}
	return out
}

// printable quotes text from the repository that holds control
// characters, so that a file named with an escape sequence cannot drive
// the terminal that shows it.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != '\t' }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// names words file changes: "dist/app changed, dist/new added".
func names(changes []Change, max int) string {
	var parts []string
	for i, ch := range changes {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(changes)-max))
			break
		}
		parts = append(parts, ch.Name+" "+ch.How)
	}
	return strings.Join(parts, ", ")
}

// maxScriptLines bounds the lines of a script diff.
const maxScriptLines = 6

// scriptDiff lists the lines only one of two scripts has, "-" for the old
// and "+" for the new; "" when a text was too long to keep.
func scriptDiff(old, cur string) string {
	if old == "" || cur == "" {
		return ""
	}
	ol, cl := strings.Split(strings.TrimRight(old, "\n"), "\n"), strings.Split(strings.TrimRight(cur, "\n"), "\n")
	var lines []string
	for _, l := range ol {
		if !slices.Contains(cl, l) {
			lines = append(lines, "- "+printable(l))
		}
	}
	for _, l := range cl {
		if !slices.Contains(ol, l) {
			lines = append(lines, "+ "+printable(l))
		}
	}
	if len(lines) > maxScriptLines {
		lines = append(lines[:maxScriptLines], fmt.Sprintf("(%d more lines differ)", len(lines)-maxScriptLines))
	}
	return strings.Join(lines, "\n")
}

// Phrases words changes for one line: input files are grouped ("2 input
// files changed (main.go, util.go)"), every other change is one phrase.
func Phrases(changes []Change) []string {
	var out []string
	group := map[string][]string{}
	var order []string
	for _, ch := range changes {
		if ch.What == "input" && ch.Name != "" {
			if group[ch.How] == nil {
				order = append(order, ch.How)
			}
			group[ch.How] = append(group[ch.How], ch.Name)
			continue
		}
		out = append(out, phrase(ch))
	}
	var files []string
	for _, how := range order {
		names := group[how]
		noun := "input file"
		if len(names) > 1 {
			noun = "input files"
		}
		shown := names
		if len(shown) > 3 {
			shown = append(shown[:3:3], "…")
		}
		files = append(files, fmt.Sprintf("%d %s %s (%s)", len(names), noun, how, strings.Join(shown, ", ")))
	}
	return append(files, out...)
}

func phrase(ch Change) string {
	switch ch.What {
	case "input":
		return "input files changed"
	case "inputs":
		return "inputs changed (" + ch.Detail + ")"
	case "script":
		return "script changed"
	case "upstream":
		if ch.Name == "" {
			return ch.Detail
		}
		if ch.How == "changed" && ch.Detail != "" && !strings.HasPrefix(ch.Detail, "a new release") {
			return fmt.Sprintf("output of %s changed (%s)", ch.Name, ch.Detail)
		}
		if ch.How == "changed" {
			return "output of " + ch.Name + " changed"
		}
		return fmt.Sprintf("upstream %s %s", ch.Name, ch.How)
	case "outputs":
		return "declared outputs changed"
	case "definition":
		return "action definition changed"
	case "velocity":
		return "Velocity version changed (" + ch.Detail + ")"
	}
	return fmt.Sprintf("%s %s %s", ch.What, ch.Name, ch.How)
}

// Summary is the console's line: at most max phrases, then a pointer to
// velocity explain for the rest.
func Summary(changes []Change, max int, more string) string {
	p := Phrases(changes)
	if len(p) > max {
		p = append(p[:max:max], fmt.Sprintf("and %d more: %s", len(p)-max, more))
	}
	return strings.Join(p, ", ")
}

// Source is what Explain reads of the journal.
type Source interface {
	KeyParts(ctx context.Context, runID int64, k store.Key) (store.KeyParts, error)
	LastSuccess(ctx context.Context, project string, k store.Key, before int64) (store.KeyParts, error)
	Outputs(ctx context.Context, runID int64) ([]store.Output, error)
}

// Explanation says why an action of a run was, or was not, a cache hit.
type Explanation struct {
	Run    int64
	Action store.Key
	Status store.Status
	// CachedFrom is the run whose result a cached action reused.
	CachedFrom int64
	// Uncached says the action computed no key: NoCacheFlag, CacheFalse,
	// or "deploy" for a deploy action.
	Uncached string
	// NoRecord is set when the run recorded no key parts for the action
	// (it did not run, or an older Velocity ran it).
	NoRecord bool
	// Previous is the last run before in which the action succeeded; 0
	// when there is none ("no earlier result").
	Previous int64
	// PreviousNoRecord is set when Previous recorded no key parts.
	PreviousNoRecord bool
	// SameKey is set when Previous had the same key: its result was
	// there but could not be used (evicted or corrupt).
	SameKey bool
	Changes []Change
}

// Explain compares action k of run with the last run of its project in
// which k succeeded.
func Explain(ctx context.Context, src Source, blobs *artifact.Blobs, run store.Run, k store.Key) (Explanation, error) {
	e := Explanation{Run: run.ID, Action: k}
	cur, err := src.KeyParts(ctx, run.ID, k)
	if err != nil {
		return e, err
	}
	e.Status = cur.Status
	if cur.Status == store.Cached {
		e.CachedFrom = cur.CachedFrom
		return e, nil
	}
	parts, ok := Decode(cur.Body)
	if !ok {
		e.NoRecord = true
		return e, nil
	}
	if parts.Uncached != "" {
		e.Uncached = parts.Uncached
		return e, nil
	}
	read := func(d string) map[string]string { return ReadBlobList(blobs, d) }
	return compare(ctx, src, read, run.Project, e, parts, cur.CacheKey, nil)
}

// ExplainMiss is Explain for an action executing now, whose key parts
// and input list (path → entry, see Entries) are at hand; read gets an
// earlier run's list from its blob digest, nil when it is gone. The
// result has no Previous when there is nothing to compare with.
func ExplainMiss(ctx context.Context, src Source, read func(digest string) map[string]string, project string, runID int64, k store.Key,
	parts Parts, key string, files map[string]string) (Explanation, error) {
	e := Explanation{Run: runID, Action: k, Status: store.Running}
	return compare(ctx, src, read, project, e, parts, key, files)
}

// Entries is the input list of files as Side.Files holds it.
func Entries(files []artifact.File) map[string]string {
	m := make(map[string]string, len(files))
	for _, f := range files {
		m[f.Path] = entry(f)
	}
	return m
}

func compare(ctx context.Context, src Source, read func(string) map[string]string, project string, e Explanation,
	parts Parts, key string, files map[string]string) (Explanation, error) {
	prev, err := src.LastSuccess(ctx, project, e.Action, e.Run)
	if errors.Is(err, store.ErrNotFound) {
		return e, nil
	}
	if err != nil {
		return e, err
	}
	e.Previous = prev.RunID
	if key != "" && prev.CacheKey == key {
		e.SameKey = true
		return e, nil
	}
	old, ok, err := recorded(ctx, src, prev)
	if err != nil {
		return e, err
	}
	if !ok {
		e.PreviousNoRecord = true
		return e, nil
	}
	oldSide, curSide := Side{Parts: old}, Side{Parts: parts, Files: files}
	if old.Inputs.Digest != parts.Inputs.Digest {
		if curSide.Files == nil && parts.Inputs.List != "" {
			curSide.Files = read(parts.Inputs.List)
		}
		if old.Inputs.List != "" {
			oldSide.Files = read(old.Inputs.List)
		}
	}
	if upstreamDiffers(old, parts) {
		if oldSide.Outputs, err = outputs(ctx, src, prev.RunID); err == nil {
			curSide.Outputs, err = outputs(ctx, src, e.Run)
		}
		if err != nil {
			return e, err
		}
	}
	e.Changes = Diff(oldSide, curSide)
	return e, nil
}

// maxHops bounds following cached results to the run that executed.
const maxHops = 10

// recorded returns the parts of an earlier success. A hit records none:
// its parts are those of the run its result came from, which a rerun may
// have taken from yet another run.
func recorded(ctx context.Context, src Source, p store.KeyParts) (Parts, bool, error) {
	for range maxHops {
		if parts, ok := Decode(p.Body); ok {
			return parts, true, nil
		}
		if p.Status != store.Cached || p.CachedFrom == 0 {
			break
		}
		var err error
		p, err = src.KeyParts(ctx, p.CachedFrom, store.Key{Stage: p.Stage, Name: p.Action})
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return Parts{}, false, err
		}
	}
	return Parts{}, false, nil
}

// ReadBlobList reads an input list from the blob store; nil when it is
// gone or unreadable.
func ReadBlobList(blobs *artifact.Blobs, d string) map[string]string {
	if blobs == nil || d == "" {
		return nil
	}
	r, err := blobs.Open(artifact.Digest(d))
	if err != nil {
		return nil
	}
	defer r.Close()
	m, err := ReadList(r)
	if err != nil {
		return nil
	}
	return m
}

func upstreamDiffers(old, cur Parts) bool {
	return !maps.Equal(old.Upstream, cur.Upstream)
}

// outputs reads a run's outputs by action ID.
func outputs(ctx context.Context, src Source, runID int64) (map[string]map[string]string, error) {
	outs, err := src.Outputs(ctx, runID)
	if err != nil {
		return nil, err
	}
	m := map[string]map[string]string{}
	for _, o := range outs {
		id := o.Stage + "/" + o.Action
		if m[id] == nil {
			m[id] = map[string]string{}
		}
		m[id][o.Path] = fmt.Sprintf("%s %o %s", o.Digest, o.Mode, o.Link)
	}
	return m, nil
}
