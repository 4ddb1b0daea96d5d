package spec

import "time"

// Service is a long-running program the pipeline deploys (services: in
// velocity.yml). Its release is built from an action's outputs (From,
// Run), or is a container image (Image, Run optional).
//
// Service and Environment are journaled as JSON with every deployment, so
// that a rollback deploys an old release exactly as it was. Their keys
// are the Go field names they were first written with: a renamed field
// keeps its old key, and a changed meaning needs a new key.
type Service struct {
	Name string `json:"Name"`
	Pos  Pos    `json:"Pos"`
	// From names the action whose outputs form the release: "action" when
	// unique in the pipeline, else "stage/action".
	From string `json:"From"`
	// Run is the command that starts one instance; it listens on $PORT.
	// With Image it is run by the image's shell, and may be empty: the
	// image's own entrypoint and command run.
	Run string `json:"Run"`
	// Image is the container image each instance runs (image: REF); then
	// From is empty and the release is the image.
	Image string `json:"Image,omitempty"`
	// Port is the port the program of a service with an image listens on
	// inside its container, given to it as $PORT; 0 means 8080. A service
	// run as host processes listens on the port Velocity picks.
	Port int `json:"Port,omitempty"`
	// Env and Secrets are given to every instance.
	Env     map[string]string `json:"Env"`
	Secrets []string          `json:"Secrets"`
	// Replicas is the number of instances; default 1.
	Replicas int      `json:"Replicas"`
	Health   Health   `json:"Health"`
	Strategy Strategy `json:"Strategy"`
	// Drain is how long a removed instance may finish in-flight requests;
	// default 10s.
	Drain time.Duration `json:"Drain"`
	// Deadline bounds a whole deploy: new instances not healthy by then
	// are stopped and the deploy fails; default 2m.
	Deadline time.Duration `json:"Deadline"`
	// Memory (bytes) and CPU (cores) limit each instance where cgroup v2
	// allows; 0 means no limit.
	Memory int64   `json:"Memory"`
	CPU    float64 `json:"CPU"`
}

// Health is a service's health check.
type Health struct {
	// HTTP is the path probed with GET (2xx/3xx is healthy); empty with
	// TCP false means the default "/".
	HTTP string `json:"HTTP"`
	// TCP checks only that the port accepts connections.
	TCP bool `json:"TCP"`
	// Interval between checks (default 1s) and Timeout of one (default 2s).
	Interval time.Duration `json:"Interval"`
	Timeout  time.Duration `json:"Timeout"`
	// Healthy and Unhealthy are consecutive-result thresholds (default 1 and 3).
	Healthy   int `json:"Healthy"`
	Unhealthy int `json:"Unhealthy"`
	// StartPeriod is a grace time after start in which failures do not
	// count (default 0).
	StartPeriod time.Duration `json:"StartPeriod"`
	// FailAfter fails a deploy early when a new instance's HTTP health
	// check has answered the same failing status (such as 503) for this
	// long after StartPeriod, at least three times in a row: an endpoint
	// that keeps saying it is unhealthy will not change its mind by the
	// deadline. Default 10s; a service that answers a failing status
	// while it warms up for longer needs a StartPeriod (or a longer
	// FailAfter). A check that gets no answer never fails early.
	FailAfter time.Duration `json:"FailAfter"`
}

// Strategy is how a new release replaces the old.
type Strategy struct {
	// Type is "rolling" (default), "blue-green" or "canary".
	Type string `json:"Type"`
	// MaxSurge and MaxUnavailable bound a rolling deploy (defaults 1 and 0).
	MaxSurge       int `json:"MaxSurge"`
	MaxUnavailable int `json:"MaxUnavailable"`
	// KeepWarm keeps the old blue-green release running (not serving) this
	// long for an instant rollback; default 5m.
	KeepWarm time.Duration `json:"KeepWarm"`
	// Steps of a canary: traffic weight in percent and the pause before
	// the next step; default 10%/30s, 50%/30s.
	Steps []CanaryStep `json:"Steps"`
	// Analysis aborts a canary whose error rate or p95 latency is worse
	// than the stable release's.
	Analysis Analysis `json:"Analysis"`
}

// CanaryStep is one traffic shift of a canary.
type CanaryStep struct {
	Weight int           `json:"Weight"`
	Pause  time.Duration `json:"Pause"`
}

// Analysis compares canary and stable from the proxy's measurements.
type Analysis struct {
	// MaxErrorRateIncrease is the largest allowed canary error rate minus
	// stable error rate (default 0.01, one point).
	MaxErrorRateIncrease float64 `json:"MaxErrorRateIncrease"`
	// MaxLatencyRatio is the largest allowed canary p95 / stable p95
	// (default 1.5).
	MaxLatencyRatio float64 `json:"MaxLatencyRatio"`
	// MinLatencyIncrease is how much slower than stable's the canary's
	// p95 must be before MaxLatencyRatio counts (default 10ms): a ratio
	// of a few milliseconds is a cold process or a busy host, not a
	// slower release.
	MinLatencyIncrease time.Duration `json:"MinLatencyIncrease,omitempty"`
	// MinRequests the canary must have served before a verdict (default 20).
	MinRequests int `json:"MinRequests"`
	// OnInconclusive is what a step that ends with fewer than MinRequests
	// requests to the canary (after waiting for more) does: "fail"
	// (default) rolls the canary back, "promote" goes on without data.
	OnInconclusive string `json:"OnInconclusive"`
}

// Environment is a named place services run.
type Environment struct {
	Name string `json:"Name"`
	Pos  Pos    `json:"Pos"`
	// Hosts route to the environment's services; "{service}" is replaced
	// by the service name. Default "{service}.NAME.localhost".
	Hosts []string `json:"Hosts"`
	// URL is what acceptance tests get as VELOCITY_URL when it is not the
	// proxy's own address for the host.
	URL string `json:"URL"`
}
