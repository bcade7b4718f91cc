package compile_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
)

func TestDecisionWorkReport(t *testing.T) {
	lines := strings.Split(string(compile.Library), "\n")
	for _, n := range []int{100} {
		p := estate(n)
		e := newEngine(t, p)
		for _, hops := range []int{0, 3} {
			in := roundTrip(t, benchRequest(n, hops))
			rows := map[int]int{}
			d, w, err := e.WorkByRow(context.Background(), in, policy.Env{Now: time.Now()}, rows)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s (%s)", fmt.Sprintf("agents=%d/hops=%d", n, hops), w, d.Outcome)
			if os.Getenv("ROWS") != "" {
				var keys []int
				for k := range rows {
					keys = append(keys, k)
				}
				sort.Ints(keys)
				for _, k := range keys {
					if k-1 < len(lines) && k > 0 {
						t.Logf("%4d %3d %s", k, rows[k], lines[k-1])
					}
				}
			}
		}
	}
}
