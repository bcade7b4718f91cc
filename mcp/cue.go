package mcp

import (
	"fmt"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/literal"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/schema"
)

// Options shape the generated tool block.
type Options struct {
	Tool        string // the name of the tools: block (required)
	Source      string // "mcp" (default), "internal" or "third_party"
	Data        string // the data class of every action (default "confidential")
	Auth        string // auth.kind (default "shared_token")
	IgnoreHints bool   // treat every tool as the worst case
	Package     string // package clause; none when empty
	From        string // where the catalogue came from, for the header comment
}

// Generate writes a formatted CUE file with one tools: block for the catalogue: one action
// per MCP tool, its effect from the annotations, a pin, and comments saying what to review.
func Generate(cat *Catalogue, o Options) ([]byte, error) {
	if !schema.ValidName(o.Tool) {
		return nil, fmt.Errorf("tool name %q is not a policy name (%s)", o.Tool, schema.NamePattern)
	}
	if o.Package != "" && !ast.IsValidIdent(o.Package) {
		return nil, fmt.Errorf("package name %q is not a CUE identifier", o.Package)
	}
	o = o.withDefaults()
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("// Imported by agentctl import mcp from %s.\n", oneLine(o.From, 200))
	if cat.Server != "" {
		w("// Server: %s.\n", oneLine(cat.Server, 200))
	}
	w("// Review every line marked \"review\": the server's annotations are its own claims, and\n")
	w("// the data classes are a guess. Keep the pins: agentctl import mcp --check compares the\n")
	w("// server with them.\n")
	if o.Package != "" {
		w("package %s\n", o.Package)
	}
	w("\ntools: %s: {\n", label(o.Tool))
	if cat.Server != "" {
		w("description: %s\n", quote("MCP server "+cat.Server))
	}
	w("source: %s\n", quote(o.Source))
	open := 0
	for _, t := range cat.Tools {
		if o.IgnoreHints || HintsOf(t).OpenWorld {
			open++
		}
	}
	switch {
	case o.IgnoreHints:
		w("// Annotations ignored (--ignore-hints): every tool is assumed to reach an open world.\n")
	case len(cat.Tools) == 0:
		w("// The server lists no tools.\n")
	default:
		w("// %d of %d tools may reach an open world (openWorldHint true, or absent: MCP default true).\n", open, len(cat.Tools))
	}
	w("external: %t\n", open > 0)
	w("// review: how agents authenticate to this server.\n")
	w("auth: kind: %s\n", quote(o.Auth))
	w("actions: {\n")
	names := actionNames(cat)
	for _, t := range cat.Tools {
		name := names[t.Name]
		pin := PinOf(t)
		effect := EffectOf(pin.Hints)
		if o.IgnoreHints {
			effect = EffectOf(worstCase)
		}
		if d := oneLine(t.Description, 100); d != "" {
			w("// %s: %s\n", quote(t.Name), d)
		}
		w("// effect %s: %s.\n", effect, because(t, o.IgnoreHints))
		if !o.IgnoreHints {
			w("// %s\n", world(t))
		}
		w("// review: data class %s is assumed.\n", o.Data)
		w("%s: {\n", label(name))
		w("effect: %s\n", quote(effect))
		w("data: %s\n", quote(o.Data))
		w("pin: {\n")
		w("version: %d\n", pin.Version)
		w("tool: %s\n", quote(pin.Tool))
		w("title: %s\n", quote(pin.Title))
		w("description: %s\n", quote(pin.Description))
		w("input_schema: %s\n", quote(pin.InputSchema))
		w("output_schema: %s\n", quote(pin.OutputSchema))
		w("meta: %s\n", quote(pin.Meta))
		h := pin.Hints
		w("hints: {read_only: %t, destructive: %t, idempotent: %t, open_world: %t}\n", h.ReadOnly, h.Destructive, h.Idempotent, h.OpenWorld)
		w("}\n}\n")
	}
	w("}\n}\n")
	return formatCUE(b.String())
}

// formatCUE formats generated CUE as cue fmt does; the generators only write valid CUE.
func formatCUE(src string) ([]byte, error) {
	out, err := format.Source([]byte(src), format.Simplify())
	if err != nil {
		return nil, fmt.Errorf("internal error: format generated CUE: %w\n%s", err, src)
	}
	return out, nil
}

func (o Options) withDefaults() Options {
	if o.Source == "" {
		o.Source = "mcp"
	}
	if o.Data == "" {
		o.Data = policy.DataConfidential
	}
	if o.Auth == "" {
		o.Auth = "shared_token"
	}
	if o.From == "" {
		o.From = "a tools/list result"
	}
	return o
}

// actionNames maps each tool's name to its action name. Names that are valid action names
// already are kept; the others are derived and made unique.
func actionNames(cat *Catalogue) map[string]string {
	out, taken := map[string]string{}, map[string]bool{}
	for _, t := range cat.Tools {
		if ActionName(t.Name) == t.Name {
			out[t.Name], taken[t.Name] = t.Name, true
		}
	}
	for _, t := range cat.Tools {
		if _, ok := out[t.Name]; !ok {
			out[t.Name] = unique(ActionName(t.Name), taken)
		}
	}
	return out
}

// unique returns name, or name with a numeric suffix when it is taken, and marks it taken.
func unique(name string, taken map[string]bool) string {
	n := name
	for i := 2; taken[n]; i++ {
		suffix := "_" + strconv.Itoa(i)
		n = name[:min(len(name), 63-len(suffix))] + suffix
	}
	taken[n] = true
	return n
}

// label writes a field label: bare when it is an identifier, quoted otherwise.
func label(s string) string {
	if ast.IsValidIdent(s) && !strings.HasPrefix(s, "_") && !strings.HasPrefix(s, "#") && !reserved[s] {
		return s
	}
	return quote(s)
}

// reserved are identifiers that read as something else where a label stands.
var reserved = map[string]bool{"true": true, "false": true, "null": true, "if": true, "for": true,
	"in": true, "let": true, "import": true, "package": true, "div": true, "mod": true, "quo": true, "rem": true}

func quote(s string) string { return literal.String.Quote(s) }

// oneLine shortens untrusted text for a comment: the first line, escaped with the one rule
// of policy.Escape (control, bidirectional and zero-width characters written as \u escapes,
// so a comment cannot hide or reorder text), at most max runes.
func oneLine(s string, max int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = policy.Escape(strings.TrimSpace(s))
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}
