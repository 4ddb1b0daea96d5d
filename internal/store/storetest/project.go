package storetest

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// RunProjects runs the projects' suite; open returns an empty store for
// each subtest.
func RunProjects(t *testing.T, open func(t *testing.T) store.Projects) {
	t.Run("CreateGetList", func(t *testing.T) { testProjectCreate(t, open(t)) })
	t.Run("NameIsUnique", func(t *testing.T) { testProjectUnique(t, open(t)) })
	t.Run("UpdateAndHead", func(t *testing.T) { testProjectUpdate(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { testProjectDelete(t, open(t)) })
}

var projectT0 = time.Unix(3_000_000, 0)

func sameProject(a, b store.Project) bool {
	return a.Name == b.Name && a.Repo == b.Repo && a.Branch == b.Branch && a.Poll == b.Poll &&
		a.Mode == b.Mode && bytes.Equal(a.WebhookSecret, b.WebhookSecret) && bytes.Equal(a.AlertWebhook, b.AlertWebhook) && a.Created.Equal(b.Created) && a.Head == b.Head
}

func testProjectCreate(t *testing.T, s store.Projects) {
	if _, err := s.Project(ctx, "web"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("project never created: %v, want not found", err)
	}
	web := store.Project{Name: "web", Repo: "https://example.com/web.git", Branch: "main", Poll: time.Minute,
		Mode: "queued", WebhookSecret: []byte("s3cret"), AlertWebhook: []byte("sealed url"), Created: projectT0}
	api := store.Project{Name: "api", Branch: "trunk", Mode: "parallel", Created: projectT0.Add(time.Second)}
	for _, p := range []store.Project{web, api} {
		if err := s.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Project(ctx, "web"); err != nil || !sameProject(got, web) {
		t.Fatalf("project web: %+v, %v; want %+v", got, err, web)
	}
	list, err := s.Projects(ctx)
	if err != nil || len(list) != 2 || !sameProject(list[0], api) || !sameProject(list[1], web) {
		t.Fatalf("projects: %+v, %v; want api then web", list, err)
	}
	if len(list[0].WebhookSecret) != 0 {
		t.Errorf("a project without a secret reads back %q", list[0].WebhookSecret)
	}
}

func testProjectUnique(t *testing.T, s store.Projects) {
	first := store.Project{Name: "web", Branch: "main", Mode: "queued", Created: projectT0}
	if err := s.CreateProject(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := first
	second.Repo = "elsewhere"
	if err := s.CreateProject(ctx, second); !errors.Is(err, fault.Conflict) {
		t.Fatalf("a second project named web: %v, want a conflict", err)
	}
	if got, _ := s.Project(ctx, "web"); !sameProject(got, first) {
		t.Fatalf("the refused creation changed the project: %+v", got)
	}
}

func testProjectUpdate(t *testing.T, s store.Projects) {
	p := store.Project{Name: "web", Branch: "main", Mode: "queued", Created: projectT0}
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProjectHead(ctx, "web", "abc123"); err != nil {
		t.Fatal(err)
	}
	p.Head = "abc123"
	if got, _ := s.Project(ctx, "web"); !sameProject(got, p) {
		t.Fatalf("after SetProjectHead: %+v, want %+v", got, p)
	}
	p.Mode, p.Poll, p.WebhookSecret, p.Branch, p.AlertWebhook = "superseded", 30*time.Second, []byte("new"), "release", []byte("new url")
	changed := p
	changed.Created = projectT0.Add(time.Hour) // not changed by an update
	if err := s.UpdateProject(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Project(ctx, "web"); !sameProject(got, p) {
		t.Fatalf("after UpdateProject: %+v, want %+v", got, p)
	}
	if err := s.SetProjectHead(ctx, "nope", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("head of an unknown project: %v, want not found", err)
	}
	if err := s.UpdateProject(ctx, store.Project{Name: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of an unknown project: %v, want not found", err)
	}
}

func testProjectDelete(t *testing.T, s store.Projects) {
	if err := s.CreateProject(ctx, store.Project{Name: "web", Branch: "main", Mode: "queued", Created: projectT0}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProject(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Project(ctx, "web"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted project: %v, want not found", err)
	}
	if err := s.DeleteProject(ctx, "web"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting it again: %v, want not found", err)
	}
	// The name is free again.
	if err := s.CreateProject(ctx, store.Project{Name: "web", Branch: "main", Mode: "queued", Created: projectT0}); err != nil {
		t.Fatal(err)
	}
}

// RunRequests runs the queues' suite; open returns an empty store for
// each subtest.
func RunRequests(t *testing.T, open func(t *testing.T) store.Requests) {
	t.Run("AddAndList", func(t *testing.T) { testRequestList(t, open(t)) })
	t.Run("TakeOnce", func(t *testing.T) { testRequestTake(t, open(t)) })
	t.Run("ConcurrentTakeOneWins", func(t *testing.T) { testRequestConcurrentTake(t, open(t)) })
	t.Run("Supersede", func(t *testing.T) { testRequestSupersede(t, open(t)) })
	t.Run("FailAndReturn", func(t *testing.T) { testRequestFailReturn(t, open(t)) })
	t.Run("DeliveredOnce", func(t *testing.T) { testRequestDelivered(t, open(t)) })
}

func testRequestDelivered(t *testing.T, s store.Requests) {
	d := store.Delivery{Project: "web", ID: "d-1", Received: projectT0}
	r := store.Request{Project: "web", Commit: "c1", Branch: "main", Trigger: "webhook delivery d-1", Received: projectT0}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, seen, err := s.AddDeliveredRequest(ctx, d, r)
			switch {
			case err != nil:
				t.Error(err)
			case !seen && id > 0:
				wins.Add(1)
			case seen && id != 0:
				t.Errorf("a seen delivery returned request %d", id)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("6 deliveries of one id queued %d requests, want 1", wins.Load())
	}
	if got := states(t, s, "web"); len(got) != 1 || got[0] != store.RequestWaiting {
		t.Fatalf("requests after the deliveries: %v", got)
	}
	// The same id under another project is another delivery.
	d.Project, r.Project = "api", "api"
	if id, seen, err := s.AddDeliveredRequest(ctx, d, r); err != nil || seen || id == 0 {
		t.Fatalf("delivery d-1 of api: %d, %v, %v", id, seen, err)
	}
}

func addRequest(t *testing.T, s store.Requests, project, commit string, at time.Time) int64 {
	t.Helper()
	id, err := s.AddRequest(ctx, store.Request{Project: project, Commit: commit, Branch: "main", Trigger: "push by alice", Received: at})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func states(t *testing.T, s store.Requests, project string) []store.RequestState {
	t.Helper()
	list, err := s.Requests(ctx, store.RequestFilter{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.RequestState
	for _, r := range list {
		out = append(out, r.State)
	}
	return out
}

func testRequestList(t *testing.T, s store.Requests) {
	a := addRequest(t, s, "web", "c1", projectT0)
	b := addRequest(t, s, "api", "c2", projectT0.Add(time.Second))
	c := addRequest(t, s, "web", "c3", projectT0.Add(2*time.Second))
	if !(a < b && b < c) {
		t.Fatalf("ids %d, %d, %d do not grow", a, b, c)
	}
	got, err := s.Request(ctx, a)
	want := store.Request{ID: a, Project: "web", Commit: "c1", Branch: "main", Trigger: "push by alice", State: store.RequestWaiting}
	if err != nil || got.ID != want.ID || got.Project != want.Project || got.Commit != want.Commit || got.Branch != want.Branch ||
		got.Trigger != want.Trigger || got.State != want.State || got.Run != 0 || !got.Received.Equal(projectT0) {
		t.Fatalf("request %d: %+v, %v; want %+v", a, got, err, want)
	}
	web, err := s.Requests(ctx, store.RequestFilter{Project: "web", State: store.RequestWaiting})
	if err != nil || len(web) != 2 || web[0].ID != a || web[1].ID != c {
		t.Fatalf("waiting requests of web: %+v, %v; want %d then %d", web, err, a, c)
	}
	if all, _ := s.Requests(ctx, store.RequestFilter{Limit: 2}); len(all) != 2 || all[0].ID != a || all[1].ID != b {
		t.Fatalf("first two requests: %+v", all)
	}
	if _, err := s.Request(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown request: %v, want not found", err)
	}
}

func testRequestTake(t *testing.T, s store.Requests) {
	id := addRequest(t, s, "web", "c1", projectT0)
	if err := s.TakeRequest(ctx, id, projectT0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.TakeRequest(ctx, id, projectT0.Add(time.Second)); !errors.Is(err, fault.Conflict) {
		t.Fatalf("taking a started request: %v, want a conflict", err)
	}
	if err := s.SetRequestRun(ctx, id, 7); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Request(ctx, id)
	if got.State != store.RequestStarted || got.Run != 7 {
		t.Fatalf("started request: %+v", got)
	}
	if err := s.SetRequestRun(ctx, id, 8); !errors.Is(err, fault.Conflict) {
		t.Errorf("a second run for one request: %v, want a conflict", err)
	}
	if err := s.FailRequest(ctx, id, "late", projectT0); !errors.Is(err, fault.Conflict) {
		t.Errorf("failing a request whose run started: %v, want a conflict", err)
	}
	if err := s.TakeRequest(ctx, 999, projectT0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("taking an unknown request: %v, want not found", err)
	}
}

func testRequestConcurrentTake(t *testing.T, s store.Requests) {
	id := addRequest(t, s, "web", "c1", projectT0)
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.TakeRequest(ctx, id, projectT0)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, fault.Conflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 7 {
		t.Fatalf("8 takes of one request: %d won, %d conflicts; want 1 and 7", wins.Load(), conflicts.Load())
	}
}

func testRequestSupersede(t *testing.T, s store.Requests) {
	running := addRequest(t, s, "web", "c1", projectT0)
	if err := s.TakeRequest(ctx, running, projectT0); err != nil {
		t.Fatal(err)
	}
	older := addRequest(t, s, "web", "c2", projectT0)
	other := addRequest(t, s, "api", "c3", projectT0)
	newest := addRequest(t, s, "web", "c4", projectT0)
	gone, err := s.SupersedeRequests(ctx, "web", newest, "c4 is newer", projectT0.Add(time.Second))
	if err != nil || len(gone) != 1 || gone[0].ID != older || gone[0].State != store.RequestSuperseded {
		t.Fatalf("superseded: %+v, %v; want request %d", gone, err, older)
	}
	if got, _ := s.Request(ctx, older); got.State != store.RequestSuperseded || got.Reason != "c4 is newer" {
		t.Errorf("superseded request reads %+v", got)
	}
	for id, want := range map[int64]store.RequestState{running: store.RequestStarted, other: store.RequestWaiting, newest: store.RequestWaiting} {
		if got, _ := s.Request(ctx, id); got.State != want {
			t.Errorf("request %d is %s, want %s", id, got.State, want)
		}
	}
}

func testRequestFailReturn(t *testing.T, s store.Requests) {
	waiting := addRequest(t, s, "web", "c1", projectT0)
	if err := s.FailRequest(ctx, waiting, "no velocity.yml", projectT0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Request(ctx, waiting); got.State != store.RequestFailed || got.Reason != "no velocity.yml" {
		t.Fatalf("failed request reads %+v", got)
	}
	taken := addRequest(t, s, "web", "c2", projectT0)
	started := addRequest(t, s, "web", "c3", projectT0)
	for _, id := range []int64{taken, started} {
		if err := s.TakeRequest(ctx, id, projectT0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetRequestRun(ctx, started, 3); err != nil {
		t.Fatal(err)
	}
	// A process stopped between taking a request and starting its run:
	// the request waits again, the one with a run stays started.
	other := addRequest(t, s, "api", "c4", projectT0)
	if err := s.TakeRequest(ctx, other, projectT0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ReturnUntaken(ctx, "web", projectT0); err != nil || n != 1 {
		t.Fatalf("returned %d, %v; want 1", n, err)
	}
	if got, _ := s.Request(ctx, other); got.State != store.RequestStarted {
		t.Errorf("a request of another project was returned: %+v", got)
	}
	if got := states(t, s, "web"); len(got) != 3 || got[1] != store.RequestWaiting || got[2] != store.RequestStarted {
		t.Fatalf("states after return: %v", got)
	}
}
