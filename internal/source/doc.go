// Package source makes the workspace a run works on: a private copy of the
// project, so that a pipeline can build, generate and delete files without
// touching the user's checkout, and so that edits made while a run is going
// do not leak into it.
//
// A project keeps its workspace from run to run (Workspaces hands out a
// stable directory per project, one per concurrent run), and Take
// synchronises it: unchanged files keep their mtime, so tools' own caches
// keyed by path and mtime hit, while everything the project does not have
// is removed, so no run sees what an earlier one left.
//
// Take copies either the work tree as it is (tracked files plus untracked,
// non-ignored ones — what `git status` would call the project) or, with
// Options.Rev, exactly one commit's tree. Outside git the directory is copied
// as it is. The result says which commit and branch the copy is based on and
// whether it holds uncommitted changes, so run history can record it.
//
// The user's checkout is only ever read: git is run with commands that do not
// write (no stash, worktree or checkout) and with GIT_OPTIONAL_LOCKS=0 so that
// `git status` does not refresh the index. Commit contents are read with
// `git ls-tree` and `git cat-file --batch` rather than `git archive`, because
// archive honours the export-ignore and export-subst attributes and would
// silently drop or rewrite files (export-ignore on test directories is common)
// — a run of a commit must see that commit's tree, byte for byte.
//
// Every write goes through an os.Root opened on the destination, and paths
// coming from git are checked before use, so a hostile tree (entries named
// "..", ".git", or files under a symlink) cannot make Take write outside the
// workspace or plant a repository in it. Symlinks are copied as symlinks,
// with their targets unchanged, never followed.
package source
