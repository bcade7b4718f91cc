package mcp

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// Kinds of drift between a server's catalogue and the pins of a policy.
const (
	Added       = "added"        // a tool on the server that no action pins
	Removed     = "removed"      // a pinned tool the server no longer lists
	Description = "description"  // a pinned tool's description changed
	InputSchema = "input_schema" // a pinned tool's input schema changed
	Widened     = "widened"      // a hint moved towards its worst case (read-only no more, ...)
	Narrowed    = "narrowed"     // a hint moved away from its worst case only
	// Version 2 pins.
	Title        = "title"         // a pinned tool's title changed
	OutputSchema = "output_schema" // a pinned tool's output schema changed
	Meta         = "meta"          // a pinned tool's _meta changed
	// OldPin notes a pin that lacks the fields of version 2: what it holds is compared, the
	// rest cannot be. It is the only kind that does not fail the check.
	OldPin = "old_pin"
)

// Failing reports whether a drift fails the check: every kind but OldPin.
func (d Drift) Failing() bool { return d.Kind != OldPin }

// Drift is one difference between the server and the policy's pins.
type Drift struct {
	Kind    string
	Tool    string     // the tool's name on the server
	Element string     // the policy element at fault: the tools: block or an action's pin
	Pos     policy.Pos // where that element is written
	Message string
}

// Compare compares a fresh catalogue with the pins of tool t of policy p. Actions without a
// pin are not compared (lint's AC041 reports them). The result is sorted by position.
func Compare(cat *Catalogue, p *policy.Policy, t *policy.Tool) []Drift {
	var out []Drift
	pinned := map[string]bool{}
	for _, a := range t.Actions {
		pin := a.Pin
		if pin == nil {
			continue
		}
		pinned[pin.Tool] = true
		path := t.Path() + ".actions." + a.Name + ".pin"
		at := func(field string) (string, policy.Pos) {
			el := path + "." + field
			pos := p.Pos(el)
			if !pos.IsValid() {
				pos = pin.Pos
			}
			return el, pos
		}
		st := cat.Tool(pin.Tool)
		if st == nil {
			out = append(out, Drift{Kind: Removed, Tool: pin.Tool, Element: path, Pos: pin.Pos,
				Message: fmt.Sprintf("tool %q (action %s) is no longer on the server", pin.Tool, a.Capability())})
			continue
		}
		now := PinOf(st)
		if now.Description != pin.Description {
			el, pos := at("description")
			out = append(out, Drift{Kind: Description, Tool: pin.Tool, Element: el, Pos: pos,
				Message: fmt.Sprintf("the description of tool %q changed (pinned %s, now %s): review what it tells the model", pin.Tool, short(pin.Description), short(now.Description))})
		}
		if now.InputSchema != pin.InputSchema {
			el, pos := at("input_schema")
			out = append(out, Drift{Kind: InputSchema, Tool: pin.Tool, Element: el, Pos: pos,
				Message: fmt.Sprintf("the input schema of tool %q changed (pinned %s, now %s)", pin.Tool, short(pin.InputSchema), short(now.InputSchema))})
		}
		var unpinned []string
		for _, f := range []struct {
			kind, field, what, was, is string
		}{
			{Title, "title", "title", pin.Title, now.Title},
			{OutputSchema, "output_schema", "output schema", pin.OutputSchema, now.OutputSchema},
			{Meta, "meta", "_meta", pin.Meta, now.Meta},
		} {
			switch {
			case f.was == "":
				unpinned = append(unpinned, f.field)
			case f.was != f.is:
				el, pos := at(f.field)
				out = append(out, Drift{Kind: f.kind, Tool: pin.Tool, Element: el, Pos: pos,
					Message: fmt.Sprintf("the %s of tool %q changed (pinned %s, now %s)", f.what, pin.Tool, short(f.was), short(f.is))})
			}
		}
		if len(unpinned) > 0 {
			out = append(out, Drift{Kind: OldPin, Tool: pin.Tool, Element: path, Pos: pin.Pos,
				Message: fmt.Sprintf("the pin of tool %q is version %d: it does not hold %s, so changes there go unseen (compared: description, input_schema, hints); re-import to pin them",
					pin.Tool, pin.Version, strings.Join(unpinned, ", "))})
		}
		if d, ok := hintDrift(pin.Hints, now.Hints); ok {
			field, kind, verb := d.first, Narrowed, "narrowed"
			if d.widened != "" {
				field, kind, verb = d.widened, Widened, "widened"
			}
			el, pos := at("hints." + field)
			msg := fmt.Sprintf("the annotations of tool %q %s: %s", pin.Tool, verb, strings.Join(d.changes, ", "))
			if was, is := EffectOf(pin.Hints), EffectOf(now.Hints); was != is {
				msg += fmt.Sprintf(" (effect %s, now %s; the action says %s)", was, is, a.Effect)
			}
			out = append(out, Drift{Kind: kind, Tool: pin.Tool, Element: el, Pos: pos, Message: msg})
		}
	}
	for _, st := range cat.Tools {
		if !pinned[st.Name] {
			out = append(out, Drift{Kind: Added, Tool: st.Name, Element: t.Path(), Pos: t.Pos,
				Message: fmt.Sprintf("tool %q is on the server but no action of %s pins it (effect %s by its annotations): import it or leave it ungranted", st.Name, t.Path(), EffectOf(HintsOf(st)))})
		}
	}
	slices.SortStableFunc(out, func(a, b Drift) int {
		if a.Pos != b.Pos {
			if a.Pos.Less(b.Pos) {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(a.Tool, b.Tool), strings.Compare(a.Kind, b.Kind))
	})
	return out
}

type hintsChange struct {
	changes []string // "readOnlyHint true -> false", in schema order
	first   string   // the first pin field that changed
	widened string   // the first pin field that widened; "" when none did
}

// hintDrift compares pinned and current hints. A change widens when a hint moves towards
// its worst case: read-only or idempotent no more, destructive or open-world now.
func hintDrift(was, now policy.Hints) (hintsChange, bool) {
	var c hintsChange
	for _, h := range []struct {
		field, hint string
		was, now    bool
		worst       bool
	}{
		{"read_only", "readOnlyHint", was.ReadOnly, now.ReadOnly, false},
		{"destructive", "destructiveHint", was.Destructive, now.Destructive, true},
		{"idempotent", "idempotentHint", was.Idempotent, now.Idempotent, false},
		{"open_world", "openWorldHint", was.OpenWorld, now.OpenWorld, true},
	} {
		if h.was == h.now {
			continue
		}
		if c.first == "" {
			c.first = h.field
		}
		c.changes = append(c.changes, fmt.Sprintf("%s %t -> %t", h.hint, h.was, h.now))
		if h.now == h.worst && c.widened == "" {
			c.widened = h.field
		}
	}
	return c, c.first != ""
}

// short abbreviates a "sha256:" digest for messages.
func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}
