package runtime

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// strayScript kills, when Velocity dies, the processes of its instances
// that left their process group, which the reaper (it knows groups) cannot
// reach. It reads "+ ID" and "- ID" lines; at EOF (the kernel closes the
// pipe however Velocity ends) it finds the processes whose environment
// holds VELOCITY_INSTANCE=ID for an ID still registered: one grep over
// /proc (-z: the entries of environ end with NUL; -x -F: the exact entry).
// Plain sh and grep, like the reaper, so it needs no second binary of ours.
const strayScript = `trap '' INT TERM HUP QUIT
ids=""
while read -r op id; do
  case $op in
  +) ids="$ids $id" ;;
  -) n=""; for x in $ids; do [ "$x" = "$id" ] || n="$n $x"; done; ids=$n ;;
  esac
done
[ -n "$ids" ] || exit 0
set --
for x in $ids; do set -- "$@" -e "` + markerVar + `=$x"; done
for f in $(grep -lzxF "$@" /proc/[0-9]*/environ 2>/dev/null); do
  p=${f#/proc/}
  kill -9 "${p%/environ}" 2>/dev/null
done
exit 0
`

// strayKiller owns the sh process running strayScript. Its methods are
// safe for concurrent use.
type strayKiller struct {
	mu  sync.Mutex
	w   io.WriteCloser
	cmd *exec.Cmd
}

func startStrayKiller() (*strayKiller, error) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("runtime: sh is needed to clean up after a crash: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	cmd := exec.Command(sh, "-c", strayScript)
	cmd.Stdin = pr
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	// Its own group, so that a signal to Velocity's group spares it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("runtime: start the stray killer: %w", err)
	}
	pr.Close()
	return &strayKiller{w: pw, cmd: cmd}, nil
}

func (s *strayKiller) send(op byte, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return
	}
	// A lost line only weakens crash clean-up; the instance is unaffected.
	_, _ = fmt.Fprintf(s.w, "%c %s\n", op, id)
}

// add registers an instance whose strays die if Velocity dies.
func (s *strayKiller) add(id string) { s.send('+', id) }

// remove unregisters an instance once nothing of it is left.
func (s *strayKiller) remove(id string) { s.send('-', id) }

// close stops the stray killer; the strays of instances still registered
// are killed.
func (s *strayKiller) close() error {
	s.mu.Lock()
	w := s.w
	s.w = nil
	s.mu.Unlock()
	if w == nil {
		return nil
	}
	w.Close()
	if err := s.cmd.Wait(); err != nil {
		return fmt.Errorf("runtime: stray killer: %w", err)
	}
	return nil
}
