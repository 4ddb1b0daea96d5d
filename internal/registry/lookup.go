package registry

import (
	"fmt"
)

// Located is where an image is in the storage: its repository and the
// digest of its manifest, which together make a pullable reference
// (HOST/Repo@Manifest).
type Located struct {
	Repo     string
	Manifest Digest
}

// FindImage finds a manifest whose config is config: the image a Docker
// Engine knows by that ID (its config's digest), as pushed here. The
// repositories are read in lexical order and the first match is
// returned; ok is false when no repository holds the image. It reads
// every manifest, which is fine for the few hundred a team's registry
// holds between collections.
func (s *Storage) FindImage(config Digest) (Located, bool, error) {
	repos, err := s.Repositories()
	if err != nil {
		return Located{}, false, err
	}
	want := config.String()
	for _, name := range repos {
		digests, err := s.manifests(name)
		if err != nil {
			return Located{}, false, fmt.Errorf("registry: manifests of %s: %w", name, err)
		}
		for _, d := range digests {
			content, mt, err := s.manifest(name, d)
			if err != nil {
				continue // removed meanwhile
			}
			m, err := parseManifest(mt, content)
			if err != nil || m.Config == nil {
				continue
			}
			if m.Config.Digest == want {
				return Located{Repo: name, Manifest: d}, true, nil
			}
		}
	}
	return Located{}, false, nil
}
