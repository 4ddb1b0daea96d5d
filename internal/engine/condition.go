package engine

import (
	"maps"
	"strings"

	"github.com/velocity-ci/velocity/internal/expr"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// condition evaluates n's if: when n is ready. The environment it sees
// is the one n's script would get, without secrets; the status functions
// look at every node finished before n may start (plan.Node.Before).
func (x *execution) condition(n *plan.Node) bool {
	f := x.run.Facts
	f.Env = envMap(x.env(n))
	f.Matrix = n.Cell
	x.mu.Lock()
	f.Cancelled = x.cancelled
	for _, b := range n.Before() {
		if x.final[b] == store.Failed && !b.AllowFailure {
			f.Failed = true
			break
		}
	}
	x.mu.Unlock()
	if n.Kind != "action" && !n.If.Expr.UsesStatus() {
		// on_failure and finally exist to run after a failure: the
		// implicit success() of a condition does not apply to them.
		f.Failed, f.Cancelled = false, false
	}
	return n.If.Expr.Eval(&f)
}

// stageFacts are what a stage's if: sees: the run's facts and the
// environment every action starts from.
func (x *execution) stageFacts() *expr.Facts {
	f := x.run.Facts
	env := envMap(x.run.Env)
	maps.Copy(env, x.run.Plan.Env)
	maps.Copy(env, envMap(x.run.Vars))
	f.Env = env
	return &f
}

// envMap turns KEY=value entries into a map; later entries win.
func envMap(kvs []string) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
