package executions

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// The account and region of the ARNs Velocity gives executions: the AWS
// forms, so that definitions and tools that parse ARNs work unchanged.
const (
	arnRegion  = "us-east-1"
	arnAccount = "123456789012"
)

// StateMachineARN is the ARN of the state machine named name.
func StateMachineARN(name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", arnRegion, arnAccount, name)
}

func executionARN(stateMachine, name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", arnRegion, arnAccount, stateMachine, name)
}

// stateMachineName is a definition file's base name without extensions.
func stateMachineName(file string) string {
	base := filepath.Base(file)
	for _, ext := range []string{".yaml", ".yml", ".json", ".asl"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// checkName applies Step Functions' rule for execution and state machine
// names (they end up in ARNs): 1 to 80 characters, none of whitespace,
// brackets, wildcards, punctuation that ARNs or URLs give a meaning.
func checkName(name string) error {
	if name == "" || len(name) > 80 {
		return errors.New("a name has 1 to 80 characters")
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return fmt.Errorf("a name may not contain %q", r)
		}
	}
	return nil
}

// newToken is a random name for an execution or a lock file.
func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
