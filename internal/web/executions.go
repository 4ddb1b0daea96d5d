package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

// executionRoutes serves the list of workflow executions, each
// execution's page (its state machine drawn with the path taken, its
// history) and its stop and redrive buttons.
func (s *Site) executionRoutes(mux *http.ServeMux) {
	if s.Executions == nil {
		return
	}
	mux.HandleFunc("GET /executions", s.executionList)
	mux.HandleFunc("GET /executions/{ref}", s.execution)
	mux.Handle("POST /executions/{ref}/stop", s.action(access.Developer, s.stopExecution))
	mux.Handle("POST /executions/{ref}/redrive", s.action(access.Developer, s.redriveExecution))
}

// executionListPage is what templates/executions.html shows.
type executionListPage struct {
	Executions []executionRow
	// Status and StateMachine are the filters in use; Statuses those
	// offered.
	Status       string
	StateMachine string
	Statuses     []executionStatusOption
	Problem      string
	// Limited: there may be older executions than those listed.
	Limited bool
}

// executionListLimit is how many executions the list shows, newest
// first.
const executionListLimit = 100

type executionRow struct {
	store.Execution
	Class string
}

// executionStatusOption is an execution status with its CSS class.
type executionStatusOption struct {
	Name, Class string
}

func executionStatusOf(st store.ExecutionStatus) executionStatusOption {
	return executionStatusOption{Name: string(st), Class: strings.ToLower(strings.ReplaceAll(string(st), "_", "-"))}
}

func (s *Site) executionList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page := executionListPage{Status: q.Get("status"), StateMachine: q.Get("state_machine")}
	for _, st := range executions.Statuses() {
		page.Statuses = append(page.Statuses, executionStatusOf(st))
	}
	code := http.StatusOK
	if page.Status != "" && !slices.Contains(executions.Statuses(), store.ExecutionStatus(page.Status)) {
		code = http.StatusBadRequest
		page.Problem = fmt.Sprintf("There is no status %q; choose one of the filters.", page.Status)
	} else {
		es, err := s.Executions.List(r.Context(), store.ExecutionFilter{
			Status: store.ExecutionStatus(page.Status), StateMachine: page.StateMachine, Limit: executionListLimit,
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		page.Limited = len(es) == executionListLimit
		for _, e := range es {
			page.Executions = append(page.Executions, executionRow{Execution: e, Class: executionStatusOf(e.Status).Class})
		}
	}
	s.renderStatus(w, r, code, "executions", "Workflow executions", "executions", page)
}

// executionPage is what templates/executions_show.html shows.
type executionPage struct {
	executions.Description
	StatusClass string
	// Waiting names the states that wait for a task token (never the
	// token: whoever has it can end the task).
	Waiting  []string
	Children []store.Execution
	// Input and Output are the execution's, indented; they stand before
	// the raw ones of the Description.
	Input      string
	Output     string
	Graph      stateGraph
	GraphError string
	// Composites are the Map and Parallel states with their counts.
	Composites []compositeView
	Visits     []visitView
	// VisitsLeft and EventsLeft count what the tables leave out.
	VisitsLeft int
	Events     []historyRow
	EventsLeft int
	Done       string
	Problem    string
	Operate    bool
	CanStop    bool
	CanRedrive bool
}

// compositeView is a Map or Parallel state and how its items (Map) or
// branches (Parallel) stand in its latest run.
type compositeView struct {
	Name, Type string
	Counts     itemCounts
}

type historyRow struct {
	ID     int64
	At     time.Time
	Type   string
	State  string
	Detail string
}

// The tables of an execution's page are cut at these lengths: a Map of
// thousands of items must not make a page of megabytes.
const (
	maxStateVisitRows = 300
	maxHistoryRows    = 1000
)

func (s *Site) execution(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var done string
	switch q.Get("done") {
	case "stop":
		done = "The execution was stopped."
	case "redrive":
		done = "The execution was redriven: it runs again from where it failed."
	}
	s.renderExecution(w, r, http.StatusOK, done, "")
}

// renderExecution renders the page of the execution the path names,
// with code and a message.
func (s *Site) renderExecution(w http.ResponseWriter, r *http.Request, code int, done, problem string) {
	ctx := r.Context()
	e, err := s.Executions.Find(ctx, r.PathValue("ref"))
	if err != nil {
		s.executionError(w, r, err)
		return
	}
	d, err := s.Executions.Describe(ctx, e)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	events, err := s.Executions.History(ctx, e.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := executionPage{Description: d, Done: done, Problem: problem, Operate: s.canOperate(r),
		Input: indentedJSON(e.Input), Output: indentedJSON(e.Output)}
	page.StatusClass = executionStatusOf(e.Status).Class
	page.CanStop = !e.Status.Final()
	page.CanRedrive = e.Status == store.ExecutionFailed || e.Status == store.ExecutionTimedOut || e.Status == store.ExecutionAborted
	for _, t := range d.Waiting {
		page.Waiting = append(page.Waiting, t.State)
	}
	if e.ARN != "" {
		if page.Children, err = s.Executions.List(ctx, store.ExecutionFilter{Parent: e.ARN}); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	page.fill(e, events)
	s.renderStatus(w, r, code, "executions_show", "Execution "+e.Name, "executions", page)
}

// fill draws the execution's state machine with what its history says
// of each state, and the tables of its visits and events.
func (p *executionPage) fill(e store.Execution, events []executions.Event) {
	machine, err := parseMachine(e.Definition)
	if err != nil {
		p.GraphError = "The definition could not be read to draw it: " + err.Error()
		machine = &aslMachine{}
	}
	walk := walkHistory(machine, events)
	if err == nil {
		p.Graph = drawMachine(machine, walk)
	}
	for _, name := range machine.composites() {
		st := machine.find(name)
		p.Composites = append(p.Composites, compositeView{Name: name, Type: st.Type, Counts: walk.counts(name, st.Type)})
	}
	for i, v := range walk.visits {
		if i == maxStateVisitRows {
			p.VisitsLeft = len(walk.visits) - i
			break
		}
		p.Visits = append(p.Visits, visitView{State: v.state, Label: walk.labels[v.scope], Status: v.status,
			Entered: v.entered, Exited: v.exited, Input: indentedJSON([]byte(v.input)), Output: indentedJSON([]byte(v.output)), Failure: v.failure})
	}
	for i, ev := range events {
		if i == maxHistoryRows {
			p.EventsLeft = len(events) - i
			break
		}
		name, detail := executions.EventSummary(ev)
		p.Events = append(p.Events, historyRow{ID: ev.ID, At: ev.Timestamp, Type: string(ev.Type), State: name, Detail: detail})
	}
}

type visitView struct {
	State, Label, Status string
	Entered, Exited      time.Time
	Input, Output        string
	Failure              string
}

func (s *Site) stopExecution(w http.ResponseWriter, r *http.Request) {
	e, err := s.Executions.Find(r.Context(), r.PathValue("ref"))
	if err != nil {
		s.executionError(w, r, err)
		return
	}
	cause := strings.TrimSpace(r.FormValue("cause"))
	if cause == "" {
		cause = "stopped from the web UI"
		if u, ok := s.user(r); ok && u.Name != "" {
			cause += " by " + u.Name
		}
	}
	// The stop is journaled before Stop waits for the execution to end;
	// that wait is not given up when the browser goes away.
	if _, err := s.Executions.Stop(context.WithoutCancel(r.Context()), e, strings.TrimSpace(r.FormValue("error")), cause); err != nil {
		s.executionActionError(w, r, "Stop", err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/executions/%d?done=stop", e.ID), http.StatusSeeOther)
}

func (s *Site) redriveExecution(w http.ResponseWriter, r *http.Request) {
	e, err := s.Executions.Find(r.Context(), r.PathValue("ref"))
	if err != nil {
		s.executionError(w, r, err)
		return
	}
	run, err := s.Executions.Redrive(context.WithoutCancel(r.Context()), e)
	if err != nil {
		s.executionActionError(w, r, "Redrive", err)
		return
	}
	// The server runs it on, as a redrive through the Step Functions
	// API does; the page shows its progress.
	run.Background(executions.Progress{})
	http.Redirect(w, r, fmt.Sprintf("/executions/%d?done=redrive", e.ID), http.StatusSeeOther)
}

// executionActionError shows why a button did nothing on the
// execution's page.
func (s *Site) executionActionError(w http.ResponseWriter, r *http.Request, what string, err error) {
	code, msg := executionErrorStatus(err), err.Error()
	if code == http.StatusInternalServerError {
		s.log().Error(strings.ToLower(what)+" execution", "ref", r.PathValue("ref"), "err", err)
		msg = "it failed; the server's log has the details"
	}
	s.renderExecution(w, r, code, "", what+": "+msg)
}

// executionError answers a reference that names no execution with 404
// and the reason, anything else as a server failure.
func (s *Site) executionError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *executions.FindError
	if errors.As(err, &fe) || errors.Is(err, store.ErrNotFound) {
		http.Error(w, err.Error()+" (see /executions)", http.StatusNotFound)
		return
	}
	s.fail(w, r, err)
}

// executionErrorStatus maps the executions service's errors: its
// ErrInvalid is the request's fault; the rest by their kind.
func executionErrorStatus(err error) int {
	if errors.Is(err, executions.ErrInvalid) {
		return http.StatusConflict
	}
	return server.StatusOf(err)
}

// indentedJSON indents a JSON document for a <pre>; what is not JSON is
// shown as it is, and nothing as "".
func indentedJSON(b []byte) string {
	if len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// aslMachine is what the drawing reads of a state machine: its states
// and their transitions. The service checked the definition when the
// execution started; this reads its structure only.
type aslMachine struct {
	StartAt string               `json:"StartAt"`
	States  map[string]*aslState `json:"States"`
}

type aslState struct {
	Type    string `json:"Type"`
	Next    string `json:"Next"`
	End     bool   `json:"End"`
	Default string `json:"Default"`
	Choices []struct {
		Next string `json:"Next"`
	} `json:"Choices"`
	Catch []struct {
		Next string `json:"Next"`
	} `json:"Catch"`
	// ItemProcessor (or its older name Iterator) is a Map's machine;
	// Branches a Parallel's.
	ItemProcessor *aslMachine   `json:"ItemProcessor"`
	Iterator      *aslMachine   `json:"Iterator"`
	Branches      []*aslMachine `json:"Branches"`
}

// parseMachine reads a definition in JSON or YAML.
func parseMachine(src []byte) (*aslMachine, error) {
	var m aslMachine
	err := json.Unmarshal(src, &m)
	if err == nil {
		return &m, nil
	}
	j, yerr := yaml.YAMLToJSON(src)
	if yerr != nil {
		return nil, fmt.Errorf("neither JSON (%v) nor YAML (%w)", err, yerr)
	}
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// processor is a Map's item processor; nil for other states.
func (st *aslState) processor() *aslMachine {
	if st.ItemProcessor != nil {
		return st.ItemProcessor
	}
	return st.Iterator
}

// inner are the machines a Map or Parallel runs.
func (st *aslState) inner() []*aslMachine {
	if p := st.processor(); p != nil {
		return []*aslMachine{p}
	}
	return st.Branches
}

// aslTransition is an edge of the graph.
type aslTransition struct {
	to, kind string // kind: next, choice, default, catch
}

func (st *aslState) transitions() []aslTransition {
	var out []aslTransition
	if st.Next != "" {
		out = append(out, aslTransition{st.Next, "next"})
	}
	for _, c := range st.Choices {
		if c.Next != "" {
			out = append(out, aslTransition{c.Next, "choice"})
		}
	}
	if st.Default != "" {
		out = append(out, aslTransition{st.Default, "default"})
	}
	for _, c := range st.Catch {
		if c.Next != "" {
			out = append(out, aslTransition{c.Next, "catch"})
		}
	}
	return out
}

// terminal reports whether a branch or iteration ends after st.
func (st *aslState) terminal() bool {
	return st.End || st.Type == "Succeed" || st.Type == "Fail"
}

// order lists m's states from StartAt along the transitions (breadth
// first), then those no transition reaches, by name.
func (m *aslMachine) order() []string {
	var out []string
	seen := map[string]bool{}
	queue := []string{m.StartAt}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		st := m.States[name]
		if st == nil || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, name)
		for _, t := range st.transitions() {
			queue = append(queue, t.to)
		}
	}
	var rest []string
	for name := range m.States {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// find is the state called name anywhere in m: names are unique in the
// whole state machine, branches and item processors included.
func (m *aslMachine) find(name string) *aslState {
	if st := m.States[name]; st != nil {
		return st
	}
	for _, st := range m.States {
		for _, in := range st.inner() {
			if found := in.find(name); found != nil {
				return found
			}
		}
	}
	return nil
}

// composites lists the Map and Parallel states of m, nested ones
// after their parent, in drawing order.
func (m *aslMachine) composites() []string {
	var out []string
	for _, name := range m.order() {
		st := m.States[name]
		if st.Type == "Map" || st.Type == "Parallel" {
			out = append(out, name)
		}
		for _, in := range st.inner() {
			out = append(out, in.composites()...)
		}
	}
	return out
}

// parents maps each state inside a Map or Parallel to that state, and
// each state inside a Parallel to the number of its branch (from 1).
func (m *aslMachine) parents(parent map[string]string, branch map[string]int) {
	for name, st := range m.States {
		for i, in := range st.inner() {
			for inner := range in.States {
				parent[inner] = name
				branch[inner] = i + 1
			}
			in.parents(parent, branch)
		}
	}
}

// The statuses a state's box shows. A state that failed and went on by
// a Catch is caught.
const (
	visitPending   = "pending"
	visitRunning   = "running"
	visitSucceeded = "succeeded"
	visitFailed    = "failed"
	visitCaught    = "caught"
	visitAborted   = "aborted"
	visitTimedOut  = "timed-out"
)

// visitRank orders statuses for a state visited in several scopes (the
// iterations of a Map): the most telling one shows.
var visitRank = map[string]int{visitSucceeded: 1, visitCaught: 2, visitAborted: 3, visitTimedOut: 4, visitFailed: 5, visitRunning: 6}

// stateVisit is one entry into a state, in one scope (the top level, a
// Map iteration, a Parallel branch).
type stateVisit struct {
	state, scope    string
	status          string
	entered, exited time.Time
	input, output   string
	failure         string
}

// historyWalk is what an execution's history says of its states.
type historyWalk struct {
	visits []*stateVisit
	// latest is each state's latest visit by scope; current each
	// scope's latest visit.
	latest  map[string]map[string]*stateVisit
	current map[string]*stateVisit
	taken   map[[2]string]bool
	// labels name the scopes of iterations and branches for people.
	labels map[string]string
	// iterations are the scopes of each Map's and Parallel's latest
	// run, with the status of each; owner the Map or Parallel of each
	// such scope.
	iterations map[string]map[string]string
	owner      map[string]string
	// redriven marks the Maps and Parallels a redrive started again
	// since they last started.
	redriven map[string]bool
	parent   map[string]string
	branch   map[string]int
	machine  *aslMachine
}

// eventDetails are the fields of an event's details the walk reads.
type eventDetails struct {
	Name   string          `json:"name"`
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
	Index  *int            `json:"index"`
}

// walkHistory follows events through the states of m: which were
// entered, how each visit ended, which transitions were taken and how
// the items of each Map and the branches of each Parallel stand.
// Events are attributed by their scope, whose form it does not read.
func walkHistory(m *aslMachine, events []executions.Event) *historyWalk {
	w := &historyWalk{latest: map[string]map[string]*stateVisit{}, current: map[string]*stateVisit{},
		taken: map[[2]string]bool{}, labels: map[string]string{}, iterations: map[string]map[string]string{}, owner: map[string]string{},
		redriven: map[string]bool{},
		parent:   map[string]string{}, branch: map[string]int{}, machine: m}
	m.parents(w.parent, w.branch)
	for _, ev := range events {
		var d eventDetails
		if len(ev.Details) > 0 {
			json.Unmarshal(ev.Details, &d)
		}
		w.step(ev, d)
	}
	return w
}

func (w *historyWalk) step(ev executions.Event, d eventDetails) {
	t, scope := string(ev.Type), ev.Scope
	cur := w.current[scope]
	switch {
	case strings.HasSuffix(t, "StateEntered"):
		w.enter(ev, d)
	case strings.HasSuffix(t, "StateExited"):
		if cur != nil && cur.state == d.Name {
			cur.exited, cur.output = ev.Timestamp, detailsText(d.Output)
			if cur.status == visitFailed {
				cur.status = visitCaught
			} else {
				cur.status = visitSucceeded
			}
		}
	case t == "MapIterationStarted" || t == "MapIterationSucceeded" || t == "MapIterationFailed" || t == "MapIterationAborted":
		w.iteration(t, scope, d)
	case t == "MapStateStarted" || t == "ParallelStateStarted":
		if cur != nil {
			w.restart(cur.state)
			cur.status = visitRunning
		}
	case strings.HasSuffix(t, "StateAborted"):
		if cur != nil {
			cur.status = visitAborted
			w.settle(cur.state, visitAborted)
		}
	case t == "ExecutionFailed" || t == "ExecutionTimedOut" || t == "ExecutionAborted":
		w.end(map[string]string{"ExecutionFailed": visitFailed, "ExecutionTimedOut": visitTimedOut, "ExecutionAborted": visitAborted}[t])
	case t == "ExecutionRedriven":
		w.redrive()
	case strings.HasPrefix(t, "Execution"):
	case strings.HasSuffix(t, "Failed") || strings.HasSuffix(t, "TimedOut"):
		if cur != nil && cur.exited.IsZero() {
			cur.status = visitFailed
			if strings.HasSuffix(t, "TimedOut") {
				cur.status = visitTimedOut
			}
			cur.failure = strings.TrimSuffix(d.Error+": "+d.Cause, ": ")
			// A Map or Parallel that fails stops what still runs in it.
			w.settle(cur.state, visitAborted)
		}
	case strings.HasSuffix(t, "Scheduled") || strings.HasSuffix(t, "Started"):
		// A retry of a state that failed.
		if cur != nil && cur.exited.IsZero() && (cur.status == visitFailed || cur.status == visitTimedOut) {
			cur.status = visitRunning
		}
	}
}

// enter starts a visit of state d.Name in the event's scope.
func (w *historyWalk) enter(ev executions.Event, d eventDetails) {
	scope := ev.Scope
	v := &stateVisit{state: d.Name, scope: scope, status: visitRunning, entered: ev.Timestamp, input: detailsText(d.Input)}
	if ev.Type == "FailStateEntered" {
		v.status = visitFailed
	}
	if prev := w.current[scope]; prev != nil {
		w.taken[[2]string{prev.state, d.Name}] = true
	} else if p := w.parent[d.Name]; p != "" && w.machine.find(p).Type == "Parallel" {
		// The first state of a Parallel's branch.
		if w.iterations[p] == nil {
			w.iterations[p] = map[string]string{}
		}
		w.iterations[p][scope] = visitRunning
		w.owner[scope] = p
		w.labels[scope] = fmt.Sprintf("%s branch %d", p, w.branch[d.Name])
	}
	if owner := w.owner[scope]; owner != "" && w.iterations[owner][scope] == visitPending {
		// An item a redrive runs again, whose start was recorded before.
		w.iterations[owner][scope] = visitRunning
	}
	w.current[scope] = v
	if w.latest[d.Name] == nil {
		w.latest[d.Name] = map[string]*stateVisit{}
	}
	w.latest[d.Name][scope] = v
	w.visits = append(w.visits, v)
}

// iteration records how a Map's item fares.
func (w *historyWalk) iteration(t, scope string, d eventDetails) {
	if w.iterations[d.Name] == nil {
		w.iterations[d.Name] = map[string]string{}
	}
	status := map[string]string{"MapIterationStarted": visitRunning, "MapIterationSucceeded": visitSucceeded,
		"MapIterationFailed": visitFailed, "MapIterationAborted": visitAborted}[t]
	w.iterations[d.Name][scope] = status
	w.owner[scope] = d.Name
	// An item that fails or is aborted ends the state it was in.
	if cur := w.current[scope]; cur != nil && cur.status == visitRunning && (status == visitFailed || status == visitAborted) {
		cur.status = status
	}
	if d.Index != nil {
		w.labels[scope] = fmt.Sprintf("%s item %d", d.Name, *d.Index)
	}
}

// end marks what was still running when the execution ended.
func (w *historyWalk) end(status string) {
	for _, v := range w.current {
		if v.status == visitRunning {
			v.status = status
		}
	}
	for _, its := range w.iterations {
		for scope, st := range its {
			if st == visitRunning {
				its[scope] = status
			}
		}
	}
}

// settle gives what still runs in Map or Parallel name status.
func (w *historyWalk) settle(name, status string) {
	for scope, st := range w.iterations[name] {
		if st == visitRunning {
			w.iterations[name][scope] = status
		}
		if v := w.current[scope]; v != nil && v.status == visitRunning {
			v.status = status
		}
	}
}

// redrive makes the items and branches that did not succeed, in the
// Maps and Parallels that did not, pending: the redrive runs them again.
func (w *historyWalk) redrive() {
	for name, its := range w.iterations {
		if st := w.status(name); st == visitSucceeded || st == visitCaught {
			continue
		}
		w.redriven[name] = true
		for scope, st := range its {
			if st != visitSucceeded {
				its[scope] = visitPending
			}
		}
	}
}

// restart begins a new run of Map or Parallel name: a retry runs every
// item again; a redrive only those that did not succeed, and records
// nothing of the others, which therefore stay.
func (w *historyWalk) restart(name string) {
	its := w.iterations[name]
	if !w.redriven[name] {
		w.iterations[name] = map[string]string{}
		return
	}
	delete(w.redriven, name)
	for scope, st := range its {
		if st != visitSucceeded {
			delete(its, scope)
		}
	}
}

// status is how a state stands: its latest visit in each scope, the
// most telling of them; pending when it was never entered.
func (w *historyWalk) status(name string) string {
	best := visitPending
	for _, v := range w.latest[name] {
		if visitRank[v.status] > visitRank[best] {
			best = v.status
		}
	}
	return best
}

// itemCounts are the items of a Map, or the branches of a Parallel, in
// its latest run.
type itemCounts struct {
	Succeeded, Failed, Running, Aborted int
}

func (c itemCounts) String() string {
	return fmt.Sprintf("%d succeeded · %d failed · %d running", c.Succeeded, c.Failed, c.Running)
}

// counts tells how the items of Map name, or the branches of Parallel
// name, stand.
func (w *historyWalk) counts(name, typ string) itemCounts {
	var c itemCounts
	for scope, status := range w.iterations[name] {
		if typ == "Parallel" {
			status = w.branchStatus(scope, status)
		}
		switch status {
		case visitSucceeded:
			c.Succeeded++
		case visitFailed, visitTimedOut:
			c.Failed++
		case visitRunning:
			c.Running++
		case visitAborted:
			c.Aborted++
		}
	}
	return c
}

// branchStatus is how a Parallel's branch stands, from its latest
// visit: it succeeded once a state that ends it succeeded; a state
// that went on (even by a Catch) leaves it running.
func (w *historyWalk) branchStatus(scope, recorded string) string {
	v := w.current[scope]
	switch {
	case v == nil:
		return recorded
	case v.status == visitSucceeded && w.machine.find(v.state) != nil && w.machine.find(v.state).terminal():
		return visitSucceeded
	case v.status == visitSucceeded || v.status == visitCaught:
		// Between two states: running, or as the execution ended.
		return recorded
	}
	return v.status
}

// detailsText is the text of a details field that holds JSON as a string.
func detailsText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// stateGraph is a state machine drawn as SVG: boxes and edges in the
// order they are painted (a Map's or Parallel's box under the machines
// it runs).
type stateGraph struct {
	W, H  int
	Items []stateGraphItem
}

// stateGraphItem is one box or one edge.
type stateGraphItem struct {
	Box  *stateBox
	Edge *stateEdge
}

type stateBox struct {
	Name, Label, Type, Status string
	X, Y, W, H                int
	Composite                 bool
	// Counts are a Map's items or a Parallel's branches.
	Counts string
}

type stateEdge struct {
	D, Kind string
	Taken   bool
}

// Sizes of the drawing, in pixels. Names are measured at stateCharW a
// character, which is about what 12px text takes.
const (
	stateBoxH      = 36
	stateBoxMinW   = 100
	stateBoxMaxW   = 220
	stateCharW     = 7
	stateGapX      = 24
	stateGapY      = 34
	stateInnerPad  = 12
	stateHeaderH   = 44
	stateLoopRoom  = 40
	stateGraphPad  = 12
	stateMaxNested = 8
)

// machineLayout is a state machine's boxes placed relative to its top
// left corner.
type machineLayout struct {
	w, h  int
	nodes []*placedState
	edges [][3]string // from, to, kind
	back  map[[2]string]bool
	index map[string]*placedState
	// loops: some edge goes round by the right (a loop, or within a
	// row); skips: some edge skips a row and goes round by the left.
	loops, skips bool
}

type placedState struct {
	name       string
	st         *aslState
	x, y, w, h int
	layer      int
	inner      []*machineLayout
}

// drawMachine lays m out top to bottom, one row per layer (the longest
// path from StartAt, loops aside), and colours each state by what walk
// says of it.
func drawMachine(m *aslMachine, walk *historyWalk) stateGraph {
	lo := layoutMachine(m, 0)
	g := stateGraph{W: lo.w + 2*stateGraphPad, H: lo.h + 2*stateGraphPad}
	g.emit(lo, stateGraphPad, stateGraphPad, walk)
	return g
}

func layoutMachine(m *aslMachine, depth int) *machineLayout {
	lo := &machineLayout{back: map[[2]string]bool{}, index: map[string]*placedState{}}
	order := m.order()
	for _, name := range order {
		p := &placedState{name: name, st: m.States[name]}
		lo.nodes = append(lo.nodes, p)
		lo.index[name] = p
		for _, t := range p.st.transitions() {
			if m.States[t.to] != nil {
				lo.edges = append(lo.edges, [3]string{name, t.to, t.kind})
			}
		}
	}
	lo.findBackEdges(m, order)
	lo.assignLayers()
	for _, p := range lo.nodes {
		p.size(depth)
	}
	lo.place()
	return lo
}

// findBackEdges marks the edges that close a loop (to a state on the
// current path of a depth-first walk), so that layers follow the rest.
func (lo *machineLayout) findBackEdges(m *aslMachine, order []string) {
	const (
		unseen = iota
		onPath
		done
	)
	mark := map[string]int{}
	var visit func(name string)
	visit = func(name string) {
		mark[name] = onPath
		for _, t := range m.States[name].transitions() {
			if m.States[t.to] == nil {
				continue
			}
			switch mark[t.to] {
			case onPath:
				lo.back[[2]string{name, t.to}] = true
				lo.loops = true
			case unseen:
				visit(t.to)
			}
		}
		mark[name] = done
	}
	for _, name := range order {
		if mark[name] == unseen {
			visit(name)
		}
	}
}

// assignLayers puts each state one layer below the lowest state with a
// forward edge to it.
func (lo *machineLayout) assignLayers() {
	for changed, rounds := true, 0; changed && rounds <= len(lo.nodes); rounds++ {
		changed = false
		for _, e := range lo.edges {
			from, to := lo.index[e[0]], lo.index[e[1]]
			if !lo.back[[2]string{e[0], e[1]}] && to.layer < from.layer+1 {
				to.layer, changed = from.layer+1, true
			}
		}
	}
}

// size measures a state's box: a Map or Parallel holds the machines it
// runs side by side.
func (p *placedState) size(depth int) {
	p.w = min(max(len([]rune(p.name))*stateCharW+2*stateInnerPad, stateBoxMinW), stateBoxMaxW)
	p.h = stateBoxH
	if depth >= stateMaxNested {
		return
	}
	inner := p.st.inner()
	if len(inner) == 0 {
		return
	}
	w, h := 0, 0
	for i, in := range inner {
		lo := layoutMachine(in, depth+1)
		p.inner = append(p.inner, lo)
		if i > 0 {
			w += stateGapX
		}
		w += lo.w
		h = max(h, lo.h)
	}
	p.w = max(p.w, w+2*stateInnerPad, 2*stateBoxMinW)
	p.h = stateHeaderH + h + stateInnerPad
}

// place puts the rows under each other and centres each row.
func (lo *machineLayout) place() {
	var rows [][]*placedState
	for _, p := range lo.nodes {
		for len(rows) <= p.layer {
			rows = append(rows, nil)
		}
		rows[p.layer] = append(rows[p.layer], p)
	}
	widths := make([]int, len(rows))
	for i, row := range rows {
		for j, p := range row {
			if j > 0 {
				widths[i] += stateGapX
			}
			widths[i] += p.w
		}
		lo.w = max(lo.w, widths[i])
	}
	y := 0
	for i, row := range rows {
		if len(row) == 0 {
			continue
		}
		x, rowH := (lo.w-widths[i])/2, 0
		for _, p := range row {
			p.x, p.y = x, y
			x += p.w + stateGapX
			rowH = max(rowH, p.h)
		}
		y += rowH + stateGapY
	}
	lo.h = max(y-stateGapY, 0)
	for _, e := range lo.edges {
		if from, to := lo.index[e[0]], lo.index[e[1]]; !lo.back[[2]string{e[0], e[1]}] && to.layer > from.layer+1 {
			lo.skips = true
		}
	}
	if lo.skips {
		lo.w += stateLoopRoom
		for _, p := range lo.nodes {
			p.x += stateLoopRoom
		}
	}
	if lo.loops {
		lo.w += stateLoopRoom
	}
}

// emit appends lo's edges and boxes at (ox, oy), each composite box
// before what it holds.
func (g *stateGraph) emit(lo *machineLayout, ox, oy int, walk *historyWalk) {
	for _, e := range lo.edges {
		from, to := lo.index[e[0]], lo.index[e[1]]
		route := routeDown
		switch {
		case lo.back[[2]string{e[0], e[1]}] || from.layer == to.layer:
			route = routeRight
		case to.layer > from.layer+1:
			route = routeLeft
		}
		g.Items = append(g.Items, stateGraphItem{Edge: &stateEdge{
			D: lo.edgePath(from, to, ox, oy, route), Kind: e[2],
			Taken: walk.taken[[2]string{e[0], e[1]}],
		}})
	}
	for _, p := range lo.nodes {
		label := p.name
		if room := (stateBoxMaxW - 2*stateInnerPad) / stateCharW; len([]rune(label)) > room {
			label = string([]rune(label)[:room-1]) + "…"
		}
		b := &stateBox{Name: p.name, Label: label, Type: p.st.Type, Status: walk.status(p.name),
			X: ox + p.x, Y: oy + p.y, W: p.w, H: p.h, Composite: len(p.inner) > 0}
		if p.st.Type == "Map" || p.st.Type == "Parallel" {
			b.Counts = walk.counts(p.name, p.st.Type).String()
		}
		g.Items = append(g.Items, stateGraphItem{Box: b})
		w := 0
		for i, in := range p.inner {
			if i > 0 {
				w += stateGapX
			}
			w += in.w
		}
		x := ox + p.x + (p.w-w)/2
		for _, in := range p.inner {
			g.emit(in, x, oy+p.y+stateHeaderH, walk)
			x += in.w + stateGapX
		}
	}
}

// How an edge is drawn: down from one row to the next; round by the
// right (a loop back, or an edge within a row); round by the left (an
// edge that skips rows, so that it does not cross the boxes between).
const (
	routeDown = iota
	routeRight
	routeLeft
)

// edgePath is the SVG path of an edge from from to to in lo drawn at
// (ox, oy). Edges that go round run in the margin place left free for
// them, outside every row.
func (lo *machineLayout) edgePath(from, to *placedState, ox, oy int, route int) string {
	switch route {
	case routeRight:
		x1, y1 := ox+from.x+from.w, oy+from.y+stateBoxH/2
		x2, y2 := ox+to.x+to.w, oy+to.y+stateBoxH/2
		xm := ox + lo.w - stateLoopRoom/4
		return fmt.Sprintf("M%d %d C%d %d, %d %d, %d %d", x1, y1, xm, y1, xm, y2, x2, y2)
	case routeLeft:
		x1, y1 := ox+from.x, oy+from.y+stateBoxH/2
		x2, y2 := ox+to.x, oy+to.y+stateBoxH/2
		xm := ox + stateLoopRoom/4
		return fmt.Sprintf("M%d %d C%d %d, %d %d, %d %d", x1, y1, xm, y1, xm, y2, x2, y2)
	}
	x1, y1 := ox+from.x+from.w/2, oy+from.y+from.h
	x2, y2 := ox+to.x+to.w/2, oy+to.y
	dy := (y2 - y1) / 2
	return fmt.Sprintf("M%d %d C%d %d, %d %d, %d %d", x1, y1, x1, y1+dy, x2, y2-dy, x2, y2)
}
