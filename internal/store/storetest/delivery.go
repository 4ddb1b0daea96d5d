package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// RunDeliveries runs the webhook deliveries' suite; open returns an empty
// store for each subtest.
func RunDeliveries(t *testing.T, open func(t *testing.T) store.Deliveries) {
	t.Run("SecondRecordIsSeen", func(t *testing.T) { testDeliverySeen(t, open(t)) })
	t.Run("IdsArePerProject", func(t *testing.T) { testDeliveryPerProject(t, open(t)) })
	t.Run("ConcurrentRecordOneIsNew", func(t *testing.T) { testDeliveryConcurrent(t, open(t)) })
	t.Run("EmptyIsInvalid", func(t *testing.T) { testDeliveryEmpty(t, open(t)) })
}

func record(t *testing.T, s store.Deliveries, project, id string) bool {
	t.Helper()
	seen, err := s.RecordDelivery(ctx, store.Delivery{Project: project, ID: id, Received: time.Unix(1_000, 0)})
	if err != nil {
		t.Fatalf("record %s/%s: %v", project, id, err)
	}
	return seen
}

// A provider redelivers a webhook (after a timeout, or by hand): the
// second record reports the id seen, so no second run starts.
func testDeliverySeen(t *testing.T, s store.Deliveries) {
	if record(t, s, "web", "72d3162e-cc78-11e3-81ab-4c9367dc0958") {
		t.Fatal("first record of a delivery reported it seen")
	}
	for range 2 {
		if !record(t, s, "web", "72d3162e-cc78-11e3-81ab-4c9367dc0958") {
			t.Fatal("second record of a delivery reported it new")
		}
	}
	if record(t, s, "web", "another") {
		t.Fatal("a different delivery id reported seen")
	}
}

func testDeliveryPerProject(t *testing.T, s store.Deliveries) {
	if record(t, s, "web", "d1") || record(t, s, "api", "d1") {
		t.Fatal("one id under two projects must be two deliveries")
	}
	if !record(t, s, "api", "d1") {
		t.Fatal("second record under api reported new")
	}
}

// Two server goroutines handling the same redelivered webhook at once:
// exactly one may start the run.
func testDeliveryConcurrent(t *testing.T, s store.Deliveries) {
	const n = 8
	var wg sync.WaitGroup
	fresh := make(chan struct{}, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			seen, err := s.RecordDelivery(ctx, store.Delivery{Project: "web", ID: "race", Received: time.Unix(1, 0)})
			if err != nil {
				errs <- err
				return
			}
			if !seen {
				fresh <- struct{}{}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(fresh) != 1 {
		t.Fatalf("%d concurrent records saw the delivery new, want 1", len(fresh))
	}
}

func testDeliveryEmpty(t *testing.T, s store.Deliveries) {
	for _, d := range []store.Delivery{{Project: "web"}, {ID: "d1"}} {
		if _, err := s.RecordDelivery(ctx, d); !errors.Is(err, fault.Invalid) {
			t.Errorf("record %+v: %v, want an Invalid error", d, err)
		}
	}
}
