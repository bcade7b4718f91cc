package schema

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue/errors"

	"github.com/agentctl/agentctl/policy"
)

// Error is one load error at a source position.
type Error struct {
	Pos policy.Pos
	Msg string
}

// Error shows the message with user text escaped (policy.Escape): a key or value holding a
// newline or a bidirectional override cannot split or reorder the line.
func (e Error) Error() string {
	if !e.Pos.IsValid() {
		return policy.Escape(e.Msg)
	}
	return e.Pos.String() + ": " + policy.Escape(e.Msg)
}

// Errors is every load error of a policy, sorted by position. Load reports all of them at
// once so users fix a policy in one round.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Pos != es[j].Pos {
			return es[i].Pos.Less(es[j].Pos)
		}
		return es[i].Msg < es[j].Msg
	})
	// Drop exact duplicates: a value written in two files can fail twice the same way.
	out := es[:0]
	for i, e := range es {
		if i == 0 || e != es[i-1] {
			out = append(out, e)
		}
	}
	return out
}

// errGroup gathers the CUE errors of one path.
type errGroup struct {
	path      string // as the loader's position maps key it
	shown     string // as messages show it (showKey)
	pos       policy.Pos
	disjunct  bool
	conflicts [][2]string       // the two values of each "conflicting values" error
	types     map[string]string // value -> its kind, from "mismatched types" errors
	others    []string
	// clash is set when two user files disagree (no schema position involved): that is the
	// error to show, with where the other value is written.
	clash *[2]string
	also  policy.Pos
}

// fromCUE turns CUE evaluation errors into user errors. CUE reports a bad enum value as an
// "empty disjunction" summary plus one error per branch; those are collapsed into one
// message listing what is allowed. Positions inside the embedded schema are never shown:
// the error is placed at the user's value, or at the nearest enclosing element.
func (l *loader) fromCUE(err error) Errors {
	var order []string
	groups := map[string]*errGroup{}
	for _, e := range errors.Errors(err) {
		path, shown := userPath(e.Path())
		g := groups[path]
		if g == nil {
			g = &errGroup{path: path, shown: shown}
			groups[path] = g
			order = append(order, path)
		}
		all := errors.Positions(e)
		ps := l.userPositions(all)
		if len(ps) > 0 && !g.pos.IsValid() {
			g.pos = ps[0]
		}
		format, args := e.Msg()
		switch {
		case strings.Contains(format, "empty disjunction"):
			g.disjunct = true
		case strings.HasPrefix(format, "conflicting values %s and %s") && len(args) >= 2:
			a, b := fmt.Sprint(args[0]), fmt.Sprint(args[1])
			g.conflicts = append(g.conflicts, [2]string{a, b})
			if len(ps) >= 2 && len(ps) == len(all) && g.clash == nil {
				g.clash, g.pos, g.also = &[2]string{a, b}, ps[0], ps[1]
			}
			if strings.Contains(format, "mismatched types") && len(args) >= 4 {
				if g.types == nil {
					g.types = map[string]string{}
				}
				g.types[a], g.types[b] = fmt.Sprint(args[2]), fmt.Sprint(args[3])
			}
		default:
			g.others = append(g.others, fmt.Sprintf(format, args...))
		}
	}
	var out Errors
	for _, path := range order {
		g := groups[path]
		pos := g.pos
		if !pos.IsValid() {
			pos = l.errPos(path)
		}
		for _, m := range g.messages() {
			out = append(out, Error{Pos: pos, Msg: m})
		}
	}
	return out
}

// messages words a group's errors for users.
func (g *errGroup) messages() []string {
	prefix := ""
	if g.shown != "" {
		prefix = g.shown + ": "
	}
	if g.clash != nil {
		return []string{fmt.Sprintf("%sconflicting values %s and %s (the other is at %s)", prefix, g.clash[0], g.clash[1], g.also)}
	}
	if g.disjunct && len(g.others) > 0 {
		// A branch failed for a reason other than a plain mismatch (a bad duration, a bound):
		// that reason is the useful one.
		return []string{prefix + friendly(g.others[0])}
	}
	if g.disjunct || len(g.conflicts) > 1 {
		got, allowed := splitConflicts(g.conflicts)
		if kinds := bareKinds(allowed); len(kinds) > 0 {
			// "want 3 or int" reads badly: a default plus a type. Say the type.
			allowed = kinds
		}
		if slices.Contains(allowed, durationValidator) {
			allowed = []string{schemaShape(durationValidator)}
		}
		return []string{fmt.Sprintf("%sinvalid value %s (want %s)", prefix, got, strings.Join(allowed, " or "))}
	}
	var out []string
	for _, c := range g.conflicts {
		// The schema's side of a conflict is CUE syntax full of definitions: say what it wants.
		if want := schemaShape(c[1]); want != "" && schemaShape(c[0]) == "" {
			out = append(out, fmt.Sprintf("%sinvalid value %s (want %s)", prefix, c[0], want))
		} else if want := schemaShape(c[0]); want != "" && schemaShape(c[1]) == "" {
			out = append(out, fmt.Sprintf("%sinvalid value %s (want %s)", prefix, c[1], want))
		} else {
			out = append(out, fmt.Sprintf("%sconflicting values %s and %s", prefix, c[0], c[1]))
		}
	}
	for _, m := range g.others {
		out = append(out, prefix+friendly(m))
	}
	return out
}

// splitConflicts finds the user's value (the one every conflict shares) and the alternatives
// it was compared against.
func splitConflicts(cs [][2]string) (got string, allowed []string) {
	count := map[string]int{}
	for _, c := range cs {
		count[c[0]]++
		if c[1] != c[0] {
			count[c[1]]++
		}
	}
	for v, n := range count {
		if n == len(cs) && (got == "" || v < got) {
			got = v
		}
	}
	seen := map[string]bool{}
	for _, c := range cs {
		for _, v := range c {
			if v != got && !seen[v] {
				seen[v] = true
				allowed = append(allowed, v)
			}
		}
	}
	sort.Strings(allowed)
	return got, allowed
}

// durationValidator is how CUE prints #Duration's validator in a conflict.
const durationValidator = "time.Duration()"

// schemaShape says in the policy's words what a value from the schema wants: a struct, a list
// or a duration. It returns "" for values that do not look like the schema's: concrete data
// has no definitions, optional fields, defaults, patterns or open lists.
func schemaShape(v string) string {
	if v == durationValidator {
		return `a duration string such as "15m"`
	}
	schemaLike := false
	for _, mark := range []string{"#", "?:", "(*", "...", "=~", ":string", ":int", ":bool", ":number"} {
		schemaLike = schemaLike || strings.Contains(v, mark)
	}
	switch {
	case !schemaLike:
		return ""
	case strings.HasPrefix(v, "{"):
		return "a struct"
	case strings.HasPrefix(v, "["):
		return "a list"
	}
	return ""
}

// bareKinds returns the entries of allowed that are CUE kinds rather than values.
func bareKinds(allowed []string) []string {
	var kinds []string
	for _, a := range allowed {
		switch a {
		case "int", "float", "number", "string", "bool", "bytes":
			kinds = append(kinds, a)
		}
	}
	return kinds
}

// durationBound ends CUE's message for a duration #Duration's pattern rejects.
const durationBound = ` (out of bound =~"^[^-]*[1-9]")`

// spiffeBound ends CUE's message for a SPIFFE ID #SpiffeID's pattern rejects.
var spiffeBound = " (out of bound =~" + strconv.Quote(spiffeIDPattern) + ")"

const spiffeRule = `(want spiffe://TRUST-DOMAIN/PATH: a trust domain of lowercase letters, digits, ".", "-" and "_"; ` +
	`path segments of letters, digits, ".", "-" and "_", none empty, "." or "..")`

const positiveDuration = `(durations must be positive, such as "15m" or "1h30m")`

// friendly rewords the CUE messages users meet most.
func friendly(m string) string {
	switch {
	case m == "field not allowed":
		return "unknown field (not part of the agentctl policy language)"
	case strings.HasPrefix(m, "incompatible list lengths (0 and"):
		return "must not be empty"
	case strings.HasPrefix(m, "incomplete value"), m == "field is required but not present":
		return "missing required field"
	case strings.HasSuffix(m, spiffeBound):
		v := strings.TrimSuffix(strings.TrimPrefix(m, "invalid value "), spiffeBound)
		return fmt.Sprintf("invalid SPIFFE ID %s %s", v, spiffeRule)
	case strings.HasSuffix(m, durationBound):
		v := strings.TrimSuffix(strings.TrimPrefix(m, "invalid value "), durationBound)
		return fmt.Sprintf("invalid duration %s %s", v, positiveDuration)
	case strings.HasSuffix(m, "(does not satisfy time.Duration)"):
		v := strings.TrimSuffix(strings.TrimPrefix(m, "invalid value "), " (does not satisfy time.Duration)")
		return fmt.Sprintf("invalid duration %s (write a Go duration such as \"15m\" or \"1h30m\")", v)
	}
	return m
}

// userPath renders a CUE error path without the schema's #Policy root, with list indexes in
// brackets: agents.billing.grants[2].tool. path has the keys as written, for the position
// maps; shown quotes the keys that are not plain (showKey), for messages.
func userPath(sel []string) (path, shown string) {
	if len(sel) > 0 && sel[0] == "#Policy" {
		sel = sel[1:]
	}
	var p, sh strings.Builder
	for _, s := range sel {
		if isIndex(s) {
			p.WriteString("[" + s + "]")
			sh.WriteString("[" + s + "]")
			continue
		}
		if u, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
			s = u
		}
		if p.Len() > 0 {
			p.WriteByte('.')
			sh.WriteByte('.')
		}
		p.WriteString(s)
		sh.WriteString(showKey(s))
	}
	return p.String(), sh.String()
}

// showKey quotes a key for a path shown in a message unless it is plain: letters, digits and
// _ - # $ only, as names, hidden fields and definitions are.
func showKey(k string) string {
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '#', c == '$':
		default:
			return strconv.Quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
