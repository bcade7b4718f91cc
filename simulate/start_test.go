package simulate

import (
	"reflect"
	"slices"
	"testing"
)

// TestReachFromMatchesRun checks that a start's Reach reports what Run reports for the
// ad-hoc scenario entering there: capabilities, own authority, witnesses and exfiltration.
func TestReachFromMatchesRun(t *testing.T) {
	for seed := range uint64(500) {
		p := randomPolicy(seed)
		e, err := NewEstate(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range p.Agents {
			want, err := e.Run(AdHoc(a.Name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.ReachFrom(a.Name)
			if err != nil {
				t.Fatal(err)
			}
			if caps := got.Capabilities(); !slices.Equal(caps, want.Reachable) {
				t.Fatalf("seed %d start %s: capabilities %v, Run %v", seed, a.Name, caps, want.Reachable)
			}
			for _, esc := range want.Escalations {
				w, ok := got.Witness(esc.Capability)
				if got.Own(esc.Capability) || !ok || !reflect.DeepEqual(w, esc) {
					t.Fatalf("seed %d start %s: %s own=%v witness %+v, Run %+v", seed, a.Name, esc.Capability, got.Own(esc.Capability), w, esc)
				}
			}
			var egress []string
			for _, x := range want.Exfiltration {
				egress = append(egress, x.Egress)
			}
			if g := got.Egress(); !slices.Equal(g, egress) {
				t.Fatalf("seed %d start %s: egress %v, Run %v", seed, a.Name, g, egress)
			}
			if x := got.Exfiltration(nil); !reflect.DeepEqual(nonNil(x), want.Exfiltration) {
				t.Fatalf("seed %d start %s: exfiltration %+v, Run %+v", seed, a.Name, x, want.Exfiltration)
			}
		}
	}
}
