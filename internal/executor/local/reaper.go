package local

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// reaperScript reads "+ PGID" and "- PGID" lines and, when its input ends
// (Velocity exited or was killed: the kernel closes our end of the pipe),
// kills every group still registered. It is plain sh so that it starts in a
// millisecond and needs no second binary; it ignores the signals a terminal
// sends so that Ctrl-C cannot take it down before it has done its job.
const reaperScript = `trap '' INT TERM HUP QUIT
g=""
while read -r op p; do
  case $op in
  +) g="$g $p" ;;
  -) n=""; for x in $g; do [ "$x" = "$p" ] || n="$n $x"; done; g=$n ;;
  esac
done
for x in $g; do kill -9 -$x 2>/dev/null; done
`

// reaper owns the sh process described above.
type reaper struct {
	mu  sync.Mutex
	w   io.WriteCloser
	cmd *exec.Cmd
}

func startReaper() (*reaper, error) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("local executor: sh is needed to clean up after a crash: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("local executor: reaper pipe: %w", err)
	}
	cmd := exec.Command(sh, "-c", reaperScript)
	cmd.Stdin = pr
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("local executor: start reaper: %w", err)
	}
	pr.Close()
	return &reaper{w: pw, cmd: cmd}, nil
}

func (r *reaper) send(op byte, pgid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return
	}
	// A lost line only weakens crash clean-up; the step itself is unaffected.
	_, _ = fmt.Fprintf(r.w, "%c %d\n", op, pgid)
}

func (r *reaper) add(pgid int)    { r.send('+', pgid) }
func (r *reaper) remove(pgid int) { r.send('-', pgid) }

func (r *reaper) close() error {
	r.mu.Lock()
	w := r.w
	r.w = nil
	r.mu.Unlock()
	if w == nil {
		return nil
	}
	w.Close()
	return r.cmd.Wait()
}
