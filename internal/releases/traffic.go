package releases

import "time"

// trafficWindow is the recent past Traffic summarises.
const trafficWindow = time.Minute

// TrafficStats are a service's requests through the proxy over the last
// minute, all its releases together.
type TrafficStats struct {
	RequestsPerSecond float64 `json:"requests_per_second"`
	// ErrorRate is the fraction of requests answered 5xx (the proxy's own
	// 502/503/504 included), 0 without requests.
	ErrorRate float64       `json:"error_rate"`
	P50       time.Duration `json:"p50"`
	P99       time.Duration `json:"p99"`
}

// Traffic returns the recent traffic of every service the proxy routes,
// keyed by "environment/service". A service without requests in the last
// minute has zero stats.
func (s *Service) Traffic() map[string]TrafficStats {
	out := map[string]TrafficStats{}
	if s.Deployer == nil || s.Deployer.Proxy == nil {
		return out
	}
	for _, r := range s.Deployer.Proxy.Routes() {
		st := r.Traffic(trafficWindow)
		t := TrafficStats{ErrorRate: st.ErrorRate(), P50: st.P50, P99: st.P99}
		if st.Covered > 0 {
			t.RequestsPerSecond = float64(st.Requests) / st.Covered.Seconds()
		}
		out[r.Environment()+"/"+r.Service()] = t
	}
	return out
}
