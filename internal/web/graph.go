package web

import (
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// The pipeline graph's geometry, in SVG user units (pixels at 1:1).
const (
	nodeW    = 168
	nodeH    = 44
	colGap   = 36 // between columns of needs inside a stage
	rowGap   = 12
	stageGap = 64 // between stages, room for the arrow
	headH    = 28 // the stage names above the nodes
	pad      = 8
)

// graph is a run's pipeline laid out for templates/run.html: stages as
// columns left to right; inside a stage, an action sits one column to
// the right of the deepest action it needs, so that the edges of needs
// run left to right as the work does.
type graph struct {
	Width, Height int
	Stages        []graphStage
	Nodes         []graphNode
	Edges         []graphEdge
	// Flow holds the arrows from each stage to the next: a stage starts
	// when the one before it succeeded.
	Flow []string
}

// graphStage is a stage's box: X and Width are those of its nodes, the
// box drawn around them with a margin.
type graphStage struct {
	Name        string
	X, Width, H int
}

// BoxX and BoxWidth are the left edge and width of the stage's box.
func (s graphStage) BoxX() int     { return s.X - pad/2 }
func (s graphStage) BoxWidth() int { return s.Width + pad }

type graphNode struct {
	// ID is "stage/name" (data-action), Anchor the id of its log.
	ID, Anchor, Label, Name string
	State                   store.Status
	Duration                string
	// CachedFrom is the run whose result a cache hit reused.
	CachedFrom int64
	X, Y       int
}

type graphEdge struct {
	From, To string
	// D is the path: a curve from the right side of the needed action
	// to the left side of the one needing it.
	D string
}

// layout places actions (a run's, in definition order).
func layout(actions []store.Action, now time.Time) graph {
	var g graph
	x := pad
	for _, stage := range byStage(actions) {
		cols := columns(stage)
		width := 0
		rows := map[int]int{}
		at := map[string]graphNode{}
		for i, a := range stage {
			col := cols[i]
			n := node(a, now)
			n.X, n.Y = x+col*(nodeW+colGap), pad+headH+rows[col]*(nodeH+rowGap)
			rows[col]++
			width = max(width, (col+1)*(nodeW+colGap)-colGap)
			at[a.Name] = n
			g.Nodes = append(g.Nodes, n)
		}
		g.Edges = append(g.Edges, edges(stage, at)...)
		h := 0
		for _, r := range rows {
			h = max(h, r*(nodeH+rowGap))
		}
		if len(g.Stages) > 0 {
			prev := g.Stages[len(g.Stages)-1]
			y := pad + headH + nodeH/2
			g.Flow = append(g.Flow, fmt.Sprintf("M%d %dH%dm-6 -4l6 4l-6 4", prev.X+prev.Width+pad, y, x-pad))
		}
		g.Stages = append(g.Stages, graphStage{Name: stage[0].Stage, X: x, Width: width, H: headH + h})
		g.Height = max(g.Height, pad+headH+h+pad)
		x += width + stageGap
	}
	g.Width = max(x-stageGap+pad, 2*pad)
	return g
}

// byStage splits actions into their stages, in order.
func byStage(actions []store.Action) [][]store.Action {
	var out [][]store.Action
	for i, a := range actions {
		if i == 0 || a.StageIndex != actions[i-1].StageIndex {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], a)
	}
	return out
}

// columns is the column of each action of a stage: one past the deepest
// of its needs; on_failure and finally actions that need nothing come
// after every other action, as they run last.
func columns(stage []store.Action) []int {
	col := make([]int, len(stage))
	index := map[string]int{}
	deepest := 0
	for i, a := range stage {
		index[a.Name] = i
		for _, need := range a.Needs {
			if j, ok := index[need]; ok {
				col[i] = max(col[i], col[j]+1)
			}
		}
		if a.Kind == store.KindAction || a.Kind == "" {
			deepest = max(deepest, col[i])
		}
	}
	for i, a := range stage {
		if a.Kind != store.KindAction && a.Kind != "" && len(a.Needs) == 0 {
			col[i] = deepest + 1
		}
	}
	return col
}

func node(a store.Action, now time.Time) graphNode {
	id := a.Stage + "/" + a.Name
	label := a.Name
	if r := []rune(label); len(r) > 20 {
		label = string(r[:19]) + "…"
	}
	n := graphNode{ID: id, Anchor: logAnchor(a.Stage, a.Name), Label: label, Name: id, State: a.Status,
		Duration: actionDuration(a, now)}
	if a.Status == store.Cached {
		n.CachedFrom = a.CachedFrom
	}
	return n
}

func edges(stage []store.Action, at map[string]graphNode) []graphEdge {
	var out []graphEdge
	for _, a := range stage {
		to := at[a.Name]
		for _, need := range a.Needs {
			from, ok := at[need]
			if !ok {
				continue
			}
			x1, y1 := from.X+nodeW, from.Y+nodeH/2
			x2, y2 := to.X, to.Y+nodeH/2
			mid := (x1 + x2) / 2
			out = append(out, graphEdge{From: from.ID, To: to.ID,
				D: fmt.Sprintf("M%d %dC%d %d %d %d %d %d", x1, y1, mid, y1, mid, y2, x2, y2)})
		}
	}
	return out
}

// actionDuration is how long a has run: until it finished, or until now
// while it runs; "" before it starts.
func actionDuration(a store.Action, now time.Time) string {
	switch {
	case a.Started.IsZero():
		return ""
	case a.Finished.IsZero():
		return short(now.Sub(a.Started))
	}
	return short(a.Finished.Sub(a.Started))
}

// short is a duration as people read it on a node: "850ms", "12.4s",
// "3m05s", "1h02m".
func short(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// logAnchor is the id of an action's log section, and the prefix of its
// lines' ids (L-STAGE-ACTION-N).
func logAnchor(stage, action string) string { return "log-" + stage + "-" + action }
