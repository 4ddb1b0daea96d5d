package scaffold

import (
	"slices"
	"testing"
)

func TestParseMakeTargets(t *testing.T) {
	text := `# Build things.
CC ?= cc
OUT := out
FLAGS = -a:b
LDFLAGS ::= -s
.PHONY: all test lint \
	build
all: build test ## default

build test: deps
	$(CC) -o $(OUT) main.c   # recipe lines are skipped
	echo "fake: target"

lint:: ; @echo lint
%.o: %.c
	$(CC) -c $<
$(OUT)/app: build
check: VERBOSE = 1
define HELP
help: not a target
endef
deps:
	true
`
	got := parseMakeTargets(text)
	want := []string{"all", "build", "test", "lint", "deps"}
	if !slices.Equal(got, want) {
		t.Errorf("targets = %q, want %q", got, want)
	}
	mk := makefile{targets: got}
	if known := mk.known(); !slices.Equal(known, []string{"test", "lint", "build"}) {
		t.Errorf("known = %q", known)
	}
}

func TestParseMakeTargetsCRLF(t *testing.T) {
	got := parseMakeTargets("test:\r\n\ttrue\r\ncheck: test\r\n")
	if !slices.Equal(got, []string{"test", "check"}) {
		t.Errorf("targets = %q", got)
	}
}
