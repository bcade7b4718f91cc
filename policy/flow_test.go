package policy

import "testing"

// TestDefaultClasses: an action's flow classes follow its tool and effect unless it declares
// them, and ExternalRead and Egress agree with DefaultClasses where it declares none.
func TestDefaultClasses(t *testing.T) {
	p := &Policy{Tools: []*Tool{
		{Name: "web", External: true, Actions: []*Action{
			{Tool: "web", Name: "fetch", Effect: EffectRead},
			{Tool: "web", Name: "post", Effect: EffectWrite},
			{Tool: "web", Name: "quiet", Effect: EffectWrite, Egress: &FlowClass{Value: false}},
		}},
		{Name: "crm", Actions: []*Action{
			{Tool: "crm", Name: "read", Effect: EffectRead, Untrusted: &FlowClass{Value: true}},
			{Tool: "crm", Name: "update", Effect: EffectWrite},
		}},
	}}
	p.Index()
	for _, c := range []struct {
		tool, action                 string
		untrusted, egress            bool // DefaultClasses
		externalRead, declaredEgress bool // ExternalRead, Egress
	}{
		{"web", "fetch", true, false, true, false},
		{"web", "post", false, true, false, true},
		{"web", "quiet", false, true, false, false},
		{"crm", "read", false, false, true, false},
		{"crm", "update", false, false, false, false},
	} {
		a := p.Tool(c.tool).Action(c.action)
		u, e := p.DefaultClasses(a)
		if u != c.untrusted || e != c.egress {
			t.Errorf("DefaultClasses(%s.%s) = %v, %v; want %v, %v", c.tool, c.action, u, e, c.untrusted, c.egress)
		}
		if got := p.ExternalRead(a); got != c.externalRead {
			t.Errorf("ExternalRead(%s.%s) = %v, want %v", c.tool, c.action, got, c.externalRead)
		}
		if got := p.Egress(a); got != c.declaredEgress {
			t.Errorf("Egress(%s.%s) = %v, want %v", c.tool, c.action, got, c.declaredEgress)
		}
	}
}
