package compile_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/policy"
)

// serverProbe is one query sent to the OPA server on every iteration, with the eval timer
// of each answer (timer_rego_query_eval_ns, ?metrics=true).
type serverProbe struct {
	name, method, path string
	body               []byte
	eval               latencies
}

// BenchmarkDecisionOPAServer runs a stock `opa run --server` (built from go.mod's OPA) on
// 127.0.0.1 with the 10,000-agent bundle of BenchmarkDecision, once with OPA's default store
// and once with --optimize-store-for-read-speed, and sends it, interleaved so that all see
// the same machine load: the single-lookup floor (GET /v1/data/agentctl_model/agents/NAME,
// one keyed read of the agent the decision reads), lowerBound on the direct request (as
// package lowerbound through the policy API: the bundle owns data.agentctl), and the
// allowed decisions of the direct and the 3-hop request; over one kept-alive connection and
// over a new connection per request (as a client without keep-alive does). It reports the
// p50 (µs) of the server's eval timer for each query and the others' p50 as multiples of
// the floor's:
//
//	go test ./compile -run '^$' -bench DecisionOPAServer -benchtime 1000x
func BenchmarkDecisionOPAServer(b *testing.B) {
	bin := testtool.Go(b, "github.com/open-policy-agent/opa")
	const n = 10000
	p := estate(n)
	archive, err := compile.Archive(compileBundle(b, p))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "bundle.tar.gz")
	if err := os.WriteFile(path, archive, 0o644); err != nil {
		b.Fatal(err)
	}
	direct, hops := roundTrip(b, benchRequest(n, 0)), roundTrip(b, benchRequest(n, 3))
	for _, store := range []struct {
		name  string
		flags []string
	}{{"default", nil}, {"read-speed", []string{"--optimize-store-for-read-speed"}}} {
		b.Run("store="+store.name, func(b *testing.B) {
			s, ready := runOPA(b, bin, time.Minute, append([]string{"--bundle", path}, store.flags...)...)
			if !ready {
				b.Fatalf("opa did not become ready at %s:\n%s", s.url, s.log.String())
			}
			putPolicy(b, s, "lowerbound", strings.Replace(lowerBound, "package agentctl.lowerbound", "package lowerbound", 1))
			for _, in := range []any{direct, hops} {
				got, want := s.decide(b, in), p.Decide(in, policy.Env{Now: time.Now()})
				if !reflect.DeepEqual(got, want) || !got.Allow {
					b.Fatalf("benchmark request %v: OPA server says %+v, Go reference %+v", in, got, want)
				}
			}
			for _, conn := range []string{"keep-alive", "new"} {
				client := &http.Client{Timeout: 10 * time.Second,
					Transport: &http.Transport{DisableKeepAlives: conn == "new"}}
				b.Run("conn="+conn, func(b *testing.B) {
					agent := direct.(map[string]any)["agent"].(string)
					probes := []*serverProbe{
						{name: "floor", method: http.MethodGet, path: "/v1/data/agentctl_model/agents/" + agent},
						{name: "lower-bound", method: http.MethodPost, path: "/v1/data/lowerbound/allow", body: inputBody(b, direct)},
						{name: "direct", method: http.MethodPost, path: "/v1/data/agentctl/decision", body: inputBody(b, direct)},
						{name: "3hops", method: http.MethodPost, path: "/v1/data/agentctl/decision", body: inputBody(b, hops)},
					}
					for b.Loop() {
						for _, pr := range probes {
							pr.eval = append(pr.eval, s.evalTime(b, client, pr))
						}
					}
					floor := probes[0].eval.percentile(0.5)
					for _, pr := range probes {
						p50 := pr.eval.percentile(0.5)
						b.ReportMetric(p50, pr.name+"-eval-p50-µs")
						if pr != probes[0] {
							b.ReportMetric(p50/floor, pr.name+"/floor")
						}
					}
				})
				client.CloseIdleConnections()
			}
		})
	}
}

func inputBody(t testing.TB, in any) []byte {
	raw, err := json.Marshal(map[string]any{"input": in})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// evalTime sends pr with ?metrics=true and returns the server's eval timer, failing when the
// answer has no result.
func (s *opaServer) evalTime(t testing.TB, client *http.Client, pr *serverProbe) time.Duration {
	req, err := http.NewRequest(pr.method, s.url+pr.path+"?metrics=true", bytes.NewReader(pr.body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %v: %s", pr.method, pr.path, resp.Status, err, out)
	}
	var answer struct {
		Result  json.RawMessage `json:"result"`
		Metrics struct {
			Eval int64 `json:"timer_rego_query_eval_ns"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(out, &answer); err != nil || answer.Result == nil || string(answer.Result) == "false" || answer.Metrics.Eval == 0 {
		t.Fatalf("%s %s: no result or eval timer in %.200s (%v)", pr.method, pr.path, out, err)
	}
	return time.Duration(answer.Metrics.Eval)
}

// putPolicy pushes a Rego module to the server's policy API.
func putPolicy(t testing.TB, s *opaServer, id, module string) {
	req, err := http.NewRequest(http.MethodPut, s.url+"/v1/policies/"+id, strings.NewReader(module))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /v1/policies/%s: %s: %s", id, resp.Status, out)
	}
}
