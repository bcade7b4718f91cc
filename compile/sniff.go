package compile

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
)

// maxSniffEntries bounds how many archive entries IsArchive looks through for the manifest.
const maxSniffEntries = 64

// IsArchive reports whether r holds a bundle Archive wrote: a gzip'd tar whose .manifest
// names the agentctl entrypoint and owns the agentctl roots. compile may then replace it
// inside the policy directory; any other file there, another gzip file included, is left
// alone.
func IsArchive(r io.Reader) bool {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return false
	}
	tr := tar.NewReader(zr)
	for range maxSniffEntries {
		h, err := tr.Next()
		if err != nil {
			return false
		}
		if strings.TrimPrefix(h.Name, "/") != ".manifest" {
			continue
		}
		var m struct {
			Roots    []string       `json:"roots"`
			Metadata map[string]any `json:"metadata"`
		}
		// A manifest is small; one larger than 1 MB is not ours.
		dec := json.NewDecoder(io.LimitReader(tr, 1<<20))
		if err := dec.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			return false
		}
		return m.Metadata["entrypoint"] == Entrypoint && slices.Contains(m.Roots, Root) && slices.Contains(m.Roots, ModelRoot)
	}
	return false
}
