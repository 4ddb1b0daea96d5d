package source

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// fileIndex remembers, for each regular file of a workspace, what its
// content is and the stat data of the two files that had it: the
// project's file it was hashed from and the workspace's file it was
// written to. When both files still have the stat data recorded, their
// content is known without reading either, which is what lets a run of an
// unchanged project cost a stat per file instead of reading the project
// twice (git's index does the same for `git status`).
//
// It is kept per workspace, next to it ("<workspace>.index"), because what
// it says about the workspace's files holds only for that directory. It is
// an optimisation only: a missing, unreadable or foreign file is an empty
// index, and every file is then compared by content.
//
// Stat data cannot tell two writes apart within one tick of the file
// system's clock, so an entry whose file changed shortly before the index
// was saved is "racy" (as in git) and is verified by content next time.
type fileIndex struct {
	path    string // "" for an index that is not kept
	savedAt int64  // unix ns when the loaded file was written
	old     map[string]indexEntry

	// oldDirs and oldLinks are the workspace's directories (with their
	// stat data once the last update was done) and symlinks, so that a
	// directory nobody changed since need not be listed to be pruned.
	oldDirs  map[string]fileState
	racyDirs map[string]bool
	oldLinks map[string]bool
	children map[string][]string // built on first use

	mu       sync.Mutex
	next     map[string]indexEntry
	nextDirs map[string]fileState
	links    map[string]bool
	dirty    bool // next differs from what is on disk
}

// indexEntry is what the index knows of one regular file.
type indexEntry struct {
	// src is the project file's stat data when it was hashed; zero when
	// unknown (a commit's file, or a racy entry).
	src fileState
	// dst is the workspace file's stat data once it held the content;
	// zero when unknown.
	dst fileState
	// digest is the SHA-256 of the content, as artifact.Digest hashes it.
	digest [sha256.Size]byte
	// oid is the git blob id (hex) of the content as a commit named it,
	// "" when the file came from the work tree.
	oid string
}

// fileState is the stat data that changes whenever a file is written,
// replaced or chmodded (ctime moves with each of these, and no program can
// set it back).
type fileState struct {
	size  int64
	mtime int64 // ns
	ctime int64 // ns; 0 where the platform has none
	ino   uint64
	mode  uint32 // fs.FileMode
}

func (s fileState) known() bool { return s != fileState{} }

// racy reports whether s was taken too close to savedAt for a later
// write to be sure to change it: file systems stamp files from a clock
// that ticks every few milliseconds, or every second or two (FAT, some
// network file systems), and a write within the same tick leaves the
// stamps as they were.
func (s fileState) racy(savedAt int64) bool {
	window := int64(50 * time.Millisecond)
	if s.mtime%int64(time.Second) == 0 && s.ctime%int64(time.Second) == 0 {
		window = int64(2 * time.Second) // a clock of whole seconds
	}
	return s.mtime >= savedAt-window || s.ctime >= savedAt-window
}

// indexMagic starts every index file; indexVersion changes whenever the
// layout below does, and a file of another version is ignored.
const (
	indexMagic   = "velocity-file-index\n"
	indexVersion = 1
)

// The file, in order (integers as unsigned or zig-zag varints):
//
//	magic, version, savedAt (unix ns), entry count,
//	per entry: path (length + slash-separated bytes),
//	  src: size, mtime, ctime, ino, mode;  dst: size, mtime, ctime, ino, mode,
//	  digest (32 bytes), oid (length + hex bytes),
//	directory count, per directory: path, size, mtime, ctime, ino, mode,
//	symlink count, per symlink: path,
//	then the SHA-256 of everything before it, so that a torn or edited
//	file is recognised and ignored.

// loadIndex reads the index at path; anything wrong with the file yields
// an empty index, since the index only saves work. trustWorkspace false
// drops what it says about the workspace's files (a crashed update).
func loadIndex(path string, trustWorkspace bool) *fileIndex {
	x := &fileIndex{path: path, old: map[string]indexEntry{}, next: map[string]indexEntry{},
		oldDirs: map[string]fileState{}, oldLinks: map[string]bool{}, nextDirs: map[string]fileState{}, links: map[string]bool{}}
	if path == "" {
		return x
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return x
	}
	old, dirs, links, savedAt, err := decodeIndex(data)
	if err != nil {
		x.dirty = true
		return x
	}
	if trustWorkspace {
		x.oldDirs, x.oldLinks = dirs, links
		x.racyDirs = map[string]bool{}
		for p, st := range dirs {
			if st.racy(savedAt) {
				x.racyDirs[p] = true
			}
		}
	}
	x.savedAt = savedAt
	for p, e := range old {
		if e.src.racy(savedAt) {
			e.src = fileState{}
			x.dirty = true
		}
		if !trustWorkspace || e.dst.racy(savedAt) {
			e.dst = fileState{}
			x.dirty = true
		}
		old[p] = e
	}
	x.old = old
	return x
}

func decodeIndex(data []byte) (files map[string]indexEntry, dirs map[string]fileState, links map[string]bool, savedAt int64, err error) {
	bad := errors.New("not a velocity file index")
	if len(data) < len(indexMagic)+sha256.Size || !bytes.HasPrefix(data, []byte(indexMagic)) {
		return nil, nil, nil, 0, bad
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, nil, nil, 0, bad
	}
	r := bytes.NewReader(body[len(indexMagic):])
	u := func() uint64 {
		v, e := binary.ReadUvarint(r)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	i := func() int64 {
		v, e := binary.ReadVarint(r)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	str := func() string {
		n := u()
		if err != nil || n > uint64(r.Len()) {
			err = bad
			return ""
		}
		b := make([]byte, n)
		io.ReadFull(r, b)
		return string(b)
	}
	state := func() fileState {
		return fileState{size: i(), mtime: i(), ctime: i(), ino: u(), mode: uint32(u())}
	}
	count := func() uint64 {
		n := u()
		if n > uint64(len(data)) {
			err = bad
			return 0
		}
		return n
	}
	if v := u(); v != indexVersion {
		return nil, nil, nil, 0, bad
	}
	savedAt = i()
	n := count()
	files = make(map[string]indexEntry, n)
	for range n {
		p := str()
		e := indexEntry{src: state(), dst: state()}
		if _, e2 := io.ReadFull(r, e.digest[:]); e2 != nil && err == nil {
			err = e2
		}
		e.oid = str()
		if err != nil {
			return nil, nil, nil, 0, bad
		}
		files[p] = e
	}
	n = count()
	dirs = make(map[string]fileState, n)
	for range n {
		p := str()
		dirs[p] = state()
	}
	n = count()
	links = make(map[string]bool, n)
	for range n {
		links[str()] = true
	}
	if err != nil || r.Len() != 0 {
		return nil, nil, nil, 0, bad
	}
	return files, dirs, links, savedAt, nil
}

// putDir records directory rel of the workspace, with its stat data once
// the update is done.
func (x *fileIndex) putDir(rel string, st fileState) {
	p := filepath.ToSlash(rel)
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.oldDirs[p]; !ok || old != st {
		x.dirty = true
	}
	x.nextDirs[p] = st
}

// putLink records symlink rel of the workspace.
func (x *fileIndex) putLink(rel string) {
	p := filepath.ToSlash(rel)
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.oldLinks[p] {
		x.dirty = true
	}
	x.links[p] = true
}

// unchangedDir reports whether directory rel, whose stat data before this
// update was st, has had no entry added or removed since the index was
// saved; its entries are then those listed by children.
func (x *fileIndex) unchangedDir(rel string, st fileState) bool {
	p := filepath.ToSlash(rel)
	old, ok := x.oldDirs[p]
	return ok && !x.racyDirs[p] && st.known() && old == st
}

// childrenOf lists the names the workspace had in directory rel when the
// index was saved. Only the walking goroutine calls it.
func (x *fileIndex) childrenOf(rel string) []string {
	if x.children == nil {
		x.children = map[string][]string{}
		add := func(p string) {
			dir, name := path.Split(p)
			dir = strings.TrimSuffix(dir, "/")
			if dir == "" {
				dir = "."
			}
			x.children[dir] = append(x.children[dir], name)
		}
		for p := range x.old {
			add(p)
		}
		for p := range x.oldDirs {
			if p != "." {
				add(p)
			}
		}
		for p := range x.oldLinks {
			add(p)
		}
	}
	return x.children[filepath.ToSlash(rel)]
}

// get returns what the index knew of rel (a native relative path) when
// it was loaded.
func (x *fileIndex) get(rel string) (indexEntry, bool) {
	e, ok := x.old[filepath.ToSlash(rel)]
	return e, ok
}

// put records rel's entry for the next run.
func (x *fileIndex) put(rel string, e indexEntry) {
	p := filepath.ToSlash(rel)
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.old[p]; !ok || old != e {
		x.dirty = true
	}
	x.next[p] = e
}

// save writes the entries put since loading, atomically (a new file
// renamed over the old one), when they differ from what was loaded.
func (x *fileIndex) save() error {
	if x.path == "" || (!x.dirty && len(x.next) == len(x.old) && len(x.nextDirs) == len(x.oldDirs) && len(x.links) == len(x.oldLinks)) {
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(x.next) * 128)
	var tmp [binary.MaxVarintLen64]byte
	u := func(v uint64) { buf.Write(binary.AppendUvarint(tmp[:0], v)) }
	i := func(v int64) { buf.Write(binary.AppendVarint(tmp[:0], v)) }
	str := func(s string) { u(uint64(len(s))); buf.WriteString(s) }
	state := func(s fileState) { i(s.size); i(s.mtime); i(s.ctime); u(s.ino); u(uint64(s.mode)) }
	buf.WriteString(indexMagic)
	u(indexVersion)
	i(time.Now().UnixNano())
	u(uint64(len(x.next)))
	for p, e := range x.next {
		str(p)
		state(e.src)
		state(e.dst)
		buf.Write(e.digest[:])
		str(e.oid)
	}
	u(uint64(len(x.nextDirs)))
	for p, st := range x.nextDirs {
		str(p)
		state(st)
	}
	u(uint64(len(x.links)))
	for p := range x.links {
		str(p)
	}
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])

	f, err := os.CreateTemp(filepath.Dir(x.path), filepath.Base(x.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("saving the file index: %w", err)
	}
	w := bufio.NewWriter(f)
	_, err = w.Write(buf.Bytes())
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), x.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("saving the file index: %w", err)
	}
	return nil
}

// updateMarker is the file that says a workspace is being updated. It is
// made before the first change and removed once the index describes the
// result, so finding it means an update was cut short (a crash, kill -9,
// power loss): the workspace may be half updated, and what the index says
// about its files is not trusted.
func updateMarker(index string) string { return index + ".updating" }

// markUpdating creates the marker and reports whether one was already
// there.
func markUpdating(index string) (interrupted bool, err error) {
	if index == "" {
		return false, nil
	}
	m := updateMarker(index)
	if _, err := os.Lstat(m); err == nil {
		return true, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("workspace update marker: %w", err)
	}
	f, err := os.OpenFile(m, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return false, fmt.Errorf("workspace update marker: %w", err)
	}
	return false, f.Close()
}

// doneUpdating removes the marker.
func doneUpdating(index string) error {
	if index == "" {
		return nil
	}
	if err := os.Remove(updateMarker(index)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("workspace update marker: %w", err)
	}
	return nil
}
