package fault_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/velocity-ci/velocity/internal/fault"
)

func TestConstructorsKeepTheMessageAndGiveTheKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		kind *fault.Kind
		msg  string
	}{
		{fault.NotFoundf("run %d", 7), fault.NotFound, "run 7"},
		{fault.Conflictf("release %s already serves", "r1"), fault.Conflict, "release r1 already serves"},
		{fault.Invalidf("%q is not a run number", "x"), fault.Invalid, `"x" is not a run number`},
		{fault.Unauthorisedf("no token"), fault.Unauthorised, "no token"},
		{fault.Forbiddenf("viewers cannot deploy"), fault.Forbidden, "viewers cannot deploy"},
		{fault.Unavailablef("no server on %s", "sock"), fault.Unavailable, "no server on sock"},
		{fault.New(fault.NotFound, "no such secret"), fault.NotFound, "no such secret"},
		{fault.Mark(fault.Unavailable, io.ErrUnexpectedEOF), fault.Unavailable, io.ErrUnexpectedEOF.Error()},
	} {
		if c.err.Error() != c.msg {
			t.Errorf("message %q, want %q", c.err, c.msg)
		}
		if !errors.Is(c.err, c.kind) || fault.KindOf(c.err) != c.kind {
			t.Errorf("%q: kind %v, want %v", c.err, fault.KindOf(c.err), c.kind)
		}
		if wrapped := fmt.Errorf("context: %w", c.err); fault.KindOf(wrapped) != c.kind {
			t.Errorf("%q wrapped lost its kind", c.err)
		}
	}
}

func TestMarkAndErrorfKeepWhatTheyWrap(t *testing.T) {
	if err := fault.Mark(fault.Unavailable, io.EOF); !errors.Is(err, io.EOF) {
		t.Error("Mark hides the error it marks")
	}
	if err := fault.Invalidf("reading: %w", io.EOF); !errors.Is(err, io.EOF) {
		t.Error("Invalidf hides the error it wraps with %w")
	}
	if fault.Mark(fault.Conflict, nil) != nil {
		t.Error("Mark(nil) is not nil")
	}
}

func TestSentinelsOfAKindStayDistinct(t *testing.T) {
	secretGone := fault.New(fault.NotFound, "no such secret")
	blobGone := fault.New(fault.NotFound, "no such blob")
	err := fmt.Errorf("secret db: %w", secretGone)
	if !errors.Is(err, secretGone) || errors.Is(err, blobGone) || !errors.Is(err, fault.NotFound) {
		t.Error("a sentinel of a kind must match itself and its kind, not its siblings")
	}
}

func TestOutermostKindWins(t *testing.T) {
	missing := fault.NotFoundf("file velocity.yml")
	err := fault.Invalidf("definition: %w", missing)
	if k := fault.KindOf(err); k != fault.Invalid {
		t.Errorf("KindOf = %v, want invalid (the kind closest to the user)", k)
	}
	if !errors.Is(err, fault.NotFound) {
		t.Error("the inner kind must still be found by errors.Is")
	}
	if fault.KindOf(errors.New("disk full")) != nil || fault.KindOf(nil) != nil {
		t.Error("an error without a kind has none")
	}
}
