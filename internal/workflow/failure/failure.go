// Package failure holds the named error of the States Language. It sits
// below asl so that the packages asl validates with (payload, intrinsic)
// can return it without an import cycle; asl.Failure is an alias of it.
package failure

import "fmt"

// Failure is an error with a States Language name: what a failed task,
// state or execution reports and what Retry and Catch match on.
type Failure struct {
	Name  string
	Cause string
}

// Error returns "Name: Cause" (just Name when there is no cause).
func (f *Failure) Error() string {
	if f.Cause == "" {
		return f.Name
	}
	return f.Name + ": " + f.Cause
}

// Failf returns a Failure named name whose cause is formatted like fmt.Sprintf.
func Failf(name, format string, args ...any) *Failure {
	return &Failure{Name: name, Cause: fmt.Sprintf(format, args...)}
}
