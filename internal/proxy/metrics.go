package proxy

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's Prometheus collectors, one set per Proxy so
// several proxies (and tests) can share a process.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec

	// retention is how long a retired release's series stay; retiring
	// holds their pending deletions by label values, so a release back
	// in the route (a rollback) keeps its series.
	retention time.Duration
	mu        sync.Mutex
	retiring  map[[3]string]*time.Timer
}

func newMetrics(reg prometheus.Registerer, retention time.Duration) (*metrics, error) {
	labels := []string{"environment", "service", "release"}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "velocity_proxy_requests_total",
			Help: "Requests proxied, by response status code.",
		}, append(slices.Clone(labels), "code")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "velocity_proxy_request_duration_seconds",
			Help:    "Time from request received to response finished.",
			Buckets: prometheus.DefBuckets,
		}, labels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "velocity_proxy_in_flight",
			Help: "Requests currently being proxied.",
		}, labels),
		retention: retention,
		retiring:  map[[3]string]*time.Timer{},
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register proxy metrics: %w", err)
		}
	}
	return m, nil
}

// releaseMetrics are the series of one release of one route, resolved once
// so the hot path never hashes label values.
type releaseMetrics struct {
	m                     *metrics
	env, service, release string
	duration              prometheus.Observer
	inFlight              prometheus.Gauge
	codes                 [500]atomic.Pointer[counterRef] // status 100..599, filled on first use
}

type counterRef struct{ c prometheus.Counter }

func (m *metrics) forRelease(env, service, release string) *releaseMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := [3]string{env, service, release}
	if t := m.retiring[key]; t != nil {
		t.Stop()
		delete(m.retiring, key)
	}
	return &releaseMetrics{
		m: m, env: env, service: service, release: release,
		duration: m.duration.WithLabelValues(env, service, release),
		inFlight: m.inFlight.WithLabelValues(env, service, release),
	}
}

func (rm *releaseMetrics) observe(code int, d time.Duration) {
	rm.duration.Observe(d.Seconds())
	rm.counter(code).Inc()
}

func (rm *releaseMetrics) counter(code int) prometheus.Counter {
	i := code - 100
	if i < 0 || i >= len(rm.codes) {
		return rm.m.requests.WithLabelValues(rm.env, rm.service, rm.release, strconv.Itoa(code))
	}
	if ref := rm.codes[i].Load(); ref != nil {
		return ref.c
	}
	// Two racing first requests both resolve the same child; either wins.
	ref := &counterRef{rm.m.requests.WithLabelValues(rm.env, rm.service, rm.release, strconv.Itoa(code))}
	rm.codes[i].Store(ref)
	return ref.c
}

// retire deletes the series of a release that left its route after the
// retention period, not at once: Prometheus scrapes every 15-60s, and the
// 500s of a canary that was just aborted are the ones worth seeing. The
// deletion still comes, so cardinality does not grow by one release per
// deploy forever.
func (rm *releaseMetrics) retire() {
	m := rm.m
	key := [3]string{rm.env, rm.service, rm.release}
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.retiring[key]; t != nil {
		t.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(m.retention, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.retiring[key] != t {
			return // the release came back, or was retired again since
		}
		delete(m.retiring, key)
		rm.forget()
	})
	m.retiring[key] = t
}

// forget drops the release's series; metrics.mu is held, so a release
// coming back does not resolve series that are being deleted.
func (rm *releaseMetrics) forget() {
	l := prometheus.Labels{"environment": rm.env, "service": rm.service, "release": rm.release}
	rm.m.requests.DeletePartialMatch(l)
	rm.m.duration.Delete(l)
	rm.m.inFlight.Delete(l)
}

// Stats summarise a release's recent traffic, for canary analysis.
type Stats struct {
	Requests int
	Errors   int // 5xx responses, including the proxy's own 502/503/504
	P50      time.Duration
	P95      time.Duration
	P99      time.Duration
	// Covered is the time the samples cover: the window, or less when
	// more requests came than a ring keeps (Requests/Covered is then
	// still the rate).
	Covered time.Duration
}

// ErrorRate is Errors/Requests, 0 without requests.
func (s Stats) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Requests)
}

// ringSize bounds the samples kept per release: Stats sees at most this many
// of the most recent requests within its window.
const ringSize = 4096

// sampleRing is a lock-free ring of recent request samples. Writers claim a
// slot with one atomic add; a reader racing a writer may pair a new time
// with an old duration for one slot, which is harmless for statistics and
// much cheaper than a lock on every request.
type sampleRing struct {
	next  atomic.Uint64
	slots [ringSize]sample
}

type sample struct {
	at  atomic.Int64 // unix nanoseconds; 0 = never written
	dur atomic.Int64 // nanoseconds; negative (-(d+1)) marks an error
}

func (r *sampleRing) add(at time.Time, d time.Duration, isErr bool) {
	v := int64(d)
	if isErr {
		v = -v - 1
	}
	s := &r.slots[(r.next.Add(1)-1)%ringSize]
	s.dur.Store(v)
	s.at.Store(at.UnixNano())
}

func (r *sampleRing) stats(now time.Time, window time.Duration) Stats {
	return ringStats(now, window, r)
}

// ringStats summarises the samples of rings within window together.
func ringStats(now time.Time, window time.Duration, rings ...*sampleRing) Stats {
	from := now.Add(-window).UnixNano()
	st := Stats{Covered: window}
	durs := make([]time.Duration, 0, 256)
	for _, r := range rings {
		oldest, full := now.UnixNano(), true
		for i := range r.slots {
			s := &r.slots[i]
			at := s.at.Load()
			if at == 0 || at < from {
				full = false
				continue
			}
			oldest = min(oldest, at)
			v := s.dur.Load()
			if v < 0 {
				st.Errors++
				v = -v - 1
			}
			st.Requests++
			durs = append(durs, time.Duration(v))
		}
		if full {
			// Every slot is within the window: older requests were
			// overwritten, and this ring speaks for less time.
			st.Covered = min(st.Covered, time.Duration(now.UnixNano()-oldest))
		}
	}
	if len(durs) > 0 {
		slices.Sort(durs)
		st.P50, st.P95, st.P99 = rank(durs, 50), rank(durs, 95), rank(durs, 99)
	}
	return st
}

// rank is the nearest-rank percentile p of sorted durs: the smallest
// sample with at least p% at or below it.
func rank(durs []time.Duration, p int) time.Duration {
	idx := (len(durs)*p+99)/100 - 1
	return durs[max(idx, 0)]
}
