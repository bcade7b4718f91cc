package lint

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// A finding's subject names what it is about in words that survive edits: a grant by its
// tool, actions and resources, a hand-off by its ends, a cycle by its agents. List indices
// and positions never appear in it, so inserting, deleting or reordering grants, hand-offs or
// files and moving lines leave the subjects (and fingerprints) of other findings unchanged.
//
//	agents.triage.grants{tool=crm actions=read,update}
//	handoffs{triage->billing}
//	handoffs.cycle{billing,triage}
//	agents.ops@ignore(AC010)

// Fingerprint hashes a check ID and a subject: 16 hex digits, the baseline key and SARIF's
// partial fingerprint.
func Fingerprint(check, subject string) string {
	sum := sha256.Sum256([]byte(check + "\x00" + subject))
	return hex.EncodeToString(sum[:8])
}

// subjects turns element paths into subjects. It indexes the list elements of the policy
// only when a finding names one.
type subjects struct {
	p     *policy.Policy
	lists map[string]string // "agents.a.grants[2]" -> "agents.a.grants{...}"
}

// of returns the subject of element: the path with a list element replaced by its content.
func (s *subjects) of(element string) string {
	end := strings.IndexByte(element, ']')
	if end < 0 {
		return element
	}
	if s.lists == nil {
		s.index()
	}
	if subj, ok := s.lists[element[:end+1]]; ok {
		return subj + element[end+1:]
	}
	return element
}

func (s *subjects) index() {
	s.lists = map[string]string{}
	for _, a := range s.p.Agents {
		for _, g := range a.Grants {
			s.lists[g.Path] = grantSubject(g)
		}
	}
	for _, sc := range s.p.Scenarios {
		for _, g := range sc.Authority {
			s.lists[g.Path] = grantSubject(g)
		}
	}
	for _, h := range s.p.Handoffs {
		s.lists[h.Path()] = handoffSubject(h.From, h.To)
	}
}

// grantSubject names a grant by its content: identical grants of one agent share it, which
// is harmless (they have the same findings).
func grantSubject(g *policy.Grant) string {
	base := g.Path
	if i := strings.LastIndexByte(base, '['); i >= 0 {
		base = base[:i]
	}
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("{tool=")
	b.WriteString(g.Tool)
	b.WriteString(" actions=")
	b.WriteString(strings.Join(sortedSet(g.Actions), ","))
	if !g.AllResources() {
		b.WriteString(" resources=")
		b.WriteString(strings.Join(sortedSet(g.Resources), ","))
	}
	b.WriteByte('}')
	return b.String()
}

func handoffSubject(from, to string) string { return "handoffs{" + from + "->" + to + "}" }

func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// fingerprint fills the subject (from the element unless the check gave one) and the
// fingerprint of each finding.
func fingerprint(s *subjects, findings []Finding) {
	for i := range findings {
		f := &findings[i]
		if f.Subject == "" {
			f.Subject = s.of(f.Element)
		}
		f.Fingerprint = Fingerprint(f.Check.ID, f.Subject)
	}
}
