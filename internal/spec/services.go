package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/velocity-ci/velocity/internal/typo"
)

// This file reads the top-level services key: what a service runs, how
// its health is checked and how a new release replaces the old; and the
// top-level port_range that bounds the ports services and sidecars take.

// Defaults of a service; see the doc comments of Service, Health,
// Strategy and Analysis.
const (
	defaultReplicas        = 1
	maxReplicas            = 100
	defaultDrain           = 10 * time.Second
	defaultDeadline        = 2 * time.Minute
	defaultHealthPath      = "/"
	defaultHealthInterval  = time.Second
	defaultHealthTimeout   = 2 * time.Second
	defaultHealthFailAfter = 10 * time.Second
	defaultHealthy         = 1
	defaultUnhealthy       = 3
	defaultMaxSurge        = 1
	defaultKeepWarm        = 5 * time.Minute
	defaultCanaryPause     = 30 * time.Second
	defaultMaxErrorRise    = 0.01
	defaultMaxLatency      = 1.5
	defaultMinLatencyDiff  = 10 * time.Millisecond
	defaultMinRequests     = 20
	// minMemory catches "memory: 256", which is 256 bytes, not megabytes.
	minMemory = 1 << 20
	maxMemory = 1 << 50
	// Ports below 1024 need privileges Velocity's programs do not have.
	minRangePort = 1024
	maxRangePort = 65535
)

// The strategies, in the order messages list them.
const (
	strategyRolling   = "rolling"
	strategyBlueGreen = "blue-green"
	strategyCanary    = "canary"
)

// What a canary step without enough requests for a verdict does.
const (
	inconclusiveFail    = "fail"
	inconclusivePromote = "promote"
)

var strategies = []string{strategyRolling, strategyBlueGreen, strategyCanary}

// strategyKeys names the strategy keys that apply to one type only.
var strategyKeys = map[string]string{
	"max_surge":       strategyRolling,
	"max_unavailable": strategyRolling,
	"keep_warm":       strategyBlueGreen,
	"steps":           strategyCanary,
	"analysis":        strategyCanary,
}

// serviceSource remembers where a service's from was written, for the
// check in validate.go that it names an action with outputs; from is
// zero when absent or not a string.
type serviceSource struct {
	path string
	from Pos
	// noRun and port are where a service without run: and its port: are
	// written, zero when not: both are right only when from names a build
	// action, which is known once every action is read.
	noRun, port Pos
}

// services reads the services mapping, name to service, in file order.
func (d *decoder) services(v ast.Node, path string) ([]Service, []serviceSource) {
	if isNull(v) {
		return nil, nil
	}
	m, ok := v.(*ast.MappingNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a mapping of service names to services, got %s", kindOf(v))
		return nil, nil
	}
	var svcs []Service
	var srcs []serviceSource
	for _, e := range d.entries(m, path) {
		if !validHostLabel(e.key) {
			d.c.add(posOf(e.keyNode), path, `%q is not a valid service name (use lowercase letters, digits and "-", starting with a letter and not ending with "-"; it becomes part of host names)`, e.key)
		}
		s, src := d.service(e.value, join(path, e.key))
		s.Name, s.Pos = e.key, posOf(e.keyNode)
		svcs = append(svcs, s)
		srcs = append(srcs, src)
	}
	return svcs, srcs
}

// validHostLabel accepts the names of services and environments, which
// become labels of host names such as web.staging.localhost.
func validHostLabel(s string) bool {
	for i, r := range s {
		lower := r >= 'a' && r <= 'z'
		if i == 0 && !lower || !lower && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return s != "" && len(s) <= 63 && !strings.HasSuffix(s, "-")
}

func (d *decoder) service(v ast.Node, path string) (Service, serviceSource) {
	s := Service{
		Replicas: defaultReplicas,
		Health:   defaultHealth(),
		Strategy: defaultStrategy(strategyRolling),
		Drain:    defaultDrain,
		Deadline: defaultDeadline,
	}
	src := serviceSource{path: path}
	var secrets []Pos
	var startPeriodAt, deadlineAt Pos
	keys, ok := d.mappingKeys(v, path, fields{
		"from": func(v ast.Node) {
			if s.From = d.run(v, join(path, "from")); strings.TrimSpace(s.From) != "" {
				src.from = posOf(v)
			}
		},
		"run":   func(v ast.Node) { s.Run = d.run(v, join(path, "run")) },
		"image": func(v ast.Node) { s.Image = d.image(v, join(path, "image"), false) },
		"port": func(v ast.Node) {
			if n, ok := d.intIn(v, join(path, "port"), 1, 65535); ok {
				s.Port = n
			}
		},
		"env": func(v ast.Node) {
			s.Env = d.env(v, join(path, "env"))
			d.serviceEnv(v, join(path, "env"))
		},
		"secrets": func(v ast.Node) { s.Secrets, secrets = d.secrets(v, join(path, "secrets")) },
		"replicas": func(v ast.Node) {
			if n, ok := d.intIn(v, join(path, "replicas"), 1, maxReplicas); ok {
				s.Replicas = n
			}
		},
		"health":   func(v ast.Node) { s.Health, startPeriodAt = d.health(v, join(path, "health")) },
		"strategy": func(v ast.Node) { s.Strategy = d.strategy(v, join(path, "strategy")) },
		"drain":    func(v ast.Node) { d.positiveDuration(v, join(path, "drain"), &s.Drain) },
		"deadline": func(v ast.Node) {
			d.positiveDuration(v, join(path, "deadline"), &s.Deadline)
			deadlineAt = posOf(v)
		},
		"memory": func(v ast.Node) { s.Memory = d.memory(v, join(path, "memory")) },
		"cpu":    func(v ast.Node) { s.CPU = d.cpu(v, join(path, "cpu")) },
	}, []string{"from", "run"})
	if ok {
		// A service runs either an action's release files or an image.
		_, from := keys["from"]
		_, image := keys["image"]
		_, run := keys["run"]
		at, port := keys["port"]
		switch {
		case from && image:
			d.c.add(keys["image"], path, "from and image cannot both be set: a service runs either the release an action built (from:), or a container image (image:)")
			src.from = Pos{}
		case !image && !from:
			d.c.add(posOf(v), path, "missing required key %q", "from")
			if !run {
				d.c.add(posOf(v), path, "missing required key %q", "run")
			}
			if port {
				d.c.add(at, join(path, "port"), portOnlyForImages)
			}
		case from:
			// Whether from names a build action, whose image needs no
			// run: and may set port:, is checked with the actions.
			if !run {
				src.noRun = posOf(v)
			}
			if port {
				src.port = at
			}
		}
	}
	if startPeriodAt != (Pos{}) && s.Health.StartPeriod >= s.Deadline {
		// Failures do not count in the start period, so a deploy whose
		// deadline comes first fails before its health check could.
		deadline := fmt.Sprintf("default deadline %v", s.Deadline)
		if deadlineAt != (Pos{}) {
			deadline = fmt.Sprintf("deadline %v (line %d)", s.Deadline, deadlineAt.Line)
		}
		d.c.add(startPeriodAt, join(join(path, "health"), "start_period"), "start_period %v is not shorter than the service's %s: every deploy would end while failures do not count yet; raise deadline or shorten start_period",
			s.Health.StartPeriod, deadline)
	}
	for i, name := range s.Secrets {
		if _, set := s.Env[name]; set {
			d.c.add(secrets[i], join(path, "secrets"), "%q conflicts with env.%s; a variable is either a secret or set in env", name, name)
		}
	}
	return s, src
}

// portOnlyForImages is the error of a port: on a service that runs no
// image.
const portOnlyForImages = "applies to a service that runs an image (image:, or from: a build action): the port its container listens on; a service run from an action's release listens on the $PORT Velocity picks"

// serviceEnv reports env keys of a service that Velocity sets itself.
func (d *decoder) serviceEnv(v ast.Node, path string) {
	m, ok := v.(*ast.MappingNode)
	if !ok {
		return
	}
	for _, mv := range m.Values {
		if keyText(mv.Key) == "PORT" {
			d.c.add(posOf(mv.Key), path, "PORT is set by Velocity to the port each instance must listen on")
		}
	}
}

func defaultHealth() Health {
	return Health{
		HTTP:      defaultHealthPath,
		Interval:  defaultHealthInterval,
		Timeout:   defaultHealthTimeout,
		Healthy:   defaultHealthy,
		Unhealthy: defaultUnhealthy,
		FailAfter: defaultHealthFailAfter,
	}
}

// health reads a service's health check: an HTTP path, or a mapping that
// may also choose a TCP check and set the timing. startPeriodAt is where
// a start_period was given, zero when none was.
func (d *decoder) health(v ast.Node, path string) (h Health, startPeriodAt Pos) {
	h = defaultHealth()
	if isNull(v) {
		return h, Pos{}
	}
	if _, ok := scalarText(v); ok {
		h.HTTP = d.httpPath(v, path)
		return h, Pos{}
	}
	if _, ok := v.(*ast.MappingNode); !ok {
		d.c.add(posOf(v), path, "must be an HTTP path such as /healthz or a mapping such as {http: /healthz, interval: 5s}, got %s", kindOf(v))
		return h, Pos{}
	}
	h.HTTP = ""
	var tcpAt, failAfterAt Pos
	keys, _ := d.mappingKeys(v, path, fields{
		"http": func(v ast.Node) {
			if !isNull(v) {
				h.HTTP = d.httpPath(v, join(path, "http"))
			}
		},
		"tcp": func(v ast.Node) {
			if h.TCP = d.boolean(v, join(path, "tcp")); h.TCP {
				tcpAt = posOf(v)
			}
		},
		"interval": func(v ast.Node) { d.positiveDuration(v, join(path, "interval"), &h.Interval) },
		"timeout":  func(v ast.Node) { d.positiveDuration(v, join(path, "timeout"), &h.Timeout) },
		"start_period": func(v ast.Node) {
			d.nonNegativeDuration(v, join(path, "start_period"), &h.StartPeriod)
			startPeriodAt = posOf(v)
		},
		"fail_after": func(v ast.Node) {
			d.positiveDuration(v, join(path, "fail_after"), &h.FailAfter)
			failAfterAt = posOf(v)
		},
		"healthy": func(v ast.Node) {
			if n, ok := d.intIn(v, join(path, "healthy"), 1, math.MaxInt32); ok {
				h.Healthy = n
			}
		},
		"unhealthy": func(v ast.Node) {
			if n, ok := d.intIn(v, join(path, "unhealthy"), 1, math.MaxInt32); ok {
				h.Unhealthy = n
			}
		},
	}, nil)
	if _, http := keys["http"]; http && h.TCP {
		d.c.add(tcpAt, path, "http and tcp cannot both be set; tcp: true checks only that the port accepts connections")
	}
	if h.TCP && failAfterAt != (Pos{}) {
		d.c.add(failAfterAt, join(path, "fail_after"), "applies to HTTP checks only: a tcp check gets no status that could keep failing")
	}
	if !h.TCP && h.HTTP == "" {
		h.HTTP = defaultHealthPath
	}
	return h, startPeriodAt
}

// httpPath reads the path an HTTP health check requests.
func (d *decoder) httpPath(v ast.Node, path string) string {
	s, ok := d.str(v, path)
	if !ok {
		return ""
	}
	if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, " \t\n") {
		d.c.add(posOf(v), path, `%q is not an HTTP path; write one starting with "/", such as /healthz`, s)
		return ""
	}
	return s
}

func defaultStrategy(typ string) Strategy {
	s := Strategy{Type: typ}
	switch typ {
	case strategyRolling:
		s.MaxSurge = defaultMaxSurge
	case strategyBlueGreen:
		s.KeepWarm = defaultKeepWarm
	case strategyCanary:
		s.Steps = []CanaryStep{{Weight: 10, Pause: defaultCanaryPause}, {Weight: 50, Pause: defaultCanaryPause}}
		s.Analysis = Analysis{
			MaxErrorRateIncrease: defaultMaxErrorRise,
			MaxLatencyRatio:      defaultMaxLatency,
			MinLatencyIncrease:   defaultMinLatencyDiff,
			MinRequests:          defaultMinRequests,
			OnInconclusive:       inconclusiveFail,
		}
	}
	return s
}

// strategyType reads a strategy's type; "" when it is not one.
func (d *decoder) strategyType(v ast.Node, path string) string {
	s, ok := d.str(v, path)
	if !ok {
		return ""
	}
	for _, t := range strategies {
		if s == t {
			return s
		}
	}
	d.c.add(posOf(v), path, "%q is not a strategy; use rolling, blue-green or canary%s", s, typo.DidYouMean(s, strategies))
	return ""
}

// strategy reads how a service's releases replace each other: a type, or
// a mapping with a type and the settings of that type.
func (d *decoder) strategy(v ast.Node, path string) Strategy {
	if isNull(v) {
		return defaultStrategy(strategyRolling)
	}
	if _, ok := scalarText(v); ok {
		if t := d.strategyType(v, path); t != "" {
			return defaultStrategy(t)
		}
		return defaultStrategy(strategyRolling)
	}
	if _, ok := v.(*ast.MappingNode); !ok {
		d.c.add(posOf(v), path, "must be rolling, blue-green, canary or a mapping such as {type: canary, steps: [...]}, got %s", kindOf(v))
		return defaultStrategy(strategyRolling)
	}
	var (
		typ                    string
		set                    Strategy
		surgeAt, unavailableAt Pos
	)
	var stepsSet, analysisSet bool
	keys, _ := d.mappingKeys(v, path, fields{
		"type": func(v ast.Node) { typ = d.strategyType(v, join(path, "type")) },
		"max_surge": func(v ast.Node) {
			if n, ok := d.intIn(v, join(path, "max_surge"), 0, math.MaxInt32); ok {
				set.MaxSurge, surgeAt = n, posOf(v)
			}
		},
		"max_unavailable": func(v ast.Node) {
			if n, ok := d.intIn(v, join(path, "max_unavailable"), 0, math.MaxInt32); ok {
				set.MaxUnavailable, unavailableAt = n, posOf(v)
			}
		},
		"keep_warm": func(v ast.Node) { d.positiveDuration(v, join(path, "keep_warm"), &set.KeepWarm) },
		"steps": func(v ast.Node) {
			set.Steps = d.canarySteps(v, join(path, "steps"))
			stepsSet = set.Steps != nil
		},
		"analysis": func(v ast.Node) {
			set.Analysis = d.analysis(v, join(path, "analysis"))
			analysisSet = true
		},
	}, nil, "type")
	if typ == "" {
		// Missing or not a strategy, which is reported; which keys
		// apply is unknown.
		return defaultStrategy(strategyRolling)
	}
	for _, k := range []string{"max_surge", "max_unavailable", "keep_warm", "steps", "analysis"} {
		if at, ok := keys[k]; ok && strategyKeys[k] != typ {
			d.c.add(at, path, "%s only applies to strategy %s", k, strategyKeys[k])
		}
	}
	s := defaultStrategy(typ)
	switch typ {
	case strategyRolling:
		if surgeAt != (Pos{}) {
			s.MaxSurge = set.MaxSurge
		}
		if unavailableAt != (Pos{}) {
			s.MaxUnavailable = set.MaxUnavailable
		}
		_, surge := keys["max_surge"]
		_, unavailable := keys["max_unavailable"]
		// A value already reported as wrong is not also reported here.
		readable := (!surge || surgeAt != Pos{}) && (!unavailable || unavailableAt != Pos{})
		if readable && s.MaxSurge == 0 && s.MaxUnavailable == 0 {
			// Neither a new instance may be added nor an old one removed:
			// the deploy could never make progress.
			d.c.add(later(surgeAt, unavailableAt), path, "max_surge and max_unavailable cannot both be 0")
		}
	case strategyBlueGreen:
		if set.KeepWarm > 0 {
			s.KeepWarm = set.KeepWarm
		}
	case strategyCanary:
		if stepsSet {
			s.Steps = set.Steps
		}
		if analysisSet {
			s.Analysis = set.Analysis
		}
	}
	return s
}

// canarySteps reads a canary's steps, whose weights must grow.
func (d *decoder) canarySteps(v ast.Node, path string) []CanaryStep {
	items, ok := d.list(v, path, "step")
	if !ok {
		return nil
	}
	steps := make([]CanaryStep, 0, len(items))
	prev := 0
	for i, item := range items {
		at := index(path, i)
		step := CanaryStep{Pause: defaultCanaryPause}
		d.mapping(item, at, fields{
			"weight": func(v ast.Node) {
				n, ok := d.intIn(v, join(at, "weight"), 1, 100)
				if !ok {
					return
				}
				if n <= prev {
					d.c.add(posOf(v), join(at, "weight"), "must be greater than the previous step's weight (%d); weights are the canary's share of traffic in percent and only grow", prev)
				}
				step.Weight, prev = n, max(prev, n)
			},
			"pause": func(v ast.Node) { d.nonNegativeDuration(v, join(at, "pause"), &step.Pause) },
		}, "weight")
		steps = append(steps, step)
	}
	return steps
}

// analysis reads the limits a canary is held to.
func (d *decoder) analysis(v ast.Node, path string) Analysis {
	a := defaultStrategy(strategyCanary).Analysis
	if isNull(v) {
		return a
	}
	d.mapping(v, path, fields{
		"max_error_rate_increase": func(v ast.Node) {
			p := join(path, "max_error_rate_increase")
			if f, ok := d.number(v, p); ok {
				if f < 0 || f > 1 {
					d.c.add(posOf(v), p, "must be between 0 and 1 (a fraction: 0.01 is one point), got %s", v.GetToken().Value)
					return
				}
				a.MaxErrorRateIncrease = f
			}
		},
		"max_latency_ratio": func(v ast.Node) {
			p := join(path, "max_latency_ratio")
			if f, ok := d.number(v, p); ok {
				if f < 1 {
					d.c.add(posOf(v), p, "must be at least 1 (1.5 allows a p95 latency 50%% above stable's), got %s", v.GetToken().Value)
					return
				}
				a.MaxLatencyRatio = f
			}
		},
		"min_latency_increase": func(v ast.Node) {
			d.positiveDuration(v, join(path, "min_latency_increase"), &a.MinLatencyIncrease)
		},
		"min_requests": func(v ast.Node) {
			if n, ok := d.intIn(v, join(path, "min_requests"), 1, math.MaxInt32); ok {
				a.MinRequests = n
			}
		},
		"on_inconclusive": func(v ast.Node) {
			p := join(path, "on_inconclusive")
			s, ok := d.str(v, p)
			if !ok {
				return
			}
			if s != inconclusiveFail && s != inconclusivePromote {
				d.c.add(posOf(v), p, "%q is not a choice; use fail (roll the canary back when it got fewer than min_requests requests) or promote (go on without data)%s",
					s, typo.DidYouMean(s, []string{inconclusiveFail, inconclusivePromote}))
				return
			}
			a.OnInconclusive = s
		},
	})
	return a
}

// intIn reads an integer from lo to hi; ok is false when it is not one,
// the error reported. Null is not an integer here: a key written without
// a value is more likely unfinished than meant as the default.
func (d *decoder) intIn(v ast.Node, path string, lo, hi int) (int, bool) {
	n, ok := v.(*ast.IntegerNode)
	if !ok {
		d.c.add(posOf(v), path, "must be an integer, got %s", kindOf(v))
		return 0, false
	}
	var i int
	switch x := n.Value.(type) {
	case int64:
		i = int(max(min(x, math.MaxInt32+1), math.MinInt32))
	case uint64:
		i = int(min(x, math.MaxInt32+1))
	}
	switch {
	case i < lo:
		d.c.add(posOf(v), path, "must be at least %d, got %s", lo, n.GetToken().Value)
		return 0, false
	case i > hi:
		d.c.add(posOf(v), path, "must be at most %d, got %s", hi, n.GetToken().Value)
		return 0, false
	}
	return i, true
}

// number reads a finite number, integer or not.
func (d *decoder) number(v ast.Node, path string) (float64, bool) {
	switch n := v.(type) {
	case *ast.FloatNode:
		return n.Value, true
	case *ast.IntegerNode:
		switch x := n.Value.(type) {
		case int64:
			return float64(x), true
		case uint64:
			return float64(x), true
		}
	}
	got := kindOf(v)
	switch v.(type) {
	case *ast.InfinityNode, *ast.NanNode:
		got = v.GetToken().Value
	}
	d.c.add(posOf(v), path, "must be a finite number, got %s", got)
	return 0, false
}

// positiveDuration sets *t to a duration greater than 0; null keeps the
// default.
func (d *decoder) positiveDuration(v ast.Node, path string, t *time.Duration) {
	if isNull(v) {
		return
	}
	if got, ok := d.duration(v, path); ok {
		if got <= 0 {
			d.c.add(posOf(v), path, "must be greater than 0")
			return
		}
		*t = got
	}
}

// nonNegativeDuration sets *t to a duration of 0 or more; null keeps the
// default.
func (d *decoder) nonNegativeDuration(v ast.Node, path string, t *time.Duration) {
	if isNull(v) {
		return
	}
	if got, ok := d.duration(v, path); ok {
		if got < 0 {
			d.c.add(posOf(v), path, "must not be negative, got %s", got)
			return
		}
		*t = got
	}
}

// sizeUnits are the units memory accepts, all powers of 1024 as in
// Docker and cgroups: 256M and 256MiB are the same.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "ti": 1 << 40, "tib": 1 << 40,
}

// memory reads a memory limit: a size such as 512M or 1.5G, or a number
// of bytes. Null means no limit.
func (d *decoder) memory(v ast.Node, path string) int64 {
	if isNull(v) {
		return 0
	}
	var bytes float64
	switch n := v.(type) {
	case *ast.IntegerNode:
		f, _ := d.number(n, path)
		bytes = f
	case *ast.StringNode:
		b, ok := parseSize(n.Value)
		if !ok {
			d.c.add(posOf(v), path, "%q is not a size (use e.g. 512M, 1G or 1536MiB; units are powers of 1024)", n.Value)
			return 0
		}
		bytes = b
	default:
		d.c.add(posOf(v), path, "must be a size such as 512M or 1G, or a number of bytes, got %s", kindOf(v))
		return 0
	}
	switch {
	case bytes < minMemory:
		d.c.add(posOf(v), path, "must be at least 1M, got %s (a plain number is bytes; write 256M for 256 mebibytes)", v.GetToken().Value)
		return 0
	case bytes > maxMemory:
		d.c.add(posOf(v), path, "must be at most 1024T, got %s", v.GetToken().Value)
		return 0
	}
	return int64(bytes)
}

// parseSize parses a number followed by an optional unit of sizeUnits,
// case-insensitive, as bytes.
func parseSize(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mult, ok := sizeUnits[unit]
	if !ok || num == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, false
	}
	return math.Floor(f * float64(mult)), true
}

// cpu reads a CPU limit in cores. Null means no limit.
func (d *decoder) cpu(v ast.Node, path string) float64 {
	if isNull(v) {
		return 0
	}
	switch v.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
	default:
		got := kindOf(v)
		if s, ok := scalarText(v); ok {
			got = fmt.Sprintf("%q", s)
		}
		d.c.add(posOf(v), path, "must be a number of cores such as 0.5 or 2, got %s", got)
		return 0
	}
	f, _ := d.number(v, path)
	if f <= 0 {
		d.c.add(posOf(v), path, "must be greater than 0 (leave it out for no limit), got %s", v.GetToken().Value)
		return 0
	}
	return f
}

// PortRange is an inclusive range of TCP ports on 127.0.0.1, written
// "41000-41099" (or one port, "41000"). Sidecars and the instances of
// deployed services take their ports from it; a deploy needs room for the
// instances of the old and the new release side by side.
type PortRange struct {
	Low, High int
	// Pos is where the range was written, for messages about it.
	Pos Pos
}

// IsZero reports whether no range was set.
func (r PortRange) IsZero() bool { return r.Low == 0 && r.High == 0 }

// portRange reads the top-level port_range.
func (d *decoder) portRange(v ast.Node, path string) PortRange {
	if isNull(v) {
		return PortRange{}
	}
	text, ok := scalarText(v)
	if !ok {
		d.c.add(posOf(v), path, `must be a port range such as "41000-41099", got %s`, kindOf(v))
		return PortRange{}
	}
	lo, hi, found := strings.Cut(strings.TrimSpace(text), "-")
	if !found {
		hi = lo
	}
	l, err1 := strconv.Atoi(strings.TrimSpace(lo))
	h, err2 := strconv.Atoi(strings.TrimSpace(hi))
	switch {
	case err1 != nil || err2 != nil:
		d.c.add(posOf(v), path, `%q is not a port range; write LOW-HIGH, such as 41000-41099`, text)
	case l < minRangePort || h > maxRangePort:
		d.c.add(posOf(v), path, "%d-%d: ports must be between %d and %d", l, h, minRangePort, maxRangePort)
	case l > h:
		d.c.add(posOf(v), path, "%d-%d: the low port is above the high one", l, h)
	default:
		return PortRange{Low: l, High: h, Pos: posOf(v)}
	}
	return PortRange{}
}
