package images

import (
	"context"
	"testing"
)

func TestKeepReadsReferences(t *testing.T) {
	d := "sha256:0000000000000000000000000000000000000000000000000000000000000001"
	other := "sha256:0000000000000000000000000000000000000000000000000000000000000002"
	s := &Service{Kept: func(context.Context) ([]string, error) {
		return []string{"127.0.0.1:5000/project/app@" + d, other, "app:latest"}, nil
	}}
	keep, err := s.keep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		repo, digest string
		want         bool
	}{
		{"project/app", d, true},
		{"other", d, false},
		{"anything", other, true},
		{"app", "latest", false},
	} {
		if got := keep(c.repo, c.digest); got != c.want {
			t.Errorf("keep(%s, %s) = %v, want %v", c.repo, c.digest, got, c.want)
		}
	}
}
