package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/agentctl/agentctl/internal/infile"
)

// BaselineVersion is the schema_version NewBaseline writes. Version 1 keyed entries by
// element path, list indices included ("agents.a.grants[0]"); version 2 keys them by
// fingerprint, which survives inserting, deleting and reordering list elements.
const BaselineVersion = 2

// A Baseline lists accepted findings so that agentctl can be adopted on an existing estate:
// findings it lists are reported as suppressed, new ones fail. Entries name the check and
// what the finding is about (Finding.Subject), never a line or a list index, so edits that
// move lines or reorder grants, hand-offs or files keep them valid.
type Baseline struct {
	SchemaVersion int             `json:"schema_version"`
	Findings      []BaselineEntry `json:"findings"`
	// Notice is set when an older version was read: how it is matched and how to upgrade.
	Notice string `json:"-"`
}

// BaselineEntry is one accepted finding. Version 2 matches on Check and Fingerprint;
// version 1 matched on Check and Element. Subject, Element and Message are for reviewers.
type BaselineEntry struct {
	Check       string `json:"check"`
	Fingerprint string `json:"fingerprint"`
	Subject     string `json:"subject,omitempty"`
	Element     string `json:"element"`
	Message     string `json:"message,omitempty"`
}

// Name returns what the entry is about, for messages: its subject, else its element.
func (e BaselineEntry) Name() string {
	if e.Subject != "" {
		return e.Subject
	}
	return e.Element
}

// MaxBaselineSize bounds what ReadBaseline reads: far above any real baseline, far below
// what would exhaust a CI runner.
const MaxBaselineSize = 64 << 20

// ReadBaseline reads a baseline file: a regular file of at most MaxBaselineSize bytes (a
// named pipe or a device is refused without blocking). A version 1 file is read and matched
// as before (by element path); its Notice says so and how to rewrite it.
func ReadBaseline(path string) (*Baseline, error) {
	data, err := infile.Read(path, MaxBaselineSize)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("read baseline %s: %w", path, err)
	}
	switch b.SchemaVersion {
	case 1:
		b.Notice = fmt.Sprintf("baseline %s has schema_version 1, whose entries name list indices "+
			"(agents.a.grants[0]): inserting or reordering grants or hand-offs breaks them. "+
			"Rewrite it as version %d with --write-baseline %s", path, BaselineVersion, path)
	case BaselineVersion:
	default:
		return nil, fmt.Errorf("read baseline %s: unsupported schema_version %d: this agentctl reads 1 and %d; "+
			"write a new baseline with --write-baseline", path, b.SchemaVersion, BaselineVersion)
	}
	for i, e := range b.Findings {
		key, val := "fingerprint", e.Fingerprint
		if b.SchemaVersion == 1 {
			key, val = "element", e.Element
		}
		if e.Check == "" || val == "" {
			return nil, fmt.Errorf("read baseline %s: entry %d needs check and %s", path, i, key)
		}
	}
	return &b, nil
}

// NewBaseline returns a baseline accepting every finding not suppressed inline, one entry
// per fingerprint, sorted by check and subject.
func NewBaseline(findings []Finding) *Baseline {
	b := &Baseline{SchemaVersion: BaselineVersion, Findings: []BaselineEntry{}}
	seen := map[string]bool{}
	for _, f := range findings {
		if seen[f.Fingerprint] || (f.Suppression != nil && f.Suppression.Kind == SuppressedInline) {
			continue
		}
		seen[f.Fingerprint] = true
		b.Findings = append(b.Findings, BaselineEntry{
			Check: f.Check.ID, Fingerprint: f.Fingerprint, Subject: f.Subject, Element: f.Element, Message: f.Message,
		})
	}
	sort.Slice(b.Findings, func(i, j int) bool {
		x, y := b.Findings[i], b.Findings[j]
		if x.Check != y.Check {
			return x.Check < y.Check
		}
		return x.Subject < y.Subject
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
	key := func(check, fingerprint, element string) [2]string {
		if b.SchemaVersion == 1 {
			return [2]string{check, element}
		}
		return [2]string{check, fingerprint}
	}
	matched := make([]bool, len(b.Findings))
	index := map[[2]string]int{}
	for i, e := range b.Findings {
		index[key(e.Check, e.Fingerprint, e.Element)] = i
	}
	for i := range findings {
		f := &findings[i]
		j, ok := index[key(f.Check.ID, f.Fingerprint, f.Element)]
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
