package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/logging"

	"github.com/agentctl/agentctl/gateway"
	"github.com/agentctl/agentctl/internal/testtool"
)

func quietLogger() logging.Logger {
	l := logging.New()
	l.SetOutput(&bytes.Buffer{})
	return l
}

// devGateway serves the estate over plain HTTP with the development identity, so that a
// test's cost is the gateway's and OPA's, not TLS handshakes.
func devGateway(t testing.TB, e *estate, pdp gateway.PDP, mutate func(*gateway.Config)) (*gateway.Gateway, string) {
	t.Helper()
	signer, _ := gateway.NewSigner(time.Hour)
	id := gateway.NewIdentity(e.p)
	id.InsecureDev = true
	cfg := gateway.Config{Policy: e.p, PDP: pdp, Upstreams: e.upstreams(), Identity: id, Signer: signer,
		Sessions: gateway.NewSessions(1000, time.Hour), UpstreamTimeout: 10 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	gw, err := gateway.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	return gw, srv.URL
}

func devAgent(t testing.TB, url, name string) *agent {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return connectWith(t, name, url, &http.Client{Transport: devHeader{name, tr}})
}

// TestConcurrentSessions runs 100 tasks of 100 calls each at once. Half the tasks read the
// web first (untrusted) and then a confidential document: their messages all wait for
// approval; the other half only read the document: their messages all pass. A label lost
// or crossed between tasks changes some task's count.
func TestConcurrentSessions(t *testing.T) {
	const tasks, calls = 100, 100
	e := newEstate(t)
	pdp, err := gateway.NewEmbedded(context.Background(), gateway.EmbeddedConfig(e.bundlePath), quietLogger(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pdp.Close(context.Background()) })
	// This test checks labels, not latency: on a loaded machine a decision may queue.
	gw, url := devGateway(t, e, pdp, func(c *gateway.Config) { c.DecisionTimeout, c.UpstreamTimeout = time.Minute, time.Minute })
	doc := filepath.Join(e.root, "docs", "plan.txt")
	before := e.web.count("send_message")
	var wg sync.WaitGroup
	errs := make(chan string, tasks)
	for i := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := devAgent(t, url, "researcher")
			_, tok, _ := gw.StartTask("researcher")
			ctx := context.Background()
			tainted := i%2 == 0
			n := 0
			if tainted {
				res, err := a.call(ctx, tok, "web.fetch_page", map[string]any{"url": fmt.Sprintf("https://%d.example/", i)})
				if got := outcome(t, res, err); !strings.HasPrefix(got, "ok") {
					errs <- fmt.Sprintf("task %d fetch: %s", i, got)
					return
				}
				n++
			}
			res, err := a.call(ctx, tok, "files.read_text_file", map[string]any{"path": doc})
			if got := outcome(t, res, err); !strings.HasPrefix(got, "ok") {
				errs <- fmt.Sprintf("task %d read: %s", i, got)
				return
			}
			n++
			want := "ok: sent to x@example.com"
			if tainted {
				want = "needs_approval FLOW_BLOCKED"
			}
			for ; n < calls; n++ {
				res, err := a.call(ctx, tok, "web.send_message", map[string]any{"to": "x@example.com", "body": fmt.Sprint(i)})
				if got := outcome(t, res, err); got != want {
					errs <- fmt.Sprintf("task %d (tainted %t) call %d: %s, want %s (%s)", i, tainted, n+1, got, want, text(res))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got, want := e.web.count("send_message")-before, int64(tasks/2*(calls-1)); got != want {
		t.Errorf("the web server received %d messages, want %d", got, want)
	}
}

// TestFaults: OPA stopped (every call denied, none forwarded) and restarted (service
// resumes); an upstream killed, slow, or answering more than the output limit; a client
// that goes away mid-call.
func TestFaults(t *testing.T) {
	e := newEstate(t)
	pidFile := filepath.Join(t.TempDir(), "files.pid")
	// The filesystem server behind a shell that records its pid, so the test can kill it.
	e.files = fmt.Sprintf(`sh -c 'echo $$ > %s; exec %s'`, pidFile, e.files)
	opa := startOPA(t, e.bundlePath)
	pdp, err := gateway.NewRemote(opa.url())
	if err != nil {
		t.Fatal(err)
	}
	log := &testtool.SyncBuffer{}
	gw, url := devGateway(t, e, pdp, func(c *gateway.Config) {
		c.UpstreamTimeout = 2 * time.Second
		c.DecisionTimeout = time.Second
		c.MaxOutput = 64 << 10
		c.Log = slog.New(slog.NewTextHandler(log, nil))
	})
	ctx := context.Background()
	a := devAgent(t, url, "researcher")
	_, tok, _ := gw.StartTask("researcher")
	fetch := func() string {
		res, err := a.call(ctx, tok, "web.fetch_page", map[string]any{"url": "https://example.com/"})
		return outcome(t, res, err)
	}
	concurrently := func(n int) []string {
		out := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); out[i] = fetch() }()
		}
		wg.Wait()
		return out
	}

	t.Run("OPA stopped denies every call, restarted resumes", func(t *testing.T) {
		for _, got := range concurrently(20) {
			if !strings.HasPrefix(got, "ok") {
				t.Fatalf("before: %s", got)
			}
		}
		opa.stop()
		seen := e.web.count("fetch_page")
		for _, got := range concurrently(20) {
			if got != "deny "+gateway.CodePDPUnavailable {
				t.Errorf("OPA down: %s", got)
			}
		}
		if e.web.count("fetch_page") != seen {
			t.Error("a call passed while OPA was down")
		}
		opa.start(t)
		for _, got := range concurrently(20) {
			if !strings.HasPrefix(got, "ok") {
				t.Errorf("after the restart: %s", got)
			}
		}
	})

	t.Run("upstream killed: a clear error, then a new process", func(t *testing.T) {
		doc := filepath.Join(e.root, "docs", "plan.txt")
		read := func() string {
			res, err := a.call(ctx, tok, "files.read_text_file", map[string]any{"path": doc})
			return outcome(t, res, err)
		}
		if got := read(); !strings.HasPrefix(got, "ok") {
			t.Fatalf("before: %s", got)
		}
		raw, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		fmt.Sscan(string(raw), &pid)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != "deny "+gateway.CodeUpstreamError {
			t.Errorf("killed: %s", got)
		}
		res, err := a.call(ctx, tok, "files.read_text_file", map[string]any{"path": doc})
		if got := outcome(t, res, err); !strings.HasPrefix(got, "ok") {
			t.Errorf("after the restart: %s: %s", got, text(res))
		}
	})

	t.Run("slow upstream times out, the task goes on", func(t *testing.T) {
		res, err := a.call(ctx, tok, "web.slow_page", map[string]any{"millis": 10000})
		if got := outcome(t, res, err); got != "deny "+gateway.CodeUpstreamError || !strings.Contains(text(res), "deadline exceeded") || strings.Contains(text(res), "too large") {
			t.Errorf("slow: %s: %s", got, text(res))
		}
		if got := fetch(); !strings.HasPrefix(got, "ok") {
			t.Errorf("after: %s", got)
		}
	})

	t.Run("oversized output is refused with the limit named", func(t *testing.T) {
		res, err := a.call(ctx, tok, "web.big_page", map[string]any{"bytes": 1 << 20})
		want := "agentctl gateway: UPSTREAM_ERROR: upstream web: the answer to big_page is too large: more than 65536 bytes (--max-output); it was dropped"
		if got := outcome(t, res, err); got != "deny "+gateway.CodeUpstreamError || text(res) != want {
			t.Errorf("oversized: %s: %s", got, text(res))
		}
		res, err = a.call(ctx, tok, "web.fetch_page", map[string]any{"url": "https://example.com/"})
		if got := outcome(t, res, err); !strings.HasPrefix(got, "ok") {
			t.Errorf("after: %s: %s", got, text(res))
		}
	})

	t.Run("oversized output from a stdio upstream: the limit named, the server restarted", func(t *testing.T) {
		big := filepath.Join(e.root, "docs", "big.txt")
		writeFile(t, big, strings.Repeat("y", 1<<20))
		res, err := a.call(ctx, tok, "files.read_text_file", map[string]any{"path": big})
		want := "agentctl gateway: UPSTREAM_ERROR: upstream files: a message larger than 65536 bytes (--max-output) came while read_text_file was in flight; it was dropped with the connection, and the server is restarted for the next call"
		if got := outcome(t, res, err); got != "deny "+gateway.CodeUpstreamError || text(res) != want {
			t.Errorf("oversized: %s: %s", got, text(res))
		}
		if l := log.String(); !strings.Contains(l, `level=WARN msg="upstream message too large: the connection was dropped; the server is restarted for the next call" upstream=files in_flight=read_text_file max_output=65536`) {
			t.Errorf("the operator's log:\n%s", l)
		}
		res, err = a.call(ctx, tok, "files.read_text_file", map[string]any{"path": filepath.Join(e.root, "docs", "plan.txt")})
		if got := outcome(t, res, err); got != "ok: confidential plan\n" {
			t.Errorf("after: %s: %s", got, text(res))
		}
	})

	t.Run("client gone mid-call cancels the upstream call", func(t *testing.T) {
		before := e.web.cancelled.Load()
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		long := devAgent(t, url, "researcher")
		if res, err := long.call(cctx, tok, "web.slow_page", map[string]any{"millis": 60000}); err == nil {
			t.Fatalf("the call outlived its client: %s", text(res))
		}
		for e.web.cancelled.Load() == before && time.Since(start) < 10*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
		// Cancelled by the disconnect, not by the gateway's upstream timeout (2s).
		if took := time.Since(start); e.web.cancelled.Load() == before || took >= 2*time.Second {
			t.Errorf("the upstream call was not cancelled by the disconnect (after %v)", took)
		}
		if got := fetch(); !strings.HasPrefix(got, "ok") {
			t.Errorf("the task after the disconnect: %s", got)
		}
	})
}
