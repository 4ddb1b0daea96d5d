package access_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// syncLog is a log the service writes to.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// untouchable is a token store that cannot record a token's use (a
// read-only or full disk): its TouchToken fails with err.
type untouchable struct {
	*sqlite.Store
	err error
}

func (u untouchable) TouchToken(context.Context, string, time.Time) error { return u.err }

// A token's last use is recorded at most once a minute: a use a minute
// or more after the last recorded one is recorded, an earlier one not.
func TestLastUsedIsRecordedEveryMinute(t *testing.T) {
	svc, _, c, _ := service(t)
	secret, err := svc.Create(ctx, "ci", access.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	first := c.t
	if _, err := svc.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		after time.Duration
		want  time.Time
	}{
		{59 * time.Second, first},
		{time.Minute, first.Add(time.Minute)},
	} {
		c.t = first.Add(step.after)
		if _, err := svc.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		list, err := svc.List(ctx)
		if err != nil || len(list) != 1 || !list[0].LastUsed.Equal(step.want) {
			t.Errorf("used again %v later: last used %+v, %v; want %v", step.after, list, err, step.want)
		}
	}
}

// A use that cannot be recorded still authenticates; the operator is
// told, unless the request was cancelled.
func TestUnrecordedUseIsLogged(t *testing.T) {
	_, st, _, _ := service(t)
	for _, c := range []struct {
		err    error
		logged bool
	}{
		{errors.New("disk full"), true},
		{context.Canceled, false},
	} {
		var log syncLog
		svc := access.New(access.Config{Store: untouchable{st, c.err}, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		name := "ci-" + strings.ReplaceAll(c.err.Error(), " ", "-")
		secret, err := svc.Create(ctx, name, access.Viewer)
		if err != nil {
			t.Fatal(err)
		}
		if tok, err := svc.Authenticate(ctx, secret); err != nil || tok.Name != name {
			t.Errorf("%v: %+v, %v", c.err, tok, err)
		}
		if got := strings.Contains(log.String(), "recording a token's use"); got != c.logged {
			t.Errorf("touch failing with %v: logged %v, want %v:\n%s", c.err, got, c.logged, log.String())
		}
	}
	// Without a logger the failure is dropped, not a panic.
	svc := access.New(access.Config{Store: untouchable{st, errors.New("disk full")}})
	secret, err := svc.Create(ctx, "quiet", access.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, secret); err != nil {
		t.Error(err)
	}
}

// The wait said with a refusal is until the bucket holds a whole
// request again, counting what it refilled so far.
func TestLimiterWaitCountsThePartRefilled(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := &access.Limiter{Rate: 2, Now: c.now} // Burst 0 is 1
	if ok, _ := l.Allow("ci"); !ok {
		t.Fatal("the first request refused")
	}
	c.t = c.t.Add(200 * time.Millisecond)
	if ok, wait := l.Allow("ci"); ok || wait != 300*time.Millisecond {
		t.Errorf("0.4 of a request refilled: %v, wait %v; want refused, 300ms", ok, wait)
	}
	c.t = c.t.Add(300 * time.Millisecond)
	if ok, _ := l.Allow("ci"); !ok {
		t.Error("refused once the wait had passed")
	}
}
