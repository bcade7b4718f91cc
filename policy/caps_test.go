package policy

import (
	"reflect"
	"slices"
	"testing"
)

// testPolicy: tools crm{read,update}, mail{read,send}, pay{refund}; agents triage, billing,
// mailer, admin.
func testPolicy() *Policy {
	tool := func(name string, actions ...string) *Tool {
		t := &Tool{Name: name}
		for _, a := range actions {
			t.Actions = append(t.Actions, &Action{Tool: name, Name: a, Effect: EffectRead})
		}
		return t
	}
	grant := func(tool string, actions ...string) *Grant { return &Grant{Tool: tool, Actions: actions} }
	p := &Policy{
		Tools: []*Tool{tool("pay", "refund"), tool("crm", "update", "read"), tool("mail", "send", "read"), tool("crm-x", "a")},
		Agents: []*Agent{
			{Name: "triage", Grants: []*Grant{grant("crm", "read"), grant("mail", "read")}},
			{Name: "billing", Grants: []*Grant{grant("pay", "refund"), grant("crm", "read", "update")}},
			{Name: "mailer", Grants: []*Grant{grant("*", "read", "send")}},
			{Name: "admin", Grants: []*Grant{grant("*", "*")}},
			{Name: "ghost", Grants: []*Grant{grant("nope", "read"), grant("crm", "nope")}},
		},
		Handoffs: []*Handoff{{From: "triage", To: "billing", Mode: ModeDelegate}, {From: "triage", To: "billing", Mode: ModeAttenuate}},
	}
	p.Index()
	return p
}

func TestCapIndexSorted(t *testing.T) {
	p := testPolicy()
	ix := p.Caps()
	all := ix.New()
	for i := 0; i < ix.Len(); i++ {
		all.Set(i)
	}
	want := []string{"crm-x.a", "crm.read", "crm.update", "mail.read", "mail.send", "pay.refund"}
	if got := ix.Names(all); !reflect.DeepEqual(got, want) {
		t.Errorf("caps = %v, want %v", got, want)
	}
	if id, ok := ix.ID("mail.send"); !ok || id != 4 || ix.Action(id).Tool != "mail" {
		t.Errorf("ID(mail.send) = %d, %v", id, ok)
	}
	for _, tool := range p.Tools {
		first, _ := ix.ID(tool.Actions[0].Capability())
		for i, a := range tool.Actions {
			if id, _ := ix.ID(a.Capability()); id != first+i {
				t.Errorf("%s has id %d, want %d: a tool's ids must be consecutive", a.Capability(), id, first+i)
			}
		}
	}
	if _, ok := ix.ID("mail.purge"); ok {
		t.Error("ID(mail.purge) found")
	}
}

func TestC(t *testing.T) {
	p := testPolicy()
	for _, tc := range []struct {
		agent string
		want  []string
	}{
		{"triage", []string{"crm.read", "mail.read"}},
		{"billing", []string{"crm.read", "crm.update", "pay.refund"}},
		{"mailer", []string{"crm.read", "mail.read", "mail.send"}}, // "*" tool: every tool with that action
		{"admin", []string{"crm-x.a", "crm.read", "crm.update", "mail.read", "mail.send", "pay.refund"}},
		{"ghost", []string{}}, // undeclared references grant nothing
	} {
		if got := p.Caps().Names(p.C(p.Agent(tc.agent))); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("C(%s) = %v, want %v", tc.agent, got, tc.want)
		}
	}
}

func TestChainAuthority(t *testing.T) {
	p := testPolicy()
	set := func(names ...string) Bitset {
		s := p.Caps().New()
		for _, n := range names {
			id, ok := p.Caps().ID(n)
			if !ok {
				t.Fatalf("no capability %s", n)
			}
			s.Set(id)
		}
		return s
	}
	for _, tc := range []struct {
		name        string
		chain       []string
		modes       []string
		a0          Bitset
		compromised map[string]bool
		want        [][]string
	}{
		{name: "attenuate intersects", chain: []string{"triage", "billing"}, modes: []string{ModeAttenuate},
			want: [][]string{{"crm.read", "mail.read"}, {"crm.read"}}},
		{name: "delegate takes the receiver's", chain: []string{"triage", "billing"}, modes: []string{ModeDelegate},
			want: [][]string{{"crm.read", "mail.read"}, {"crm.read", "crm.update", "pay.refund"}}},
		{name: "forward unions", chain: []string{"triage", "billing"}, modes: []string{ModeForwardCredentials},
			want: [][]string{{"crm.read", "mail.read"}, {"crm.read", "crm.update", "mail.read", "pay.refund"}}},
		{name: "compromised receiver unions whatever the mode", chain: []string{"triage", "billing"}, modes: []string{ModeAttenuate},
			compromised: map[string]bool{"billing": true},
			want:        [][]string{{"crm.read", "mail.read"}, {"crm.read", "crm.update", "mail.read", "pay.refund"}}},
		{name: "explicit authority", chain: []string{"triage", "billing", "mailer"}, modes: []string{ModeForwardCredentials, ModeAttenuate},
			a0:   set("mail.send"),
			want: [][]string{{"mail.send"}, {"crm.read", "crm.update", "mail.send", "pay.refund"}, {"crm.read", "mail.send"}}},
		{name: "compromised originator adds its own", chain: []string{"triage"}, a0: set("pay.refund"),
			compromised: map[string]bool{"triage": true},
			want:        [][]string{{"crm.read", "mail.read", "pay.refund"}}},
		{name: "unknown mode grants nothing", chain: []string{"triage", "billing"}, modes: []string{"share"},
			want: [][]string{{"crm.read", "mail.read"}, {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.ChainAuthority(tc.chain, tc.modes, tc.a0, tc.compromised)
			var names [][]string
			for _, e := range got {
				names = append(names, p.Caps().Names(e))
			}
			if !reflect.DeepEqual(names, tc.want) {
				t.Errorf("got %v, want %v", names, tc.want)
			}
		})
	}
}

func TestHandoffModes(t *testing.T) {
	p := testPolicy()
	if got := p.HandoffModes("triage", "billing"); !reflect.DeepEqual(got, []string{ModeDelegate, ModeAttenuate}) {
		t.Errorf("modes = %v", got)
	}
	if got := p.HandoffModes("billing", "triage"); got != nil {
		t.Errorf("reverse modes = %v", got)
	}
}

func TestBitset(t *testing.T) {
	s := make(Bitset, 2)
	s.Set(3)
	s.Set(70)
	u := s.Clone()
	u.Set(5)
	subset := func(a, b Bitset) bool { d := a.Clone(); d.AndNot(b); return d.Empty() }
	if !subset(s, u) || subset(u, s) || slices.Equal(s, u) || s.Count() != 2 || u.Count() != 3 {
		t.Errorf("set ops wrong: %v %v", s, u)
	}
	if !s.OrChanged(u) || s.OrChanged(u) || !slices.Equal(s, u) {
		t.Error("OrChanged wrong")
	}
	s.AndNot(u)
	if !s.Empty() {
		t.Error("AndNot wrong")
	}
	var got []int
	u.Each(func(id int) { got = append(got, id) })
	if !reflect.DeepEqual(got, []int{3, 5, 70}) {
		t.Errorf("Each = %v", got)
	}
}
