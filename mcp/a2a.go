package mcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"cuelang.org/go/cue/ast"

	"github.com/agentctl/agentctl/schema"
)

// AgentCard is the part of an A2A Agent Card (as served at /.well-known/agent-card.json)
// that an agents: skeleton uses.
type AgentCard struct {
	Name            string `json:"name"`
	Description     string `json:"description"`
	URL             string `json:"url"`
	Version         string `json:"version"`
	ProtocolVersion string `json:"protocolVersion"`
	Provider        *struct {
		Organization string `json:"organization"`
		URL          string `json:"url"`
	} `json:"provider"`
	Skills []struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Tags        []string `json:"tags"`
	} `json:"skills"`
	SecuritySchemes map[string]struct {
		Type   string `json:"type"`
		Scheme string `json:"scheme"`
		In     string `json:"in"`
	} `json:"securitySchemes"`
	Security []map[string][]string `json:"security"`
}

// ReadAgentCard decodes an A2A Agent Card.
func ReadAgentCard(r io.Reader) (*AgentCard, error) {
	data, err := readObject(r, "an A2A Agent Card")
	if err != nil {
		return nil, err
	}
	var c AgentCard
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("not an A2A Agent Card: %w", err)
	}
	if strings.TrimSpace(c.Name) == "" {
		return nil, errors.New(`not an A2A Agent Card: no "name"`)
	}
	return &c, nil
}

// AgentName derives a policy name from a card's name: lower case, other characters "-".
func AgentName(card string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(card)) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '_':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = "a-" + name
	}
	return strings.TrimRight(name[:min(len(name), 63)], "-")
}

// GenerateAgent writes a formatted CUE file with an agents: skeleton for the card: its
// name, description and provider as owner, and its skills and security requirements as
// comments. The card says what the agent offers, never what it may do, so the skeleton
// grants nothing.
func GenerateAgent(c *AgentCard, agent, from, pkg string) ([]byte, error) {
	if !schema.ValidName(agent) {
		return nil, fmt.Errorf("agent name %q is not a policy name (%s)", agent, schema.NamePattern)
	}
	if pkg != "" && !ast.IsValidIdent(pkg) {
		return nil, fmt.Errorf("package name %q is not a CUE identifier", pkg)
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("// Imported by agentctl import a2a from %s.\n", oneLine(from, 200))
	w("// An Agent Card says what an agent offers, never what it may do: the grants, identity and\n")
	w("// credential of this agent are yours to decide. Review every line marked \"review\".\n")
	if pkg != "" {
		w("package %s\n", pkg)
	}
	w("\nagents: %s: {\n", label(agent))
	if d := strings.TrimSpace(c.Description); d != "" {
		w("description: %s\n", quote(d))
	}
	if p := c.Provider; p != nil && strings.TrimSpace(p.Organization) != "" {
		w("// review: the card's provider; the owner is who is accountable for the agent in your estate.\n")
		w("owner: %s\n", quote(strings.TrimSpace(p.Organization)))
	} else {
		w("// review: the card names no provider; set the owner accountable for the agent.\n")
	}
	w("// Card: %s", oneLine(c.Name, 100))
	if c.Version != "" {
		w(", version %s", oneLine(c.Version, 40))
	}
	if c.ProtocolVersion != "" {
		w(", A2A protocol %s", oneLine(c.ProtocolVersion, 40))
	}
	w(".\n")
	if c.URL != "" {
		w("// Endpoint: %s\n", oneLine(c.URL, 200))
	}
	if len(c.Skills) == 0 {
		w("// Skills: the card lists none.\n")
	} else {
		w("// Skills the card claims (unverified):\n")
		for _, s := range c.Skills {
			line := "//   - " + oneLine(s.ID, 60)
			if s.Name != "" {
				line += " (" + oneLine(s.Name, 60) + ")"
			}
			if d := oneLine(s.Description, 100); d != "" {
				line += ": " + d
			}
			w("%s\n", line)
		}
	}
	w("%s", securityComment(c))
	w("// review: the SPIFFE ID this agent presents; the card does not carry one.\n")
	w("// identity: spiffe_id: \"spiffe://example.org/agents/%s\"\n", agent)
	w("// review: grants. A card cannot say what the agent may do; it gets nothing until you decide.\n")
	w("grants: []\n")
	w("}\n")
	return formatCUE(b.String())
}

// securityComment lists the card's security requirements and the schemes they name.
func securityComment(c *AgentCard) string {
	if len(c.Security) == 0 && len(c.SecuritySchemes) == 0 {
		return "// Security: the card declares no security scheme (callers need no credential).\n"
	}
	var b strings.Builder
	b.WriteString("// Security the card declares (review against the credential block):\n")
	for _, name := range slices.Sorted(maps.Keys(c.SecuritySchemes)) {
		s := c.SecuritySchemes[name]
		kind := s.Type
		if s.Scheme != "" {
			kind += " " + s.Scheme
		}
		if s.In != "" {
			kind += " in " + s.In
		}
		fmt.Fprintf(&b, "//   - scheme %s: %s\n", oneLine(name, 60), oneLine(kind, 60))
	}
	for _, req := range c.Security {
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(req)) {
			part := name
			if scopes := req[name]; len(scopes) > 0 {
				part += " (scopes " + strings.Join(scopes, ", ") + ")"
			}
			parts = append(parts, part)
		}
		fmt.Fprintf(&b, "//   - required: %s\n", oneLine(strings.Join(parts, " and "), 160))
	}
	return b.String()
}
