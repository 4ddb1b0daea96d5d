package runs

import "github.com/velocity-ci/velocity/internal/source"

// CleanWorkspaces removes the projects' workspaces no run is using, and
// says which it removed and which it kept because a run holds them. The
// next run of a project copies it afresh.
func (s *Service) CleanWorkspaces() (removed, busy []string, err error) {
	return source.Workspaces{Dir: s.workspacesDir()}.Clean()
}
