package access

import (
	"github.com/velocity-ci/velocity/internal/fault"
)

// Role is what a token may do; see the package documentation.
type Role string

// Roles, from the least to the most allowed.
const (
	Viewer    Role = "viewer"
	Developer Role = "developer"
	Admin     Role = "admin"
)

// roles are ordered from the least to the most allowed.
var roles = [...]Role{Viewer, Developer, Admin}

// rank orders the roles; an unknown role ranks below every known one, so
// that it allows nothing.
func (r Role) rank() int {
	for i, k := range roles {
		if r == k {
			return i + 1
		}
	}
	return 0
}

// ParseRole returns the role named s, or an error of kind fault.Invalid.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.rank() == 0 {
		return "", fault.Invalidf("role %q: want viewer, developer or admin", s)
	}
	return r, nil
}

// Allow reports whether a token with role have may do what needs role
// need. An unknown role, on either side, allows nothing.
func Allow(have, need Role) bool {
	return have.rank() > 0 && need.rank() > 0 && have.rank() >= need.rank()
}
