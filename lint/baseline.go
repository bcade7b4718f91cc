package lint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// A Baseline lists accepted findings so that agentctl can be adopted on an existing estate:
// findings it lists are reported as suppressed, new ones fail. Entries name the check and
// the element, never a line, so edits that move lines keep them valid.
type Baseline struct {
	SchemaVersion int             `json:"schema_version"`
	Findings      []BaselineEntry `json:"findings"`
}

// BaselineEntry is one accepted finding. Message is kept for reviewers; matching uses only
// Check and Element.
type BaselineEntry struct {
	Check       string `json:"check"`
	Element     string `json:"element"`
	Fingerprint string `json:"fingerprint"`
	Message     string `json:"message,omitempty"`
}

// Fingerprint identifies a finding across edits: a hash of the check ID and element path.
func Fingerprint(check, element string) string {
	sum := sha256.Sum256([]byte(check + "\x00" + element))
	return hex.EncodeToString(sum[:8])
}

// ReadBaseline reads a baseline file.
func ReadBaseline(path string) (*Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("read baseline %s: %w", path, err)
	}
	if b.SchemaVersion != 1 {
		return nil, fmt.Errorf("read baseline %s: unsupported schema_version %d (want 1)", path, b.SchemaVersion)
	}
	for i, e := range b.Findings {
		if e.Check == "" || e.Element == "" {
			return nil, fmt.Errorf("read baseline %s: entry %d needs check and element", path, i)
		}
	}
	return &b, nil
}

// NewBaseline returns a baseline accepting every finding not suppressed inline, sorted by
// check and element, one entry per check and element.
func NewBaseline(findings []Finding) *Baseline {
	b := &Baseline{SchemaVersion: 1, Findings: []BaselineEntry{}}
	seen := map[[2]string]bool{}
	for _, f := range findings {
		key := [2]string{f.Check.ID, f.Element}
		if seen[key] || (f.Suppression != nil && f.Suppression.Kind == SuppressedInline) {
			continue
		}
		seen[key] = true
		b.Findings = append(b.Findings, BaselineEntry{
			Check: f.Check.ID, Element: f.Element, Fingerprint: Fingerprint(f.Check.ID, f.Element), Message: f.Message,
		})
	}
	sort.Slice(b.Findings, func(i, j int) bool {
		x, y := b.Findings[i], b.Findings[j]
		if x.Check != y.Check {
			return x.Check < y.Check
		}
		return x.Element < y.Element
	})
	return b
}

// Write writes the baseline as indented JSON.
func (b *Baseline) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(b)
}

// Apply marks active findings the baseline lists as suppressed and returns the entries of
// the checks that ran that matched no finding at all (stale: the problem was fixed or the
// element renamed). Entries of checks that did not run are left alone.
func (b *Baseline) Apply(findings []Finding, ran []*Check) (stale []BaselineEntry) {
	matched := make([]bool, len(b.Findings))
	index := map[[2]string]int{}
	for i, e := range b.Findings {
		index[[2]string{e.Check, e.Element}] = i
	}
	for i := range findings {
		f := &findings[i]
		j, ok := index[[2]string{f.Check.ID, f.Element}]
		if !ok {
			continue
		}
		matched[j] = true
		if f.Suppression == nil {
			f.Suppression = &Suppression{Kind: SuppressedBaseline}
		}
	}
	ranIDs := map[string]bool{}
	for _, c := range ran {
		ranIDs[c.ID] = true
	}
	for i, e := range b.Findings {
		if !matched[i] && ranIDs[e.Check] {
			stale = append(stale, e)
		}
	}
	return stale
}
