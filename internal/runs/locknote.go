package runs

import (
	"encoding/json"
	"os"
	"strings"
)

// LockNote is what a run's lock file says about the run, written by the
// owner when the run starts (when Config.Owner is set) and read by the
// command that finds the owner dead: who owned it, for the reason of the
// interruption, and the request it was started with, so that the owner's
// next start can resume it.
type LockNote struct {
	Owner string `json:"owner"`
	// Holder is the owner's name in the run's lease: a lease another
	// holder has means the run was taken over meanwhile.
	Holder  string       `json:"holder,omitempty"`
	Request StartRequest `json:"request"`
}

// ReadLockNote reads the note of the lock file at path; false when there
// is none or it is not one (a lock file of an older velocity is empty).
// The owner is taken only when it is a velocity command's name: reasons
// show it verbatim.
func ReadLockNote(path string) (LockNote, bool) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return LockNote{}, false
	}
	var n LockNote
	if err := json.Unmarshal(b, &n); err != nil {
		return LockNote{}, false
	}
	if !strings.HasPrefix(n.Owner, "velocity ") || len(n.Owner) > 64 || strings.ContainsAny(n.Owner, "\r\n") {
		return LockNote{}, false
	}
	return n, true
}

// note is the run's lock note.
func (x *runner) note() ([]byte, error) {
	req := x.req
	req.Definition = nil
	return json.Marshal(LockNote{Owner: x.svc.cfg.Owner, Holder: x.svc.holder, Request: req})
}
