package lint

import (
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
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
// partial fingerprint. The hash is 64-bit FNV-1a: it needs to be stable, not secret, and a
// large estate has tens of thousands of findings to fingerprint.
func Fingerprint(check, subject string) string {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(check); i++ {
		h = (h ^ uint64(check[i])) * prime
	}
	h *= prime // the separator byte 0
	for i := 0; i < len(subject); i++ {
		h = (h ^ uint64(subject[i])) * prime
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h)
	return hex.EncodeToString(b[:])
}

// subjects turns element paths into subjects, remembering each grant's.
type subjects struct {
	p      *policy.Policy
	grants map[*policy.Grant]string
}

// of returns the subject of element: the path with a list element replaced by its content.
func (s *subjects) of(element string) string {
	end := strings.IndexByte(element, ']')
	if end < 0 {
		return element
	}
	if subj, ok := s.item(element[:end+1]); ok {
		return subj + element[end+1:]
	}
	return element
}

// item returns the subject of a list element path: "handoffs[3]", "agents.a.grants[2]",
// "scenarios.s.authority[0]". Names hold no "." or "[", so the path splits unambiguously.
func (s *subjects) item(path string) (string, bool) {
	open := strings.LastIndexByte(path, '[')
	if open < 0 {
		return "", false
	}
	i, err := strconv.Atoi(path[open+1 : len(path)-1])
	if err != nil || i < 0 {
		return "", false
	}
	list := path[:open]
	var grants []*policy.Grant
	if list == "handoffs" {
		if i < len(s.p.Handoffs) {
			h := s.p.Handoffs[i]
			return "handoffs{" + h.From + "->" + h.To + "}", true
		}
		return "", false
	} else if name, ok := cut(list, "agents.", ".grants"); ok {
		if a := s.p.Agent(name); a != nil {
			grants = a.Grants
		}
	} else if name, ok := cut(list, "scenarios.", ".authority"); ok {
		for _, sc := range s.p.Scenarios {
			if sc.Name == name {
				grants = sc.Authority
			}
		}
	}
	if i >= len(grants) {
		return "", false
	}
	g := grants[i]
	subj, ok := s.grants[g]
	if !ok {
		subj = grantSubject(list, g)
		if s.grants == nil {
			s.grants = map[*policy.Grant]string{}
		}
		s.grants[g] = subj
	}
	return subj, true
}

// cut returns what lies between prefix and suffix in s.
func cut(s, prefix, suffix string) (string, bool) {
	if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, suffix) || len(s) < len(prefix)+len(suffix) {
		return "", false
	}
	return s[len(prefix) : len(s)-len(suffix)], true
}

// grantSubject names a grant by its content: identical grants of one agent share it, which
// is harmless (they have the same findings).
func grantSubject(list string, g *policy.Grant) string {
	actions, resources := sortedSet(g.Actions), sortedSet(g.Resources)
	size := len(list) + len("{tool= actions= resources=}") + len(g.Tool) + len(actions) + len(resources) // a comma per item
	for _, x := range actions {
		size += len(x)
	}
	for _, x := range resources {
		size += len(x)
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(list)
	b.WriteString("{tool=")
	b.WriteString(g.Tool)
	b.WriteString(" actions=")
	writeList(&b, actions)
	if !g.AllResources() {
		b.WriteString(" resources=")
		writeList(&b, resources)
	}
	b.WriteByte('}')
	return b.String()
}

func writeList(b *strings.Builder, items []string) {
	for i, x := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x)
	}
}

// sortedSet returns s sorted without duplicates; s itself when it already is.
func sortedSet(s []string) []string {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			out := slices.Clone(s)
			slices.Sort(out)
			return slices.Compact(out)
		}
	}
	return s
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
