package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/postgres"
	"github.com/velocity-ci/velocity/internal/store/postgres/pgtest"
	"github.com/velocity-ci/velocity/internal/store/storetest"
)

func openURL(t *testing.T, u string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openForTest opens a store on a schema of its own.
func openForTest(t *testing.T) *postgres.Store { return openURL(t, pgtest.Schema(t)) }

func TestConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.Run(t, func(t *testing.T) store.Store { return openForTest(t) })
}

func TestLeasesConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunLeases(t, func(t *testing.T) store.Leases { return openForTest(t) })
}

func TestNodesConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunNodes(t, func(t *testing.T) store.Nodes { return openForTest(t) })
}

func TestDeliveriesConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunDeliveries(t, func(t *testing.T) store.Deliveries { return openForTest(t) })
}

func TestDeploymentsConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunDeployments(t, func(t *testing.T) store.Deployments { return openForTest(t) })
}

func TestProjectsConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunProjects(t, func(t *testing.T) store.Projects { return openForTest(t) })
}

func TestRequestsConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunRequests(t, func(t *testing.T) store.Requests { return openForTest(t) })
}

func TestScheduleFiresConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunScheduleFires(t, func(t *testing.T) store.ScheduleFires { return openForTest(t) })
}

func TestStateMachinesConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunStateMachines(t, func(t *testing.T) store.StateMachines { return openForTest(t) })
}

func TestTokensConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunTokens(t, func(t *testing.T) store.Tokens { return openForTest(t) })
}

func TestWorkflowConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunWorkflows(t, func(t *testing.T) store.Workflows { return openForTest(t) })
}

// Nodes starting at once on a new database each migrate it: the advisory
// lock lets one apply every migration and the others find them applied.
func TestConcurrentMigration(t *testing.T) {
	u := pgtest.Schema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), u)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := openURL(t, u)
	if _, err := s.CreateRun(context.Background(), store.Run{Project: "p", Status: store.Running}, nil); err != nil {
		t.Errorf("store after concurrent migrations: %v", err)
	}
	versions := appliedVersions(t, u)
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != len(entries) {
		t.Errorf("schema_migrations holds versions %v, want one row for each of %d migrations", versions, len(entries))
	}
}

func appliedVersions(t *testing.T, u string) []int {
	t.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// A database migrated by a newer velocity is refused, not changed.
func TestSchemaNewerThanBinary(t *testing.T) {
	u := pgtest.Schema(t)
	openURL(t, u).Close()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(context.Background(), u)
	if err == nil || !strings.Contains(err.Error(), "upgrade velocity") {
		t.Fatalf("opening a newer schema: %v, want a request to upgrade", err)
	}
}

// The password of a store URL stays out of messages.
func TestRedact(t *testing.T) {
	got := postgres.Redact("postgres://velocity:s3cret@db.example:5432/ci?sslmode=require")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "db.example") {
		t.Errorf("Redact = %s", got)
	}
	_, err := postgres.Open(context.Background(), "postgres://velocity:s3cret@127.0.0.1:1/none?connect_timeout=1")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error of an unreachable store: %v", err)
	}
}

func ExampleRedact() {
	fmt.Println(postgres.Redact("postgres://ci:hunter2@db:5432/velocity"))
	// Output: postgres://ci:xxxxx@db:5432/velocity
}

// Each node opens its own Store, with its own connections, on one
// database: what they decide through it is decided once across them.
func TestAcrossOpenings(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails once, not in every subtest
	storetest.RunAcrossHandles(t, func(t *testing.T, n int) []storetest.Handle {
		u := pgtest.Schema(t)
		var out []storetest.Handle
		for range n {
			out = append(out, openURL(t, u))
		}
		return out
	})
}
