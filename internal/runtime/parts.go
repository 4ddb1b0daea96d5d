package runtime

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// The parts below are what every runtime shares with Local, exported so
// that a runtime in another package (containers) keeps its instances'
// logs, IDs and restart delays exactly as Local does.

// Log is one instance's log: the program's output and the supervisor's
// notes, streamed to <dir>/<id>.log (rotated at 10 MiB), the last 200
// lines kept for LastLines, and followed by Logs readers. Output written
// to it must be masked already (secret.Masker): Log stores what it gets.
// Its methods are safe for concurrent use.
type Log struct{ l *instanceLog }

// OpenLog opens the log of instance id in dir; an empty dir keeps only the
// last lines in memory. logger hears about write failures.
func OpenLog(dir, id string, logger *slog.Logger) (*Log, error) {
	l, err := openInstanceLog(dir, id, logger)
	if err != nil {
		return nil, err
	}
	return &Log{l: l}, nil
}

// Write adds the program's output; it never fails, so that a full disk
// never blocks the program.
func (l *Log) Write(b []byte) (int, error) { return l.l.Write(b) }

// Note adds a line of the supervisor's own, prefixed "velocity: ".
func (l *Log) Note(msg string) { l.l.note(msg) }

// EndOfStream ends one run's output: a last line without a newline still
// counts as a line.
func (l *Log) EndOfStream() { l.l.endOfStream() }

// LastLines returns up to n of the last lines, oldest first.
func (l *Log) LastLines(n int) []string { return l.l.lastLines(n) }

// Follow streams the last tail lines, then every line written, until ctx
// ends or the log is closed (Instance.Logs).
func (l *Log) Follow(ctx context.Context, tail int) io.ReadCloser { return l.l.follow(ctx, tail) }

// Close ends every follower's stream and closes the file.
func (l *Log) Close() error { return l.l.close() }

// NewInstanceID names an instance of s: service-environment-random,
// readable and unique across releases and restarts of Velocity.
func NewInstanceID(s Spec) (string, error) { return newID(s) }

// Backoff is a restart delay following a RestartPolicy: it doubles after
// every crash up to the maximum and starts over after a program that ran
// for ResetAfter.
type Backoff struct{ b backoff }

// NewBackoff starts the delays of p, zero values taking the defaults.
func NewBackoff(p RestartPolicy) *Backoff {
	p = p.withDefaults()
	return &Backoff{b: backoff{policy: p, cur: p.Backoff}}
}

// Next is the delay before the next start of a program that ran for
// uptime.
func (b *Backoff) Next(uptime time.Duration) time.Duration { return b.b.next(uptime) }
