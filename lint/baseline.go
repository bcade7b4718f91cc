package lint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"

	"github.com/agentctl/agentctl/internal/infile"
)

// BaselineVersion is the schema_version NewBaseline writes. Version 1 keyed entries by
// element path, list indices included ("agents.a.grants[0]"); version 2 keys them by
// fingerprint, which survives inserting, deleting and reordering list elements; version 3
// adds the policy directory of each entry, so one file serves several directories and an
// entry of one never suppresses a finding of another.
const BaselineVersion = 3

// ErrNoBaseline is the error of ReadBaseline for a file that does not exist.
var ErrNoBaseline = errors.New("baseline does not exist")

// A Baseline lists accepted findings so that agentctl can be adopted on an existing estate:
// findings it lists are reported as suppressed, new ones fail. Entries name the policy
// directory, the check and what the finding is about (Finding.Subject), never a line or a
// list index, so edits that move lines or reorder grants, hand-offs or files keep them valid.
type Baseline struct {
	SchemaVersion int             `json:"schema_version"`
	Findings      []BaselineEntry `json:"findings"`
	// Notice is set when an older version was read: how it is matched and how to upgrade.
	Notice string `json:"-"`
}

// BaselineEntry is one accepted finding. Version 3 matches on Dir, Check and Fingerprint;
// version 2 on Check and Fingerprint in any directory; version 1 on Check and Element.
// Subject, Element and Message are for reviewers.
type BaselineEntry struct {
	// Dir is the policy directory, relative to the repository root in slash form ("." for
	// the root); empty in versions 1 and 2.
	Dir         string `json:"dir,omitempty"`
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
// named pipe or a device is refused without blocking). Versions 1 and 2 are read and matched
// as before (by element path; by fingerprint in every directory); Notice says so and how to
// rewrite it. A file that does not exist is ErrNoBaseline.
func ReadBaseline(path string) (*Baseline, error) {
	data, err := infile.Read(path, MaxBaselineSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("baseline %s: %w", path, ErrNoBaseline)
	}
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
	case 2:
		b.Notice = fmt.Sprintf("baseline %s has schema_version 2, whose entries name no policy directory: "+
			"each one suppresses its finding in every directory. Rewrite it as version %d with --write-baseline %s",
			path, BaselineVersion, path)
	case BaselineVersion:
	default:
		return nil, fmt.Errorf("read baseline %s: unsupported schema_version %d: this agentctl reads 1 to %d; "+
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
		if b.SchemaVersion == BaselineVersion && e.Dir == "" {
			return nil, fmt.Errorf("read baseline %s: entry %d needs dir", path, i)
		}
	}
	return &b, nil
}

// DirFindings are the findings of one policy directory and the checks that ran on it. Dir
// is the directory relative to the repository root, in slash form.
type DirFindings struct {
	Dir      string
	Findings []Finding
	Ran      []*Check
}

// NewBaseline returns a baseline accepting every finding of the directories not suppressed
// inline, one entry per directory and fingerprint, sorted by directory, check and subject.
// Entries of keep (a version 3 baseline being rewritten) for directories not among dirs
// are kept: recording one directory leaves the others' entries alone.
func NewBaseline(dirs []DirFindings, keep *Baseline) *Baseline {
	b := &Baseline{SchemaVersion: BaselineVersion, Findings: []BaselineEntry{}}
	written := map[string]bool{}
	seen := map[[2]string]bool{}
	for _, d := range dirs {
		written[d.Dir] = true
		for _, f := range d.Findings {
			k := [2]string{d.Dir, f.Fingerprint}
			if seen[k] || (f.Suppression != nil && f.Suppression.Kind == SuppressedInline) {
				continue
			}
			seen[k] = true
			b.Findings = append(b.Findings, BaselineEntry{Dir: d.Dir,
				Check: f.Check.ID, Fingerprint: f.Fingerprint, Subject: f.Subject, Element: f.Element, Message: f.Message,
			})
		}
	}
	if keep != nil && keep.SchemaVersion == BaselineVersion {
		for _, e := range keep.Findings {
			if !written[e.Dir] {
				b.Findings = append(b.Findings, e)
			}
		}
	}
	sort.SliceStable(b.Findings, func(i, j int) bool {
		x, y := b.Findings[i], b.Findings[j]
		if x.Dir != y.Dir {
			return x.Dir < y.Dir
		}
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

// Apply marks active findings the baseline lists as suppressed, whatever directory an entry
// names, and returns the entries of the checks that ran that matched no finding at all
// (stale: the problem was fixed or the element renamed). Entries of checks that did not
// run are left alone. ApplyDirs is the directory-aware form.
func (b *Baseline) Apply(findings []Finding, ran []*Check) (stale []BaselineEntry) {
	return b.apply([]DirFindings{{Findings: findings, Ran: ran}}, false)
}

// ApplyDirs marks the active findings of each directory that an entry of that directory
// lists (an entry of version 1 or 2: of any directory) as suppressed, and returns the
// stale entries: those that matched nothing although their directory was linted and their
// check ran there. Entries of directories not linted are never stale.
func (b *Baseline) ApplyDirs(dirs []DirFindings) (stale []BaselineEntry) {
	return b.apply(dirs, true)
}

func (b *Baseline) apply(dirs []DirFindings, scoped bool) (stale []BaselineEntry) {
	key := func(dir, check, fingerprint, element string) [3]string {
		if !scoped || b.SchemaVersion < BaselineVersion {
			dir = ""
		}
		if b.SchemaVersion == 1 {
			return [3]string{dir, check, element}
		}
		return [3]string{dir, check, fingerprint}
	}
	matched := make([]bool, len(b.Findings))
	index := map[[3]string]int{}
	for i, e := range b.Findings {
		index[key(e.Dir, e.Check, e.Fingerprint, e.Element)] = i
	}
	ran := map[string][]*Check{} // checks that ran, by directory ("" for any)
	for _, d := range dirs {
		for i := range d.Findings {
			f := &d.Findings[i]
			j, ok := index[key(d.Dir, f.Check.ID, f.Fingerprint, f.Element)]
			if !ok {
				continue
			}
			matched[j] = true
			if f.Suppression == nil {
				f.Suppression = &Suppression{Kind: SuppressedBaseline}
			}
		}
		ran[d.Dir] = append(ran[d.Dir], d.Ran...)
		ran[""] = append(ran[""], d.Ran...)
	}
	for i, e := range b.Findings {
		dir := e.Dir
		if !scoped || b.SchemaVersion < BaselineVersion {
			dir = ""
		}
		if !matched[i] && slices.ContainsFunc(ran[dir], func(c *Check) bool { return c.ID == e.Check }) {
			stale = append(stale, e)
		}
	}
	return stale
}
