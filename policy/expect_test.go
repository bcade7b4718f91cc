package policy

import "testing"

func TestTestExpect(t *testing.T) {
	deny := Decision{Outcome: OutcomeDeny, Reasons: []Reason{{CodeUnknownAgent, "x"}, {CodeNotGranted, "y"}}}
	for _, tc := range []struct {
		want TestExpect
		d    Decision
		met  bool
		text string
	}{
		{TestExpect{Outcome: OutcomeDeny}, deny, true, "deny"},
		{TestExpect{Outcome: OutcomeDeny, Code: CodeNotGranted}, deny, true, "deny NOT_GRANTED"},
		{TestExpect{Outcome: OutcomeDeny, Code: CodeRevoked}, deny, false, "deny REVOKED"},
		{TestExpect{Outcome: OutcomeAllow}, deny, false, "allow"},
		{TestExpect{Outcome: OutcomeAllow}, Decision{Outcome: OutcomeAllow, Allow: true}, true, "allow"},
	} {
		if got := tc.want.Met(tc.d); got != tc.met || tc.want.String() != tc.text {
			t.Errorf("%+v on %s: met %v %q, want %v %q", tc.want, tc.d.Outcome, got, tc.want.String(), tc.met, tc.text)
		}
	}
}
