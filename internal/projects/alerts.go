package projects

import (
	"net/url"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// maxAlertURL bounds an alert webhook's URL; chat webhooks are far
// shorter.
const maxAlertURL = 2048

// alertPurpose binds a project's sealed alert webhook to the project.
func alertPurpose(name string) string { return "alert webhook of project " + name }

// sealAlerts checks an alert webhook URL and returns it as stored; ""
// is none.
func (s *Service) sealAlerts(name, raw string) ([]byte, error) {
	if raw == "" {
		return nil, nil
	}
	// The URL is a credential: no error repeats it.
	u, err := url.Parse(raw)
	if err != nil || len(raw) > maxAlertURL || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fault.Invalidf("alert webhook: give an http or https URL with a host (and no user:password), up to %d characters", maxAlertURL)
	}
	if s.cfg.Sealer == nil {
		return []byte(raw), nil
	}
	return s.cfg.Sealer.Seal(alertPurpose(name), []byte(raw))
}

// AlertWebhook is the alert webhook URL of p as given to Add, "" when
// it has none; sealer is the Config's (nil when URLs are stored as
// given). The notifier of a server reads it at each alert, so a project
// changed or removed since takes effect at once.
func AlertWebhook(sealer Sealer, p store.Project) (string, error) {
	if len(p.AlertWebhook) == 0 {
		return "", nil
	}
	if sealer == nil {
		return string(p.AlertWebhook), nil
	}
	b, err := sealer.Unseal(alertPurpose(p.Name), p.AlertWebhook)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
