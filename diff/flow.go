package diff

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// FlowChange is a change of what decides a call beyond who holds what: a condition (on a
// grant, an approval's match, a flow class or the integrity rule's exception), a static
// list those conditions read, a flow_exempt opt-out, or settings.flow. Op is Weaker when
// some call is allowed, or passes without a label or an approval, that did not before (the
// gate's weaker-flow), Stronger in the reverse case, Changed when neither can be told (a
// role renamed).
type FlowChange struct {
	Op     string `json:"op"`
	Path   string `json:"path"`
	Before string `json:"before"`
	After  string `json:"after"`
	Detail string `json:"detail"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"` // HEAD's, else BASE's
}

// Polarity of a condition site: whether a condition that holds more often lets more calls
// through (a grant's when, the integrity rule's unless) or stops more (an approval's
// match.when, a flow class's when).
const (
	permissive  = true
	restrictive = false
)

// flow fills r.Flow.
func (r *Result) flow(d *delta) {
	b, h := d.base, d.head
	add := func(op, path, before, after, detail string, pos policy.Pos) {
		file, line := posOf(pos)
		r.Flow = append(r.Flow, FlowChange{Op: op, Path: path, Before: before, After: after, Detail: detail, File: file, Line: line})
	}
	// conds compares one condition site present in both versions.
	conds := func(path string, cb, ch []*policy.Condition, polarity bool, pos policy.Pos) {
		wider, narrower := !implied(ch, cb, h, b), !implied(cb, ch, b, h)
		if op := judge(wider, narrower, polarity); op != "" {
			add(op, path, condText(cb), condText(ch), conditionDetail(wider, narrower, cb, ch, b, h), pos)
		}
	}
	for _, ah := range h.Agents {
		ab := b.Agent(ah.Name)
		if ab == nil {
			continue // a new agent's grants are structural changes and reach
		}
		if ab.FlowExempt == "" && ah.FlowExempt != "" {
			add(Weaker, ah.Path()+".flow_exempt", "", ah.FlowExempt, "agent "+q(ah.Name)+" opts out of the flow rules", ah.Pos)
		} else if ab.FlowExempt != "" && ah.FlowExempt == "" {
			add(Stronger, ah.Path()+".flow_exempt", ab.FlowExempt, "", "agent "+q(ah.Name)+" no longer opts out of the flow rules", ah.Pos)
		}
		gb, gh := grantsByKey(ab), grantsByKey(ah)
		for _, key := range slices.Sorted(maps.Keys(gh)) {
			if g, ok := gb[key]; ok {
				conds(key+".when", g.When, gh[key].When, permissive, gh[key].Pos)
			}
		}
	}
	for _, th := range h.Tools {
		tb := b.Tool(th.Name)
		if tb == nil {
			continue
		}
		for _, acth := range th.Actions {
			actb := tb.Action(acth.Name)
			if actb == nil {
				continue
			}
			path := th.Path() + ".actions." + acth.Name
			if actb.FlowExempt == "" && acth.FlowExempt != "" {
				add(Weaker, path+".flow_exempt", "", acth.FlowExempt, policy.Capability(th.Name, acth.Name)+" opts out of the flow rules", acth.Pos)
			} else if actb.FlowExempt != "" && acth.FlowExempt == "" {
				add(Stronger, path+".flow_exempt", actb.FlowExempt, "", policy.Capability(th.Name, acth.Name)+" no longer opts out of the flow rules", acth.Pos)
			}
			untrustedB, egressB := b.DefaultClasses(actb)
			untrustedH, egressH := h.DefaultClasses(acth)
			for _, c := range []struct {
				name   string
				cb, ch class
			}{
				{"untrusted", classOf(actb.Untrusted, untrustedB), classOf(acth.Untrusted, untrustedH)},
				{"egress", classOf(actb.Egress, egressB), classOf(acth.Egress, egressH)},
			} {
				wider, narrower := c.ch.wider(c.cb, h, b), c.cb.wider(c.ch, b, h)
				if op := judge(wider, narrower, restrictive); op != "" {
					add(op, path+"."+c.name, c.cb.String(), c.ch.String(),
						fmt.Sprintf("%s is in the %s class for %s calls: %s -> %s", policy.Capability(th.Name, acth.Name), c.name,
							moreFewer(wider, narrower), c.cb, c.ch), acth.Pos)
				}
			}
		}
	}
	for _, rh := range h.Approvals {
		if rb := rule(b, rh.Name); rb != nil {
			conds(rh.Path()+".match.when", rb.Match.When, rh.Match.When, restrictive, rh.Pos)
		}
	}
	r.flowSettings(b, h, add, conds)
	slices.SortStableFunc(r.Flow, func(x, y FlowChange) int { return strings.Compare(x.Path, y.Path) })
}

// flowSettings compares settings.flow and its integrity rule.
func (r *Result) flowSettings(b, h *policy.Policy, add func(op, path, before, after, detail string, pos policy.Pos),
	conds func(path string, cb, ch []*policy.Condition, polarity bool, pos policy.Pos)) {
	fb, fh := b.Flow(), h.Flow()
	pos := h.Pos("settings")
	rank := map[string]int{policy.FlowNeedsApproval: 1, policy.FlowDeny: 2}
	if op := byRank(rank[fb.OnEgress], rank[fh.OnEgress]); op != "" {
		add(op, "settings.flow.on_egress", fb.OnEgress, fh.OnEgress, "egress in a task holding both labels: "+fb.OnEgress+" -> "+fh.OnEgress, pos)
	}
	if op := byRank(fb.Approvers, fh.Approvers); op != "" {
		add(op, "settings.flow.approvers", fmt.Sprint(fb.Approvers), fmt.Sprint(fh.Approvers), "approvers of the flow rule's approval", pos)
	}
	if fb.Role != fh.Role {
		add(Changed, "settings.flow.role", fb.Role, fh.Role, "the flow rule's approvers hold another role", pos)
	}
	ib, ih := b.IntegrityRule(), h.IntegrityRule()
	if ih != nil {
		pos = ih.Pos
	}
	switch {
	case ib == nil && ih == nil:
		return
	case ib == nil:
		add(Stronger, "settings.flow.integrity", "off", ih.On, "the integrity rule is on", pos)
		return
	case ih == nil:
		add(Weaker, "settings.flow.integrity", ib.On, "off", "the integrity rule is off or removed", pos)
		return
	}
	rank = map[string]int{policy.IntegrityNeedsApproval: 1, policy.IntegrityDeny: 2}
	if op := byRank(rank[ib.On], rank[ih.On]); op != "" {
		add(op, "settings.flow.integrity.on", ib.On, ih.On, "a guarded call in an untrusted task: "+ib.On+" -> "+ih.On, pos)
	}
	lost, gained := without(ib.Effects, ih.Effects), without(ih.Effects, ib.Effects)
	if op := judge(len(gained) > 0, len(lost) > 0, restrictive); op != "" {
		add(op, "settings.flow.integrity.effects", strings.Join(ib.Effects, ", "), strings.Join(ih.Effects, ", "),
			"effects guarded: "+changeList(gained, lost), pos)
	}
	if op := byRank(ib.Approvers, ih.Approvers); op != "" {
		add(op, "settings.flow.integrity.approvers", fmt.Sprint(ib.Approvers), fmt.Sprint(ih.Approvers), "approvers of the integrity rule's approval", pos)
	}
	if ib.Role != ih.Role {
		add(Changed, "settings.flow.integrity.role", ib.Role, ih.Role, "the integrity rule's approvers hold another role", pos)
	}
	conds("settings.flow.integrity.unless", ib.Unless, ih.Unless, permissive, pos)
}

// judge names a change of a condition site: wider means it holds for calls it did not.
func judge(wider, narrower, polarity bool) string {
	if !wider && !narrower {
		return ""
	}
	if wider == (polarity == permissive) {
		return Weaker
	}
	if wider && narrower {
		return Weaker
	}
	return Stronger
}

// byRank judges a setting where a higher value asks for more.
func byRank(before, after int) string {
	switch {
	case after < before:
		return Weaker
	case after > before:
		return Stronger
	}
	return ""
}

func moreFewer(wider, narrower bool) string {
	switch {
	case wider && narrower:
		return "more and fewer"
	case wider:
		return "more"
	}
	return "fewer"
}

// implied reports whether every call satisfying the conjunction a (of policy pa) satisfies
// the conjunction b (of policy pb): each condition of b is implied by one of a. A sound
// under-approximation: false may mean "cannot tell", which the gate treats as weaker.
func implied(a, b []*policy.Condition, pa, pb *policy.Policy) bool {
	for _, cb := range b {
		if !slices.ContainsFunc(a, func(ca *policy.Condition) bool { return implies(ca, cb, pa, pb) }) {
			return false
		}
	}
	return true
}

// implies reports whether condition x (of px) holding means y (of py) holds.
func implies(x, y *policy.Condition, px, py *policy.Policy) bool {
	if x.Attribute != y.Attribute || x.Op != y.Op {
		return false
	}
	switch x.Op {
	case policy.OpIn, policy.OpNotIn:
		xs, ok1 := values(x, px)
		ys, ok2 := values(y, py)
		if !ok1 || !ok2 {
			return sameRuntimeList(x, y, px, py)
		}
		if x.Op == policy.OpNotIn {
			xs, ys = ys, xs // not in: x must exclude every value y excludes
		}
		return len(without(xs, ys)) == 0 // in: every value x admits, y admits
	case policy.OpMatches, policy.OpNotMatches:
		return x.Pattern == y.Pattern
	case policy.OpAbove:
		return x.Number >= y.Number
	case policy.OpAtMost:
		return x.Number <= y.Number
	}
	return false
}

// values returns a condition's values as text: literal, or a static list's; false for a
// runtime list (its values are not in the policy).
func values(c *policy.Condition, p *policy.Policy) ([]string, bool) {
	vals := c.Values
	if c.List != "" {
		l := p.List(c.List)
		if l == nil || l.Runtime {
			return nil, false
		}
		vals = l.Values
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = policy.FormatValue(v)
	}
	slices.Sort(out)
	return slices.Compact(out), true
}

func sameRuntimeList(x, y *policy.Condition, px, py *policy.Policy) bool {
	lx, ly := px.List(x.List), py.List(y.List)
	return lx != nil && ly != nil && lx.Runtime && ly.Runtime && x.List == y.List && lx.Key == ly.Key
}

// without returns the members of a that b lacks, in a's order.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func changeList(gained, lost []string) string {
	var parts []string
	if len(gained) > 0 {
		parts = append(parts, "+"+strings.Join(gained, ", +"))
	}
	if len(lost) > 0 {
		parts = append(parts, "−"+strings.Join(lost, ", −"))
	}
	return strings.Join(parts, ", ")
}

func condText(cs []*policy.Condition) string {
	if cs == nil {
		return "always"
	}
	return policy.ConditionsText(cs)
}

// conditionDetail says what changed at a condition site, naming the static lists whose
// values moved.
func conditionDetail(wider, narrower bool, cb, ch []*policy.Condition, b, h *policy.Policy) string {
	s := "holds for " + moreFewer(wider, narrower) + " calls: " + condText(cb) + " -> " + condText(ch)
	var lists []string
	for _, c := range ch {
		if c.List == "" || slices.Contains(lists, c.List) {
			continue
		}
		xs, ok1 := values(c, b)
		ys, ok2 := values(c, h)
		if ok1 && ok2 {
			if gained, lost := without(ys, xs), without(xs, ys); len(gained)+len(lost) > 0 {
				lists = append(lists, c.List)
				s += fmt.Sprintf(" (list %q: %s)", c.List, changeList(gained, lost))
			}
		}
	}
	return s
}

// class is a flow class as a set of calls: every call, none, or those meeting conditions.
type class struct {
	always, never bool
	when          []*policy.Condition
}

func classOf(f *policy.FlowClass, dflt bool) class {
	switch {
	case f == nil:
		return class{always: dflt, never: !dflt}
	case !f.Value:
		return class{never: true}
	case f.When == nil:
		return class{always: true}
	}
	return class{when: f.When}
}

// wider reports whether c applies to some call o (of po) does not.
func (c class) wider(o class, pc, po *policy.Policy) bool {
	switch {
	case o.always || c.never:
		return false
	case c.always || o.never:
		return true
	}
	return !implied(c.when, o.when, pc, po)
}

func (c class) String() string {
	switch {
	case c.always:
		return "true"
	case c.never:
		return "false"
	}
	return "when " + condText(c.when)
}

// grantsByKey keys an agent's grants as the structural diff does: by tool, "#n" for the
// n-th grant on one tool.
func grantsByKey(a *policy.Agent) map[string]*policy.Grant {
	out := make(map[string]*policy.Grant, len(a.Grants))
	for i, key := range grantKeys(a) {
		out[key] = a.Grants[i]
	}
	return out
}

func q(s string) string { return fmt.Sprintf("%q", s) }
