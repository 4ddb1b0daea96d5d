package store

import (
	"context"
	"time"
)

// Delivery is one webhook delivery a project received, kept so that a
// provider's redelivery of the same id does not start a second run.
type Delivery struct {
	Project string `json:"project"`
	// ID is the provider's delivery id (X-GitHub-Delivery, …).
	ID       string    `json:"id"`
	Received time.Time `json:"received"`
}

// Deliveries records webhook delivery ids, beside the Store in the same
// implementations and checked by the storetest suite (RunDeliveries).
// Methods are safe for concurrent use, also from several processes.
type Deliveries interface {
	// RecordDelivery records d.ID for d.Project and reports whether the
	// pair was recorded before (seen is true, and the first record is
	// kept unchanged). Of several callers recording one new pair at once,
	// exactly one sees seen == false: that one starts the run. Ids are
	// per project: the same id under two projects is two deliveries.
	RecordDelivery(ctx context.Context, d Delivery) (seen bool, err error)
}
