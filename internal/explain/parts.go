// Package explain says why an action missed the result cache: the engine
// records the parts of each action's key (Parts), and a later miss is
// compared with the last run in which the action succeeded (Explain).
//
// The record never holds a secret's value or fingerprint, nor the value of
// a host variable: those are kept only as hashes under a key of the data
// directory, enough to say which name changed.
package explain

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/velocity-ci/velocity/internal/artifact"
)

// Format is the version of the Parts document; a change of meaning of a
// field bumps it, and Explain treats a record of another format as absent.
const Format = 1

// MaxScriptText bounds the script text kept for a diff; a longer script is
// kept as its hash only ("script changed").
const MaxScriptText = 16 << 10

// Uncached reasons: why an action computed no key at all.
const (
	NoCacheFlag = "--no-cache"
	CacheFalse  = "cache: false"
)

// Parts is what went into an action's result-cache key, as recorded in the
// journal (JSON, explicit field names). Maps keep it small: a pipeline of
// 200 chained actions names up to 199 upstream actions in each record.
type Parts struct {
	Format int `json:"format"`
	// Uncached says why no key was computed (NoCacheFlag, CacheFalse); the
	// other fields are empty then.
	Uncached string `json:"uncached,omitempty"`
	Velocity string `json:"velocity,omitempty"`
	// Definition hashes the project, stage, action and kind.
	Definition string   `json:"definition,omitempty"`
	Outputs    []string `json:"outputs,omitempty"`
	ScriptHash string   `json:"script_sha256,omitempty"`
	// Script is the text when at most MaxScriptText bytes.
	Script string `json:"script,omitempty"`
	// Env is the env of velocity.yml, name → value: shown old → new.
	Env map[string]string `json:"env,omitempty"`
	// RunVars are the run's VELOCITY_* variables the script names, name →
	// value: shown too.
	RunVars map[string]string `json:"run_vars,omitempty"`
	// Host are host variables, name → keyed hash: only names are shown.
	Host map[string]string `json:"host,omitempty"`
	// Secrets are name → keyed hash of the secret's fingerprint.
	Secrets map[string]string `json:"secrets,omitempty"`
	// Sidecars are name → keyed hash of the sidecar's definition.
	Sidecars map[string]string `json:"sidecars,omitempty"`
	Inputs   Inputs            `json:"inputs"`
	// Upstream are the actions finished before this one that have outputs,
	// ID → ShortDigest of their outputs; UpstreamSet hashes the IDs of all
	// of them, with outputs or without.
	Upstream    map[string]string `json:"upstream,omitempty"`
	UpstreamSet string            `json:"upstream_set,omitempty"`
}

// Inputs are the files the key hashed.
type Inputs struct {
	// Patterns are the action's inputs; Snapshot marks the default, every
	// file of the run's snapshot.
	Patterns []string `json:"patterns,omitempty"`
	Snapshot bool     `json:"snapshot,omitempty"`
	// Digest is the tree digest of the files; Count their number.
	Digest string `json:"digest"`
	Count  int    `json:"count"`
	// List is the blob holding the file list (see EncodeList); "" when
	// it could not be stored.
	List string `json:"list,omitempty"`
}

// ShortDigest is the part of a digest a record keeps: enough to tell a
// change, not meant to look anything up.
func ShortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 16 {
		d = d[:16]
	}
	return d
}

// SetScript records a script: its hash, and its text when short.
func (p *Parts) SetScript(script string) {
	p.ScriptHash = PlainHash(script)
	p.Script = ""
	if len(script) <= MaxScriptText {
		p.Script = script
	}
}

// Encode is the journal's form of p.
func (p *Parts) Encode() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // only strings and ints: cannot fail
	}
	return b
}

// Decode reads a journal record; ok is false for an absent record or one
// of another format.
func Decode(b []byte) (p Parts, ok bool) {
	if len(b) == 0 || json.Unmarshal(b, &p) != nil || p.Format != Format {
		return Parts{}, false
	}
	return p, true
}

// PlainHash is an unkeyed short hash, for text the journal could hold in
// the clear (definitions, scripts).
func PlainHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// defaultKey stands in when the caller has no key of its own (tests).
var defaultKey = []byte("velocity explain: no data directory key")

// Hasher makes the keyed hashes of values that must not be guessable from
// the journal.
type Hasher struct{ key []byte }

// NewHasher returns a Hasher under key; nil key uses a fixed one.
func NewHasher(key []byte) Hasher {
	if len(key) == 0 {
		key = defaultKey
	}
	return Hasher{key: key}
}

// Hash is a keyed hash of value in the context of kind and name, so that
// equal values under different names are not visibly equal.
func (h Hasher) Hash(kind, name, value string) string {
	m := hmac.New(sha256.New, h.key)
	fmt.Fprintf(m, "%s\x00%s\x00", kind, name)
	io.WriteString(m, value)
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// list is the stored form of an input file list: two strings of
// NUL-separated fields (no path holds a NUL), which decode several times
// faster than 10,000 JSON strings each.
type list struct {
	Format int    `json:"format"`
	Paths  string `json:"paths"`
	// Entries say what each path was: the first 16 hex digits of its
	// content digest (plus "+x" when executable), "link:TARGET" or "dir".
	Entries string `json:"entries"`
}

// entry is what a file of a list records of it.
func entry(f artifact.File) string {
	switch {
	case f.Mode&fs.ModeSymlink != 0:
		return "link:" + f.Link
	case f.Mode.IsDir():
		return "dir"
	}
	e := f.Digest.Hex()
	if len(e) > 16 {
		e = e[:16]
	}
	if f.Mode&0o111 != 0 {
		e += "+x"
	}
	return e
}

// EncodeList is the gzip-compressed JSON of files' list, for the blob
// store; content-addressed, the same list is stored once.
func EncodeList(files []artifact.File) []byte {
	sorted := append([]artifact.File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var paths, entries strings.Builder
	for i, f := range sorted {
		if i > 0 {
			paths.WriteByte(0)
			entries.WriteByte(0)
		}
		paths.WriteString(f.Path)
		entries.WriteString(entry(f))
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	json.NewEncoder(zw).Encode(list{Format: Format, Paths: paths.String(), Entries: entries.String()})
	zw.Close()
	return buf.Bytes()
}

// ReadList reads a list EncodeList made: path → entry.
func ReadList(r io.Reader) (map[string]string, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("input list: %w", err)
	}
	var l list
	if err := json.NewDecoder(zr).Decode(&l); err != nil {
		return nil, fmt.Errorf("input list: %w", err)
	}
	// Reading to the end lets a verifying reader check the digest.
	io.Copy(io.Discard, zr)
	if l.Format != Format {
		return nil, fmt.Errorf("input list: format %d, want %d", l.Format, Format)
	}
	if l.Paths == "" {
		return map[string]string{}, nil
	}
	paths, entries := strings.Split(l.Paths, "\x00"), strings.Split(l.Entries, "\x00")
	if len(paths) != len(entries) {
		return nil, fmt.Errorf("input list: %d paths and %d entries", len(paths), len(entries))
	}
	m := make(map[string]string, len(paths))
	for i, p := range paths {
		m[p] = entries[i]
	}
	return m, nil
}
