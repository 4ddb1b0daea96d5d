// Package artifact keeps the files actions produce and the caches runs
// share, content-addressed so that a file stored twice takes space once and
// anything read back can be checked against the name it was stored under.
//
// Blobs is the store: a directory holding one file per distinct content,
// named by its SHA-256 (dir/sha256/ab/abcd…). Writers stream into a
// temporary file and rename it into place, so a reader never sees half a
// blob and several goroutines or processes can share one store without a
// lock. Every read hashes what it returns and fails with ErrCorrupt if the
// content no longer matches its name, so a damaged disk or a crash in the
// middle of a write costs a cache miss, never a wrong file in a workspace.
// Opening a blob refreshes its modification time, which Evict uses to drop
// the least recently used content first.
//
// On top of the store:
//
//   - Match expands output and input patterns (path.Match per segment, plus
//     "**" for any number of directories) over a workspace without following
//     symlinks or descending into .git.
//   - Collect stores the matched files and returns their manifest ([]File),
//     which also lists symlinks (by target, never followed) and matched
//     directories (so empty ones and directory modes survive); Restore
//     writes a manifest back into a workspace; HashFiles computes the same
//     manifest without storing anything, and TreeDigest reduces a manifest
//     to one digest for cache keys.
//   - PackDirs and UnpackDirs move whole directory trees (dependency caches
//     such as a Go build cache) as one tar blob.
//
// A symlink in outputs is stored as its target string, never followed. One
// that would mean something else where the output is restored (a relative
// target climbing out of the workspace, an absolute one into it) is
// refused; an absolute link to a system path, such as a virtualenv's
// interpreter, is kept as it is (see linkChecker).
//
// Paths that come from manifests, archives or patterns are checked before
// use, and every write into a workspace goes through an os.Root and refuses
// to pass through a symlink, so a hostile manifest or archive cannot write
// outside the workspace.
package artifact
