package releases

import (
	"fmt"
	"io"

	"github.com/velocity-ci/velocity/internal/spec"
)

// limiter is a runtime that can say whether it enforces memory and CPU
// limits (runtime.Local can).
type limiter interface {
	Limits() (bool, string)
}

// noteLimits tells whoever deploys a service with limits that this
// server's runtime does not enforce them: the deploy runs here, so the
// client's own machine cannot tell.
func (s *Service) noteLimits(svc spec.Service, log io.Writer) {
	if svc.Memory <= 0 && svc.CPU <= 0 || svc.Image != "" {
		// The Docker Engine enforces the limits of a service's containers.
		return
	}
	l, ok := s.Deployer.Runtime.(limiter)
	if !ok {
		return
	}
	if enforced, note := l.Limits(); !enforced {
		fmt.Fprintf(log, "velocity: %s: %s\n", svc.Name, note)
	}
}
