package lint

import (
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// applyIgnores marks findings covered by an @ignore with a reason. An @ignore on path P
// covers findings whose element is P or nested under it, for the check it names by ID or
// slug. Ignores without a reason cover nothing (AC053 reports them).
func applyIgnores(p *policy.Policy, findings []Finding) {
	byPath := map[string][]policy.Ignore{}
	for _, ig := range p.Ignores {
		if strings.TrimSpace(ig.Reason) != "" {
			byPath[ig.Path] = append(byPath[ig.Path], ig)
		}
	}
	if len(byPath) == 0 {
		return
	}
	// Most findings sit under no @ignore: check their root element first, and walk up only
	// when an @ignore lies under that root (or one covers a whole section or the policy).
	roots, walkAll := map[string]bool{}, false
	for path := range byPath {
		if strings.IndexAny(path, ".[") < 0 {
			walkAll = true
		}
		roots[root(path)] = true
	}
	for i := range findings {
		f := &findings[i]
		if !walkAll && !roots[root(f.Element)] {
			continue
		}
		for path := f.Element; f.Suppression == nil; path = parent(path) {
			for _, ig := range byPath[path] {
				if ig.Check == f.Check.ID || ig.Check == f.Check.Slug {
					f.Suppression = &Suppression{Kind: SuppressedInline, Reason: ig.Reason}
					break
				}
			}
			if path == "" {
				break
			}
		}
	}
}

// parent returns the element path enclosing path, "" (the whole policy) at the top:
// "agents.a.grants[2]" -> "agents.a.grants" -> "agents.a" -> "agents" -> "".
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// root cuts path after its second segment: "agents.a.grants[2]" -> "agents.a",
// "handoffs[3]" -> "handoffs[3]", "settings.audit.chains" -> "settings.audit".
func root(path string) string {
	i := strings.IndexAny(path, ".[")
	if i < 0 {
		return path
	}
	if j := strings.IndexAny(path[i+1:], ".["); j >= 0 {
		return path[:i+1+j]
	}
	return path
}
