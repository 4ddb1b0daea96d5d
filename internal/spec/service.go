package spec

import "time"

// Service is a long-running program the pipeline deploys (services: in
// velocity.yml). Its release is built from an action's outputs.
type Service struct {
	Name string
	Pos  Pos
	// From names the action whose outputs form the release: "action" when
	// unique in the pipeline, else "stage/action".
	From string
	// Run is the command that starts one instance; it listens on $PORT.
	Run string
	// Env and Secrets are given to every instance.
	Env     map[string]string
	Secrets []string
	// Replicas is the number of instances; default 1.
	Replicas int
	Health   Health
	Strategy Strategy
	// Drain is how long a removed instance may finish in-flight requests;
	// default 10s.
	Drain time.Duration
	// Deadline bounds a whole deploy: new instances not healthy by then
	// are stopped and the deploy fails; default 2m.
	Deadline time.Duration
	// Memory (bytes) and CPU (cores) limit each instance where cgroup v2
	// allows; 0 means no limit.
	Memory int64
	CPU    float64
}

// Health is a service's health check.
type Health struct {
	// HTTP is the path probed with GET (2xx/3xx is healthy); empty with
	// TCP false means the default "/".
	HTTP string
	// TCP checks only that the port accepts connections.
	TCP bool
	// Interval between checks (default 1s) and Timeout of one (default 2s).
	Interval time.Duration
	Timeout  time.Duration
	// Healthy and Unhealthy are consecutive-result thresholds (default 1 and 3).
	Healthy   int
	Unhealthy int
	// StartPeriod is a grace time after start in which failures do not
	// count (default 0).
	StartPeriod time.Duration
	// FailAfter fails a deploy early when a new instance's HTTP health
	// check has answered the same failing status (such as 503) for this
	// long after StartPeriod, at least three times in a row: an endpoint
	// that keeps saying it is unhealthy will not change its mind by the
	// deadline. Default 10s; a service that answers a failing status
	// while it warms up for longer needs a StartPeriod (or a longer
	// FailAfter). A check that gets no answer never fails early.
	FailAfter time.Duration
}

// Strategy is how a new release replaces the old.
type Strategy struct {
	// Type is "rolling" (default), "blue-green" or "canary".
	Type string
	// MaxSurge and MaxUnavailable bound a rolling deploy (defaults 1 and 0).
	MaxSurge       int
	MaxUnavailable int
	// KeepWarm keeps the old blue-green release running (not serving) this
	// long for an instant rollback; default 5m.
	KeepWarm time.Duration
	// Steps of a canary: traffic weight in percent and the pause before
	// the next step; default 10%/30s, 50%/30s.
	Steps []CanaryStep
	// Analysis aborts a canary whose error rate or p95 latency is worse
	// than the stable release's.
	Analysis Analysis
}

// CanaryStep is one traffic shift of a canary.
type CanaryStep struct {
	Weight int
	Pause  time.Duration
}

// Analysis compares canary and stable from the proxy's measurements.
type Analysis struct {
	// MaxErrorRateIncrease is the largest allowed canary error rate minus
	// stable error rate (default 0.01, one point).
	MaxErrorRateIncrease float64
	// MaxLatencyRatio is the largest allowed canary p95 / stable p95
	// (default 1.5).
	MaxLatencyRatio float64
	// MinRequests the canary must have served before a verdict (default 20).
	MinRequests int
	// OnInconclusive is what a step that ends with fewer than MinRequests
	// requests to the canary (after waiting for more) does: "fail"
	// (default) rolls the canary back, "promote" goes on without data.
	OnInconclusive string
}

// Environment is a named place services run.
type Environment struct {
	Name string
	Pos  Pos
	// Hosts route to the environment's services; "{service}" is replaced
	// by the service name. Default "{service}.NAME.localhost".
	Hosts []string
	// URL is what acceptance tests get as VELOCITY_URL when it is not the
	// proxy's own address for the host.
	URL string
}
