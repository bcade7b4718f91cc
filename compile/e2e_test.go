package compile_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/policy"
)

type opaServer struct {
	url string
	log *testtool.SyncBuffer
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startOPA runs `opa run --server` on 127.0.0.1 with the bundle (and extra flags) and waits
// (bounded) until it is ready. The server is killed when the test ends.
func startOPA(t *testing.T, bin, bundlePath string, extra ...string) *opaServer {
	t.Helper()
	s, ready := runOPA(t, bin, 30*time.Second, append([]string{"--bundle", bundlePath}, extra...)...)
	if !ready {
		t.Fatalf("opa did not become ready at %s:\n%s", s.url, s.log.String())
	}
	return s
}

// runOPA runs `opa run --server` on 127.0.0.1 with args and reports whether it became ready
// (its bundles activated) within wait. The server is killed when the test or benchmark ends.
func runOPA(t testing.TB, bin string, wait time.Duration, args ...string) (*opaServer, bool) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	log := &testtool.SyncBuffer{}
	cmd := exec.Command(bin, append([]string{"run", "--server", "--addr", addr,
		"--log-format", "json", "--set", "decision_logs.console=true"}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	s := &opaServer{url: "http://" + addr, log: log}
	deadline := time.Now().Add(wait)
	for {
		resp, err := http.Get(s.url + "/health?bundles")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, true
			}
		}
		if time.Now().After(deadline) {
			return s, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *opaServer) do(t testing.TB, method, path string, body any) []byte {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, out)
	}
	return out
}

func (s *opaServer) decide(t testing.TB, input any) policy.Decision {
	t.Helper()
	out := s.do(t, http.MethodPost, "/v1/data/agentctl/decision", map[string]any{"input": input})
	var resp struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.Result == nil {
		t.Fatalf("decision response %s: %v", out, err)
	}
	var v any
	json.Unmarshal(resp.Result, &v)
	d, err := compile.DecodeDecision(v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestOPAServer loads each example's bundle into a real OPA server and checks that the
// policy's tests are answered over HTTP as the Go reference answers them, that a revocation
// pushed through the Data API takes effect without a new bundle, that console decision logs
// record the chain and the approvals, and that `opa test` passes on the bundle.
func TestOPAServer(t *testing.T) {
	bin := testtool.Go(t, "github.com/open-policy-agent/opa")
	for _, ex := range testtool.Examples(t) {
		dir, p := ex.Dir, ex.Policy
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if len(p.Tests) == 0 {
				t.Fatalf("%s has no tests", dir)
			}
			archive, err := compile.Archive(compileBundle(t, p))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "bundle.tar.gz")
			if err := os.WriteFile(path, archive, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"test", path}, {"check", "--strict", "--bundle", path}} {
				if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
					t.Fatalf("opa %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			s := startOPA(t, bin, path)
			var allowed map[string]any
			for _, tc := range p.Tests {
				in := roundTrip(t, tc.Input)
				// A test's runtime lists are what the platform pushes through the Data API.
				lists := map[string]any{}
				if tc.Lists != nil {
					lists = tc.Lists
				}
				s.do(t, http.MethodPut, "/v1/data/agentctl_lists", lists)
				got := s.decide(t, in)
				want := p.Decide(in, policy.Env{Lists: roundTrip(t, tc.Lists), Now: time.Now()})
				if !reflect.DeepEqual(got, want) {
					t.Errorf("test %s: OPA server says %+v, Go reference %+v", tc.Name, got, want)
				}
				if got.Outcome != tc.Expect.Outcome {
					t.Errorf("test %s: outcome %s, want %s", tc.Name, got.Outcome, tc.Expect.Outcome)
				}
				if m, ok := in.(map[string]any); ok && got.Outcome == policy.OutcomeAllow && allowed == nil && tc.Lists == nil {
					allowed = m
				}
			}
			if allowed == nil {
				t.Fatalf("%s has no allowing test without runtime lists to revoke", dir)
			}
			s.do(t, http.MethodPut, "/v1/data/agentctl_lists", map[string]any{})
			agent := allowed["agent"].(string)
			rev := map[string]any{"agents": map[string]any{agent: map[string]any{"reason": "suspected prompt injection"}}}
			s.do(t, http.MethodPut, "/v1/data/agentctl_revocations", rev)
			got := s.decide(t, allowed)
			if want := p.Decide(allowed, policy.Env{Revocations: roundTrip(t, rev), Now: time.Now()}); !reflect.DeepEqual(got, want) || got.Outcome != policy.OutcomeDeny || got.Reasons[0].Code != policy.CodeRevoked {
				t.Errorf("after revoking %s: OPA says %+v, Go %+v", agent, got, want)
			}
			s.do(t, http.MethodPut, "/v1/data/agentctl_revocations", map[string]any{})
			if got := s.decide(t, allowed); got.Outcome != policy.OutcomeAllow {
				t.Errorf("after lifting the revocation: %+v", got)
			}
			checkDecisionLogs(t, s, len(p.Tests)+2)
		})
	}
}

// checkDecisionLogs waits (bounded) for the console decision log to hold an entry per
// decision, each recording the request's chain and approvals when it had them.
func checkDecisionLogs(t *testing.T, s *opaServer, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var entries []map[string]any
		sc := bufio.NewScanner(strings.NewReader(s.log.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var e map[string]any
			if json.Unmarshal(sc.Bytes(), &e) == nil && e["msg"] == "Decision Log" {
				entries = append(entries, e)
			}
		}
		if len(entries) >= want {
			chains, approvals := 0, 0
			for _, e := range entries {
				in, _ := e["input"].(map[string]any)
				if _, ok := in["chain"].([]any); ok {
					chains++
				}
				if _, ok := in["approvals"].([]any); ok {
					approvals++
				}
				if _, ok := e["result"].(map[string]any); !ok {
					t.Errorf("decision log entry without result: %v", e)
				}
			}
			if chains == 0 || approvals == 0 {
				t.Errorf("decision logs recorded %d chains and %d approvals in %d entries", chains, approvals, len(entries))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d decision log entries, want %d; server output:\n%s", len(entries), want, s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
