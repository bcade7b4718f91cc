package gateway_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/gateway"
)

// opaServices is what an OPA deployment talks to, on loopback: a bundle service (the
// current archive, with ETags so that an unchanged bundle is a 304), a decision log service
// (OPA's gzip'd JSON batches) and a status service.
type opaServices struct {
	srv *httptest.Server

	mu        sync.Mutex
	archive   []byte
	version   int // of archive, its ETag
	etag      string
	decisions []map[string]any
	statuses  []map[string]any
}

func startOPAServices(t *testing.T, archive []byte) *opaServices {
	t.Helper()
	s := &opaServices{}
	s.serve(archive)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bundles/agentctl.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		archive, etag := s.archive, s.etag
		s.mu.Unlock()
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(archive)
	})
	mux.HandleFunc("POST /logs", func(w http.ResponseWriter, r *http.Request) {
		var batch []map[string]any
		if err := decodeBody(r, &batch); err != nil {
			t.Errorf("decision log upload: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.decisions = append(s.decisions, batch...)
		s.mu.Unlock()
	})
	mux.HandleFunc("POST /status", func(w http.ResponseWriter, r *http.Request) {
		var st map[string]any
		if err := decodeBody(r, &st); err != nil {
			t.Errorf("status upload: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.statuses = append(s.statuses, st)
		s.mu.Unlock()
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// decodeBody reads a JSON body, gunzipping it when OPA says it is gzip'd.
func decodeBody(r *http.Request, v any) error {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return err
		}
		body = zr
	}
	return json.NewDecoder(body).Decode(v)
}

// serve makes archive the bundle the service answers with from now on.
func (s *opaServices) serve(archive []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.archive = archive
	s.version++
	s.etag = fmt.Sprintf(`"v%d"`, s.version)
}

// decisionFor returns the last logged decision whose input names the task, or nil.
func (s *opaServices) decisionFor(task string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.decisions) - 1; i >= 0; i-- {
		if in, _ := s.decisions[i]["input"].(map[string]any); in["task"] == task {
			return s.decisions[i]
		}
	}
	return nil
}

// bundleStatus returns the agentctl bundle's entry of the last status report, or nil.
func (s *opaServices) bundleStatus() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.statuses) == 0 {
		return nil
	}
	bs, _ := s.statuses[len(s.statuses)-1]["bundles"].(map[string]any)
	b, _ := bs["agentctl"].(map[string]any)
	return b
}

// opaConfig is the embedded OPA's configuration, as --opa-config reads it: the bundle from
// the service, polled every second; decision logs and status to the same service, every
// second. verify, when set, is the PEM public key signed bundles must verify with.
func opaConfig(url string, verify []byte) []byte {
	cfg := map[string]any{
		"services": map[string]any{"acme": map[string]any{"url": url}},
		"bundles": map[string]any{"agentctl": map[string]any{"service": "acme", "resource": "bundles/agentctl.tar.gz",
			"polling": map[string]any{"min_delay_seconds": 1, "max_delay_seconds": 1}}},
		"decision_logs": map[string]any{"service": "acme", "reporting": map[string]any{"min_delay_seconds": 1, "max_delay_seconds": 1}},
		"status":        map[string]any{"service": "acme"},
	}
	if verify != nil {
		cfg["bundles"].(map[string]any)["agentctl"].(map[string]any)["signing"] = map[string]any{"keyid": "agentctl"}
		cfg["keys"] = map[string]any{"agentctl": map[string]any{"algorithm": "ES256", "key": string(verify)}}
	}
	raw, _ := json.Marshal(cfg)
	return raw
}

// webDevGateway serves the estate's gateway over plain HTTP with the insecure development
// identity: identity is not what these tests are about.
func webDevGateway(t *testing.T, e *webEstate, pdp gateway.PDP) (*gateway.Gateway, *agent) {
	t.Helper()
	id := gateway.NewIdentity(e.p)
	id.InsecureDev = true
	gw := e.gateway(t, pdp, id)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	return gw, connectWith(t, "researcher", srv.URL, &http.Client{Transport: devHeader{"researcher", http.DefaultTransport}})
}

// fetch calls web.fetch_page in a new task and returns the task and the outcome.
func fetch(t *testing.T, gw *gateway.Gateway, a *agent) (string, string) {
	t.Helper()
	rec, tok, err := gw.StartTask("researcher")
	if err != nil {
		t.Fatal(err)
	}
	return rec.Task, fetchIn(t, a, tok)
}

// fetchIn calls web.fetch_page in the task of the record tok; "ok" when it passed.
func fetchIn(t *testing.T, a *agent, tok string) string {
	t.Helper()
	res, err := a.call(context.Background(), tok, "web.fetch_page", map[string]any{"url": "https://example.com/"})
	got := outcome(t, res, err)
	if strings.HasPrefix(got, "ok: ") {
		got = "ok"
	}
	return got
}

// revision reads the manifest revision of a bundle archive.
func revision(t *testing.T, archive []byte) string {
	t.Helper()
	var m struct {
		Revision string `json:"revision"`
	}
	if err := json.Unmarshal(tarFile(t, archive, ".manifest"), &m); err != nil {
		t.Fatal(err)
	}
	return m.Revision
}

// revokedFetch is webPolicy with the grant of fetch_page removed.
var revokedFetch = strings.Replace(webPolicy, `actions: ["fetch_page", "send_message"]`, `actions: ["send_message"]`, 1)

// TestOPAPlugins runs the embedded OPA as --opa-config configures it with OPA's own plugins:
// the bundle from a bundle service, decision logs and status to services. A call's decision
// arrives in the decision log with the gateway's input and the result; status reports the
// active revision; a new revision served by the service is activated and decides the next
// call.
func TestOPAPlugins(t *testing.T) {
	e := newWebEstate(t)
	rev1 := e.archive(t, nil)
	svc := startOPAServices(t, rev1)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pdp, err := embedded(t, ctx, opaConfig(svc.srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	gw, researcher := webDevGateway(t, e, pdp)

	rec, tok, err := gw.StartTask("researcher")
	if err != nil {
		t.Fatal(err)
	}
	task := rec.Task
	if got := fetchIn(t, researcher, tok); got != "ok" {
		t.Fatalf("fetch_page under the first revision: %s", got)
	}
	var entry map[string]any
	eventually(t, "the call's decision in the decision log service", func() bool {
		entry = svc.decisionFor(task)
		return entry != nil
	})
	in, _ := entry["input"].(map[string]any)
	res, _ := entry["result"].(map[string]any)
	bundles, _ := entry["bundles"].(map[string]any)
	logged := fmt.Sprintf("path=%v agent=%v identity=%v tool=%v action=%v chain=%v outcome=%v allow=%v revision=%v",
		entry["path"], in["agent"], in["identity"], in["tool"], in["action"], in["chain"], res["outcome"], res["allow"], bundles["agentctl"])
	want := fmt.Sprintf("path=agentctl/decision agent=researcher identity=spiffe://example.org/agents/researcher tool=web action=fetch_page chain=[researcher] outcome=allow allow=true revision=map[revision:%s]", revision(t, rev1))
	if logged != want {
		t.Errorf("decision log entry:\n%s\nwant\n%s", logged, want)
	}
	if id, _ := entry["decision_id"].(string); id == "" {
		t.Errorf("the entry has no decision_id: %v", entry)
	}

	eventually(t, "status reports the first revision active", func() bool {
		return svc.bundleStatus()["active_revision"] == revision(t, rev1)
	})

	// An operator revokes the first task through the Data API; the revocation lives beside
	// the bundle's roots, so the next activation keeps it.
	if err := pdp.Put(ctx, "agentctl_revocations", map[string]any{"tasks": map[string]any{task: true}}); err != nil {
		t.Fatal(err)
	}
	// The service publishes a revision without the grant: OPA polls, activates it, and the
	// next call is denied by it, without a restart.
	e.setPolicy(t, revokedFetch)
	rev2 := e.archive(t, nil)
	svc.serve(rev2)
	eventually(t, "status reports the second revision active", func() bool {
		return svc.bundleStatus()["active_revision"] == revision(t, rev2)
	})
	// send_message is still granted: only the revocation refuses it.
	sent, err := researcher.call(ctx, tok, "web.send_message", map[string]any{"to": "team@example.org", "body": "hi"})
	if got := outcome(t, sent, err); got != "deny REVOKED" {
		t.Errorf("send_message in the revoked task under the second revision: %s, want deny REVOKED", got)
	}
	task, got := fetch(t, gw, researcher)
	if got != "deny NOT_GRANTED" {
		t.Errorf("fetch_page under the second revision: %s, want deny NOT_GRANTED", got)
	}
	eventually(t, "the denial in the decision log service", func() bool {
		entry = svc.decisionFor(task)
		return entry != nil
	})
	res, _ = entry["result"].(map[string]any)
	bundles, _ = entry["bundles"].(map[string]any)
	if got, want := fmt.Sprint(res["outcome"], " ", bundles["agentctl"]), fmt.Sprintf("deny map[revision:%s]", revision(t, rev2)); got != want {
		t.Errorf("logged denial: %s, want %s", got, want)
	}
}

// TestOPASignedBundle: with bundles.agentctl.signing and the verification key in the
// configuration, the embedded OPA refuses a tampered bundle: at start the gateway does not
// start (no bundle activated, with OPA's reason); while running it keeps the active
// revision and reports the refusal in its status. A signed revision is activated.
func TestOPASignedBundle(t *testing.T) {
	e := newWebEstate(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	signing := &compile.Signing{Key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), KeyID: "agentctl"}
	public := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	signed1 := e.archive(t, signing)
	// data.json changed after signing: the digest in .signatures.json no longer matches.
	tampered := retar(t, signed1, func(name string, data []byte) []byte {
		if name == "data.json" {
			return bytes.Replace(data, []byte("{"), []byte(`{"intruder":{},`), 1)
		}
		return data
	})
	svc := startOPAServices(t, tampered)
	config := opaConfig(svc.srv.URL, public)

	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	_, err := embedded(t, ctx, config)
	cancel()
	want := "embedded OPA: no bundle activated (context deadline exceeded): bundle agentctl: data.json: digest mismatch (want: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("start with a tampered bundle: %v\nwant %s…", err, want)
	}

	svc.serve(signed1)
	ctx, cancel = context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pdp, err := embedded(t, ctx, config)
	if err != nil {
		t.Fatalf("start with the signed bundle: %v", err)
	}
	gw, researcher := webDevGateway(t, e, pdp)
	if _, got := fetch(t, gw, researcher); got != "ok" {
		t.Fatalf("fetch_page under the signed revision: %s", got)
	}

	// A tampered revision while running: refused, the signed one stays active.
	e.setPolicy(t, revokedFetch)
	signed2 := e.archive(t, signing)
	tampered2 := retar(t, signed2, func(name string, data []byte) []byte {
		if name == "data.json" {
			return bytes.Replace(data, []byte("{"), []byte(`{"intruder":{},`), 1)
		}
		return data
	})
	svc.serve(tampered2)
	eventually(t, "status reports the refused bundle", func() bool {
		st := svc.bundleStatus()
		msg, _ := st["message"].(string)
		return st["code"] == "bundle_error" && strings.HasPrefix(msg, "data.json: digest mismatch")
	})
	if st := svc.bundleStatus(); st["active_revision"] != revision(t, signed1) {
		t.Errorf("active revision %v after the tampered one, want %s", st["active_revision"], revision(t, signed1))
	}
	if _, got := fetch(t, gw, researcher); got != "ok" {
		t.Errorf("fetch_page after the tampered revision: %s, want the signed revision's ok", got)
	}
	// The signed revision is activated and decides.
	svc.serve(signed2)
	eventually(t, "status reports the signed second revision active", func() bool {
		return svc.bundleStatus()["active_revision"] == revision(t, signed2)
	})
	if _, got := fetch(t, gw, researcher); got != "deny NOT_GRANTED" {
		t.Errorf("fetch_page under the signed second revision: %s, want deny NOT_GRANTED", got)
	}
}

// tarFile returns a file of a bundle archive.
func tarFile(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	var found []byte
	walkTar(t, archive, func(n string, data []byte) {
		if n == name {
			found = data
		}
	})
	if found == nil {
		t.Fatalf("no %s in the archive", name)
	}
	return found
}

// retar rewrites a bundle archive with change applied to each file's content.
func retar(t *testing.T, archive []byte, change func(name string, data []byte) []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	walkTar(t, archive, func(name string, data []byte) {
		data = change(name, data)
		if err := tw.WriteHeader(&tar.Header{Name: "/" + name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	})
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// walkTar calls f with each regular file of a gzip'd tar, its name without a leading slash.
func walkTar(t *testing.T, archive []byte, f func(name string, data []byte)) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		f(strings.TrimPrefix(h.Name, "/"), data)
	}
}

// TestOPABundleServiceDown: a bundle service that does not answer stops the start with the
// bundle plugin's reason.
func TestOPABundleServiceDown(t *testing.T) {
	svc := startOPAServices(t, nil)
	url := svc.srv.URL
	svc.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := embedded(t, ctx, opaConfig(url, nil))
	want := fmt.Sprintf(`embedded OPA: no bundle activated (context deadline exceeded): bundle agentctl: request failed: Get "%s/bundles/agentctl.tar.gz": dial tcp %s: connect: connection refused`, url, strings.TrimPrefix(url, "http://"))
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
