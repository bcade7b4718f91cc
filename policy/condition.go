package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Condition operators: exactly one per condition.
const (
	OpIn         = "in"          // the attribute equals a value of a list
	OpNotIn      = "not_in"      // the attribute equals no value of a list
	OpMatches    = "matches"     // the attribute is a string matching a glob (as resources)
	OpNotMatches = "not_matches" // the attribute is a string not matching a glob
	OpAbove      = "above"       // the attribute is a number > Number
	OpAtMost     = "at_most"     // the attribute is a number <= Number
)

// Operators lists the condition operators, in the order the schema writes them.
var Operators = []string{OpIn, OpNotIn, OpMatches, OpNotMatches, OpAbove, OpAtMost}

// Condition is one test on a request attribute (attributes[Attribute]).
type Condition struct {
	Attribute string
	Op        string
	List      string  // in, not_in: the list named; "" when the values are literal
	Values    []any   // in, not_in with literal values: strings and float64s
	Pattern   string  // matches, not_matches: a glob, "*" matching any run of characters
	Number    float64 // above, at_most
	Path      string  // its element path, e.g. "agents.billing.grants[0].when[1]"
	Pos       Pos
}

// String shows the condition as messages and explanations name it, e.g.
// `recipient in list "payees"`, `amount at_most 100`, `domain matches "*.corp.example"`.
func (c *Condition) String() string {
	switch c.Op {
	case OpIn, OpNotIn:
		if c.List != "" {
			return fmt.Sprintf("%s %s list %q", c.Attribute, c.Op, c.List)
		}
		vals := make([]string, len(c.Values))
		for i, v := range c.Values {
			vals[i] = FormatValue(v)
		}
		return fmt.Sprintf("%s %s [%s]", c.Attribute, c.Op, strings.Join(vals, ", "))
	case OpMatches, OpNotMatches:
		return fmt.Sprintf("%s %s %q", c.Attribute, c.Op, c.Pattern)
	}
	return fmt.Sprintf("%s %s %s", c.Attribute, c.Op, FormatValue(c.Number))
}

// ConditionsText shows a conjunction of conditions as witnesses and diffs name it:
// "a and b".
func ConditionsText(cs []*Condition) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, " and ")
}

// FormatValue shows a condition or list value: a number as is, a string quoted.
func FormatValue(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.Quote(fmt.Sprint(v))
}

// List is a named list of values that conditions test attributes against: fixed in the
// policy, or pushed at run time to data.agentctl_lists.<name> (absent there means empty).
type List struct {
	Name    string
	Values  []any // static: strings and float64s; nil for a runtime list
	Runtime bool
	// Key scopes a runtime list by a request field: "task", "agent", "identity" or
	// "attributes.<name>". The list is then data.agentctl_lists.<name>[<the field's value>],
	// and a request without that field (or with a non-string value) sees an empty list.
	// Empty: the list is data.agentctl_lists.<name> itself.
	Key string
	Pos Pos
}

// Path is the list's element path.
func (l *List) Path() string { return "lists." + l.Name }

// KeyPath is Key as the keys that lead to the field in the request.
func (l *List) KeyPath() []string {
	if l.Key == "" {
		return nil
	}
	return strings.SplitN(l.Key, ".", 2)
}

// ListKeyFields are the request fields a runtime list's key may name, besides
// "attributes.<name>".
var ListKeyFields = []string{"task", "agent", "identity"}

// FlowClass overrides one of an action's flow classes (untrusted, egress): always (Value
// true, When nil), never (Value false), or when conditions on the request hold (When set,
// Value true); a condition that cannot be tested counts as holding.
type FlowClass struct {
	Value bool
	When  []*Condition
	Path  string // e.g. "tools.web.actions.get.untrusted"
	Pos   Pos
}

// Possible reports whether the class can apply to some call: what static analysis uses.
func (f *FlowClass) Possible() bool { return f.Value }

// truth is what a condition says of a request: it holds, it fails, or it cannot be tested
// (the attribute is absent or of a type the operator does not test).
type truth int8

const (
	condFails truth = iota
	condHolds
	condUnknown
)

// conditionEnv is what conditions read: the request and the pushed runtime lists.
type conditionEnv struct {
	p     *Policy
	in    map[string]any
	lists any // data.agentctl_lists
}

func (e conditionEnv) eval(c *Condition) truth {
	v, present := Lookup(e.in, "attributes", c.Attribute)
	if !present {
		return condUnknown
	}
	switch c.Op {
	case OpIn, OpNotIn:
		if _, isStr := v.(string); !isStr {
			if _, isNum := number(v); !isNum {
				return condUnknown
			}
		}
		member := false
		for _, e := range e.values(c) {
			if sameScalar(v, e) {
				member = true
				break
			}
		}
		return truthOf(member == (c.Op == OpIn))
	case OpMatches, OpNotMatches:
		s, ok := v.(string)
		if !ok {
			return condUnknown
		}
		return truthOf(globMatch(c.Pattern, s) == (c.Op == OpMatches))
	case OpAbove, OpAtMost:
		n, ok := number(v)
		if !ok {
			return condUnknown
		}
		return truthOf(n.Cmp(bigOf(c.Number)) > 0 == (c.Op == OpAbove))
	}
	return condUnknown
}

func truthOf(b bool) truth {
	if b {
		return condHolds
	}
	return condFails
}

// values are the values an in/not_in condition tests against: its literal values, a
// static list's, or a runtime list's as pushed (anything but an array counts as empty).
func (e conditionEnv) values(c *Condition) []any {
	if c.List == "" {
		return c.Values
	}
	l := e.p.List(c.List)
	if l == nil {
		return nil
	}
	if !l.Runtime {
		return l.Values
	}
	doc, _ := Lookup(e.lists, l.Name)
	if kp := l.KeyPath(); kp != nil {
		k, ok := Lookup(e.in, kp...)
		ks, isStr := k.(string)
		if !ok || !isStr {
			return nil
		}
		doc, _ = Lookup(doc, ks)
	}
	list, _ := doc.([]any)
	return list
}

// sameScalar reports whether two JSON values are the same string or the same number.
func sameScalar(a, b any) bool {
	if s, ok := a.(string); ok {
		t, ok := b.(string)
		return ok && s == t
	}
	x, ok1 := number(a)
	y, ok2 := number(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// all reports whether every condition holds (a grant's conditions, integrity.unless).
func (e conditionEnv) all(conds []*Condition) bool {
	for _, c := range conds {
		if e.eval(c) != condHolds {
			return false
		}
	}
	return true
}

// noneFails reports whether no condition fails: an untestable condition counts as holding
// (an approval's and a flow class's conditions, where that is the safe side).
func (e conditionEnv) noneFails(conds []*Condition) bool {
	for _, c := range conds {
		if e.eval(c) == condFails {
			return false
		}
	}
	return true
}

// failing returns the conditions of conds that do not hold, as String shows them.
func (e conditionEnv) failing(conds []*Condition) []string {
	var out []string
	for _, c := range conds {
		if e.eval(c) != condHolds {
			out = append(out, c.String())
		}
	}
	return out
}

// ConditionAttributes returns the attributes the conditions bearing on act test, sorted:
// those of grants that may cover it, of approval rules selecting it, of its flow classes,
// and of the integrity rule's exception when the rule guards its effect. Replay fills them
// from a recorded call's arguments of the same name when the action maps none.
func (p *Policy) ConditionAttributes(act *Action) []string {
	seen := map[string]bool{}
	add := func(conds []*Condition) {
		for _, c := range conds {
			seen[c.Attribute] = true
		}
	}
	for _, a := range p.Agents {
		for _, g := range a.Grants {
			if g.Covers(act.Tool, act.Name) {
				add(g.When)
			}
		}
	}
	for _, r := range p.Approvals {
		if r.Match.SelectsAction(act) {
			add(r.Match.When)
		}
	}
	for _, f := range []*FlowClass{act.Untrusted, act.Egress} {
		if f != nil {
			add(f.When)
		}
	}
	if rule := p.IntegrityRule(); rule != nil && slices.Contains(rule.Effects, act.Effect) {
		add(rule.Unless)
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}
