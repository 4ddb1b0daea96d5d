package releases

import (
	"encoding/json"
	"fmt"
)

// definitionVersion is the format of the definitions the deployment
// journal holds (store.Deployment.Definition). Format 0, written before
// the version existed, has the same keys.
const definitionVersion = 1

// journaledDefinition is a Definition as the deployment journal holds it:
// the definition's own keys and the format version beside them.
type journaledDefinition struct {
	Version int `json:"version"`
	Definition
}

// encodeDefinition is def as the deployment journal holds it.
func encodeDefinition(def Definition) ([]byte, error) {
	return json.Marshal(journaledDefinition{Version: definitionVersion, Definition: def})
}

// decodeDefinition reads a journaled definition of any format this
// velocity knows; a newer one is an error rather than a release deployed
// with settings left out.
func decodeDefinition(b []byte) (Definition, error) {
	var j journaledDefinition
	if err := json.Unmarshal(b, &j); err != nil {
		return Definition{}, err
	}
	if j.Version > definitionVersion {
		return Definition{}, fmt.Errorf("format %d is newer than %d: upgrade velocity", j.Version, definitionVersion)
	}
	return j.Definition, nil
}
