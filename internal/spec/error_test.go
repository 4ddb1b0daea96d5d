package spec

import (
	"errors"
	"testing"
)

func TestErrorString(t *testing.T) {
	e := &Error{File: "velocity.yml", Line: 12, Col: 7, Path: "stages[0].name", Msg: "must not be empty"}
	if got, want := e.Error(), "velocity.yml:12:7: stages[0].name: must not be empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e.Path = ""
	if got, want := e.Error(), "velocity.yml:12:7: must not be empty"; got != want {
		t.Errorf("Error() without path = %q, want %q", got, want)
	}
}

func TestErrorsAreSortedAndJoined(t *testing.T) {
	c := &collector{file: "f"}
	c.add(Pos{Line: 3, Col: 1}, "", "third")
	c.add(Pos{Line: 1, Col: 5}, "a", "second")
	c.add(Pos{Line: 1, Col: 2}, "", "first")
	c.add(Pos{Line: 3, Col: 1}, "", "fourth, after third as it was found later")
	err := c.err()
	want := "f:1:2: first\nf:1:5: a: second\nf:3:1: third\nf:3:1: fourth, after third as it was found later"
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 4 {
		t.Errorf("errors.As(Errors) = %v, %d errors", errs, len(errs))
	}
	if (&collector{}).err() != nil {
		t.Error("an empty collector reports an error")
	}
}
