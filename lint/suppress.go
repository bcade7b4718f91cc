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
	for i := range findings {
		f := &findings[i]
		for _, path := range ancestors(f.Element) {
			for _, ig := range byPath[path] {
				if ig.Check == f.Check.ID || ig.Check == f.Check.Slug {
					f.Suppression = &Suppression{Kind: SuppressedInline, Reason: ig.Reason}
					break
				}
			}
			if f.Suppression != nil {
				break
			}
		}
	}
}

// ancestors returns path and every enclosing element path, innermost first, ending with ""
// (the whole policy): "agents.a.grants[2]" -> "agents.a.grants[2]", "agents.a.grants",
// "agents.a", "agents", "".
func ancestors(path string) []string {
	out := []string{path}
	for path != "" {
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
		out = append(out, path)
	}
	return out
}
