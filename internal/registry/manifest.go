package registry

import (
	"encoding/json"
	"net/http"
	"strings"
)

// MaxManifest is the largest manifest accepted: the size registries
// commonly allow, far above any real image's.
const MaxManifest = 4 << 20

// Manifest media types the registry stores.
const (
	MediaOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// Descriptor points at content, as manifests do.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// manifest is what the registry reads of a manifest of any of its
// media types: what it references.
type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *Descriptor       `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`

	// Read from the above by parseManifest.
	mediaType string
	blobs     []Digest // config and layers the registry must hold
	children  []Digest // manifests an index lists
	subject   Digest
}

// parseManifest reads content sent with Content-Type contentType: it
// must be JSON of one of the media types the registry stores, naming it
// the same way in the header and the body, with well-formed digests.
func parseManifest(contentType string, content []byte) (*manifest, error) {
	if len(content) > MaxManifest {
		return nil, fail(http.StatusRequestEntityTooLarge, CodeSizeInvalid, "manifest over %d bytes", MaxManifest)
	}
	var m manifest
	if err := json.Unmarshal(content, &m); err != nil {
		return nil, fail(http.StatusBadRequest, CodeManifestInvalid, "manifest is not JSON: %v", err)
	}
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	switch {
	case m.MediaType != "" && mt != "" && m.MediaType != mt:
		return nil, fail(http.StatusBadRequest, CodeManifestInvalid, "Content-Type %.100q differs from the manifest's mediaType %.100q", mt, m.MediaType)
	case mt == "":
		mt = m.MediaType
	}
	if m.SchemaVersion != 2 {
		return nil, fail(http.StatusBadRequest, CodeManifestInvalid, "schemaVersion %d: want 2", m.SchemaVersion)
	}
	m.mediaType = mt
	switch mt {
	case MediaOCIManifest, MediaDockerManifest:
		if m.Config == nil {
			return nil, fail(http.StatusBadRequest, CodeManifestInvalid, "image manifest without config")
		}
		if m.Manifests != nil {
			return nil, fail(http.StatusBadRequest, CodeManifestInvalid, "image manifest with manifests")
		}
		d, err := descriptorDigest(*m.Config)
		if err != nil {
			return nil, err
		}
		m.blobs = append(m.blobs, d)
		for _, l := range m.Layers {
			d, err := descriptorDigest(l)
			if err != nil {
				return nil, err
			}
			// Layers that may not be distributed are never pushed; the
			// client fetches them from their own URLs.
			if !foreign(l.MediaType) {
				m.blobs = append(m.blobs, d)
			}
		}
	case MediaOCIIndex, MediaDockerList:
		if m.Config != nil || m.Layers != nil {
			return nil, fail(http.StatusBadRequest, CodeManifestInvalid, "index with config or layers")
		}
		for _, c := range m.Manifests {
			d, err := descriptorDigest(c)
			if err != nil {
				return nil, err
			}
			m.children = append(m.children, d)
		}
	default:
		return nil, fail(http.StatusBadRequest, CodeManifestInvalid,
			"media type %.100q is none of the manifest types this registry stores (OCI image manifest and index, Docker manifest v2 schema 2 and list)", mt)
	}
	if m.Subject != nil {
		d, err := descriptorDigest(*m.Subject)
		if err != nil {
			return nil, err
		}
		m.subject = d
	}
	return &m, nil
}

func descriptorDigest(d Descriptor) (Digest, error) {
	dg, err := ParseDigest(d.Digest)
	if err != nil {
		return Digest{}, fail(http.StatusBadRequest, CodeManifestInvalid, "descriptor: %v", err)
	}
	if d.Size < 0 {
		return Digest{}, fail(http.StatusBadRequest, CodeManifestInvalid, "descriptor %s: negative size", dg)
	}
	return dg, nil
}

// foreign reports whether a layer of media type mt is one a registry
// does not hold (OCI's non-distributable layers, Docker's foreign ones).
func foreign(mt string) bool {
	return strings.Contains(mt, ".nondistributable.") || strings.Contains(mt, ".foreign.")
}

// artifactType is what the referrers API lists m as: its artifactType,
// else (an image manifest) its config's media type.
func (m *manifest) artifactType() string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	if m.Config != nil && m.mediaType == MediaOCIManifest {
		return m.Config.MediaType
	}
	return ""
}
