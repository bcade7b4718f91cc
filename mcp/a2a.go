package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"cuelang.org/go/cue/ast"

	"github.com/agentctl/agentctl/schema"
)

// AgentCard is the part of an A2A Agent Card (as served at /.well-known/agent-card.json)
// that an agents: skeleton uses. It reads both A2A 0.3 cards (url, protocolVersion,
// security, securitySchemes by type) and A2A 1.0 cards (supportedInterfaces,
// securityRequirements, securitySchemes as a oneof, per-skill securityRequirements).
type AgentCard struct {
	Name            string `json:"name"`
	Description     string `json:"description"`
	URL             string `json:"url"`             // 0.3
	Version         string `json:"version"`         //
	ProtocolVersion string `json:"protocolVersion"` // 0.3
	Provider        *struct {
		Organization string `json:"organization"`
		URL          string `json:"url"`
	} `json:"provider"`
	// 1.0: the interfaces the agent serves, the preferred first.
	SupportedInterfaces []struct {
		URL             string `json:"url"`
		ProtocolBinding string `json:"protocolBinding"`
		Tenant          string `json:"tenant"`
		ProtocolVersion string `json:"protocolVersion"`
	} `json:"supportedInterfaces"`
	Skills []struct {
		ID                   string                  `json:"id"`
		Name                 string                  `json:"name"`
		Description          string                  `json:"description"`
		Tags                 []string                `json:"tags"`
		Security             []map[string][]string   `json:"security"`             // 0.3
		SecurityRequirements []securityRequirementV1 `json:"securityRequirements"` // 1.0
	} `json:"skills"`
	SecuritySchemes      map[string]securityScheme `json:"securitySchemes"`
	Security             []map[string][]string     `json:"security"`             // 0.3
	SecurityRequirements []securityRequirementV1   `json:"securityRequirements"` // 1.0
}

// securityRequirementV1 is A2A 1.0's SecurityRequirement: scheme name -> its scopes.
type securityRequirementV1 struct {
	Schemes map[string]struct {
		List []string `json:"list"`
	} `json:"schemes"`
}

// securityScheme is an OpenAPI-style security scheme: A2A 0.3 writes its type, A2A 1.0
// wraps it in one field per kind.
type securityScheme struct {
	Type   string `json:"type"`   // 0.3: apiKey, http, oauth2, openIdConnect, mutualTLS
	Scheme string `json:"scheme"` // 0.3 http
	In     string `json:"in"`     // 0.3 apiKey
	APIKey *struct {
		Location string `json:"location"`
		Name     string `json:"name"`
	} `json:"apiKeySecurityScheme"`
	HTTPAuth *struct {
		Scheme string `json:"scheme"`
	} `json:"httpAuthSecurityScheme"`
	OAuth2 *struct{} `json:"oauth2SecurityScheme"`
	OIDC   *struct{} `json:"openIdConnectSecurityScheme"`
	MTLS   *struct{} `json:"mtlsSecurityScheme"`
}

// text describes a scheme: "apiKey in header", "http bearer", "oauth2", ...
func (s securityScheme) text() string {
	kind, scheme, in := s.Type, s.Scheme, s.In
	switch {
	case s.APIKey != nil:
		kind, in = "apiKey", s.APIKey.Location
	case s.HTTPAuth != nil:
		kind, scheme = "http", s.HTTPAuth.Scheme
	case s.OAuth2 != nil:
		kind = "oauth2"
	case s.OIDC != nil:
		kind = "openIdConnect"
	case s.MTLS != nil:
		kind = "mutualTLS"
	}
	if scheme != "" {
		kind += " " + scheme
	}
	if in != "" {
		kind += " in " + in
	}
	return kind
}

// requirements are the card's security requirements in one form (scheme -> scopes), from
// 0.3's security and 1.0's securityRequirements.
func requirements(v03 []map[string][]string, v1 []securityRequirementV1) []map[string][]string {
	out := slices.Clone(v03)
	for _, r := range v1 {
		m := map[string][]string{}
		for name, scopes := range r.Schemes {
			m[name] = scopes.List
		}
		out = append(out, m)
	}
	return out
}

// ReadAgentCard decodes an A2A Agent Card.
func ReadAgentCard(r io.Reader) (*AgentCard, error) {
	data, err := readObject(r, "an A2A Agent Card")
	if err != nil {
		return nil, err
	}
	var c AgentCard
	if err := json.Unmarshal(data, &c); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, posErr(data, int(syn.Offset)-1, "invalid JSON: %s", syn.Error())
		}
		return nil, fmt.Errorf("not an A2A Agent Card: %s", plainJSONError(err))
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
	for _, in := range c.SupportedInterfaces {
		line := "// Endpoint: " + oneLine(in.URL, 200)
		var about []string
		if in.ProtocolBinding != "" {
			about = append(about, oneLine(in.ProtocolBinding, 40))
		}
		if in.ProtocolVersion != "" {
			about = append(about, "A2A protocol "+oneLine(in.ProtocolVersion, 40))
		}
		if in.Tenant != "" {
			about = append(about, "tenant "+oneLine(in.Tenant, 60))
		}
		if len(about) > 0 {
			line += " (" + strings.Join(about, ", ") + ")"
		}
		w("%s\n", line)
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
			if reqs := requirements(s.Security, s.SecurityRequirements); len(reqs) > 0 {
				line += " [requires " + oneLine(requirementsText(reqs), 160) + "]"
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
	reqs := requirements(c.Security, c.SecurityRequirements)
	if len(reqs) == 0 && len(c.SecuritySchemes) == 0 {
		return "// Security: the card declares no security scheme (callers need no credential).\n"
	}
	var b strings.Builder
	b.WriteString("// Security the card declares (review against the credential block):\n")
	for _, name := range slices.Sorted(maps.Keys(c.SecuritySchemes)) {
		fmt.Fprintf(&b, "//   - scheme %s: %s\n", oneLine(name, 60), oneLine(c.SecuritySchemes[name].text(), 60))
	}
	for _, req := range reqs {
		fmt.Fprintf(&b, "//   - required: %s\n", oneLine(requirementsText([]map[string][]string{req}), 160))
	}
	return b.String()
}

// requirementsText writes requirements as "a and b (scopes x, y)", alternatives joined by
// " or ".
func requirementsText(reqs []map[string][]string) string {
	var alts []string
	for _, req := range reqs {
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(req)) {
			part := name
			if scopes := req[name]; len(scopes) > 0 {
				part += " (scopes " + strings.Join(scopes, ", ") + ")"
			}
			parts = append(parts, part)
		}
		alts = append(alts, strings.Join(parts, " and "))
	}
	return strings.Join(alts, " or ")
}

// WellKnownCard is where an A2A agent serves its card.
const WellKnownCard = "/.well-known/agent-card.json"

// MaxCardSize bounds the card FetchAgentCard reads.
const MaxCardSize = 1 << 20

// CardURL returns where to GET the card of the agent at raw: its well-known path when raw
// names only a host, raw itself otherwise. Plain http is refused except on the loopback
// host (127.0.0.1, ::1, localhost): a card fetched in clear could be swapped on the way.
func CardURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute URL (want https://host)", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return "", fmt.Errorf("%s: plain http is allowed only for 127.0.0.1, ::1 and localhost: use https", raw)
		}
	default:
		return "", fmt.Errorf("%s: scheme %q (want https)", raw, u.Scheme)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = WellKnownCard
	}
	return u.String(), nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FetchAgentCard GETs the card of the agent at raw (see CardURL), reading at most
// MaxCardSize bytes, following at most 3 redirects and only to URLs CardURL accepts; ctx
// bounds the time. It returns the card and the URL it came from.
func FetchAgentCard(ctx context.Context, raw string) (*AgentCard, string, error) {
	where, err := CardURL(raw)
	if err != nil {
		return nil, "", err
	}
	client := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > 3 {
			return errors.New("more than 3 redirects")
		}
		_, err := CardURL(req.URL.String())
		return err
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, where, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, where, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, where, fmt.Errorf("GET %s: %s", where, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxCardSize+1))
	if err != nil {
		return nil, where, fmt.Errorf("GET %s: %w", where, err)
	}
	if len(data) > MaxCardSize {
		return nil, where, fmt.Errorf("GET %s: the card is larger than %d bytes", where, MaxCardSize)
	}
	card, err := ReadAgentCard(bytes.NewReader(data))
	return card, where, err
}
