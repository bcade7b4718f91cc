package lint

import "testing"

// TestAgentList pins the lists AC002 and AC005 print: sorted, quoted as %q does, at most
// five names, then how many more.
func TestAgentList(t *testing.T) {
	for _, tc := range []struct {
		names []string
		n     int
		want  string
	}{
		{[]string{"b", "a"}, 2, `"a", "b"`},
		{[]string{"f", "e", "d", "c", "b", "a", `x"y`}, 7, `"a", "b", "c", "d", "e" and 2 more`},
		{[]string{"c", `x"y`}, 9, `"c", "x\"y" and 7 more`},
	} {
		if got := agentList(tc.names, tc.n); got != tc.want {
			t.Errorf("agentList(%q, %d) = %s, want %s", tc.names, tc.n, got, tc.want)
		}
	}
}
