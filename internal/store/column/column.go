// Package column encodes the JSON documents that the SQL stores keep in a
// column: a run's selection and a deployment's files. Both stores write
// the same documents with the same format versions, so one definition
// serves them; a version that changes here changes for both.
package column

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/velocity-ci/velocity/internal/store"
)

// selectionVersion is the format of a run's selection.
const selectionVersion = 1

// storedSelection is a run's selection: JSON with a format version, ""
// for a run of the whole pipeline.
type storedSelection struct {
	Version int `json:"version"`
	store.Selection
}

// EncodeSelection returns the column of s, "" for a whole run.
func EncodeSelection(s store.Selection) string {
	if !s.Partial() {
		return ""
	}
	b, _ := json.Marshal(storedSelection{Version: selectionVersion, Selection: s})
	return string(b)
}

// DecodeSelection reads a column written by EncodeSelection.
func DecodeSelection(text string) (store.Selection, error) {
	if text == "" {
		return store.Selection{}, nil
	}
	var s storedSelection
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return store.Selection{}, fmt.Errorf("selection: %w", err)
	}
	if s.Version != selectionVersion {
		return store.Selection{}, fmt.Errorf("selection format %d is not %d: upgrade velocity", s.Version, selectionVersion)
	}
	return s.Selection, nil
}

// filesVersion is the format of a deployment's files.
const filesVersion = 1

// storedFiles is a deployment's files: JSON with a format version.
// Format 0, written before the version existed, is the bare array of
// files.
type storedFiles struct {
	Version int            `json:"version"`
	Files   []store.Output `json:"files"`
}

// EncodeFiles returns the column of a deployment's files.
func EncodeFiles(files []store.Output) (string, error) {
	b, err := json.Marshal(storedFiles{Version: filesVersion, Files: files})
	return string(b), err
}

// DecodeFiles reads a column written by EncodeFiles, or by a velocity
// from before the format had a version.
func DecodeFiles(text string) ([]store.Output, error) {
	if strings.HasPrefix(strings.TrimSpace(text), "[") {
		var files []store.Output
		if err := json.Unmarshal([]byte(text), &files); err != nil {
			return nil, err
		}
		return files, nil
	}
	var s storedFiles
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return nil, err
	}
	if s.Version != filesVersion {
		return nil, fmt.Errorf("format %d is not %d: upgrade velocity", s.Version, filesVersion)
	}
	return s.Files, nil
}

// EncodeList returns the column of a list of strings: a JSON array, "[]"
// for none.
func EncodeList(items []string) string {
	if items == nil {
		items = []string{}
	}
	b, _ := json.Marshal(items)
	return string(b)
}

// DecodeList reads a column written by EncodeList; an empty array gives
// nil.
func DecodeList(text string) ([]string, error) {
	var items []string
	if err := json.Unmarshal([]byte(text), &items); err != nil {
		return nil, fmt.Errorf("list column: %w", err)
	}
	if len(items) == 0 {
		return nil, nil
	}
	return items, nil
}
