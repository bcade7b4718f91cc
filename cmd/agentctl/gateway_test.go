package main

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
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/internal/spiffetest"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/mcp"
	"github.com/agentctl/agentctl/policy"
)

// gatewayPolicy is an agent and a tool with pins, enough for agentctl gateway to get as
// far as its PDP and identity sources.
const gatewayPolicy = `package policy

agents: a: {
	description: "An agent"
	owner:       "team@example.org"
	identity: spiffe_id: "spiffe://example.org/agents/a"
	grants: [{tool: "kv", actions: ["get"]}]
}
tools: kv: {
	description: "A key-value store"
	source:      "mcp"
	auth: kind: "shared_token"
	actions: get: {
		effect: "read"
		data:   "internal"
		pin: {
			tool:         "get"
			description:  "sha256:0000000000000000000000000000000000000000000000000000000000000000"
			input_schema: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
			hints: {read_only: true, destructive: true, idempotent: false, open_world: true}
		}
	}
}
`

func gatewayDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"pol/policy.cue": gatewayPolicy, "token": "s3cret\n"})
	return dir
}

// TestGatewayWorkloadAPIUnreachable: a Workload API that does not answer within
// --start-timeout stops agentctl gateway with exit status 2 and go-spiffe's reason.
func TestGatewayWorkloadAPIUnreachable(t *testing.T) {
	dir := gatewayDir(t)
	sock := filepath.Join(dir, "none.sock")
	var stdout, stderr bytes.Buffer
	code := run([]string{"gateway", filepath.Join(dir, "pol"), "--upstream", "kv=http://127.0.0.1:1/mcp", "--opa-url", "http://127.0.0.1:1",
		"--admin-token-file", filepath.Join(dir, "token"), "--workload-api", "unix://" + sock, "--start-timeout", "300ms"}, &stdout, &stderr)
	want := fmt.Sprintf(`agentctl: SPIFFE Workload API unix://%s: no X.509-SVID within 300ms: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial unix %s: connect: no such file or directory"`+"\n", sock, sock)
	if code != exitUsage || stderr.String() != want || stdout.Len() != 0 {
		t.Errorf("exit %d\nstderr %q\nwant   %q\nstdout %q", code, stderr.String(), want, stdout.String())
	}
}

// TestGatewayOPAConfigTampered: --opa-config with a signed bundle service that serves a
// bundle changed after signing: the embedded OPA activates nothing, and agentctl gateway
// exits 2 after --start-timeout with OPA's reason.
func TestGatewayOPAConfigTampered(t *testing.T) {
	dir := gatewayDir(t)
	p := testtool.Load(t, filepath.Join(dir, "pol"))
	b, err := compile.Bundle(p)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err := compile.Sign(b, compile.Signing{Key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), KeyID: "agentctl"}); err != nil {
		t.Fatal(err)
	}
	archive, err := compile.Archive(b)
	if err != nil {
		t.Fatal(err)
	}
	tampered := tamperData(t, archive)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tampered) }))
	defer srv.Close()
	config := fmt.Sprintf(`{"services": {"acme": {"url": %q}},
"bundles": {"agentctl": {"service": "acme", "resource": "bundle.tar.gz", "signing": {"keyid": "agentctl"},
  "polling": {"min_delay_seconds": 1, "max_delay_seconds": 1}}},
"keys": {"agentctl": {"algorithm": "ES256", "key": %q}}}`, srv.URL, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	conf := filepath.Join(dir, "opa.json")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"gateway", filepath.Join(dir, "pol"), "--upstream", "kv=http://127.0.0.1:1/mcp", "--insecure-dev-identity",
		"--admin-token-file", filepath.Join(dir, "token"), "--opa-config", conf, "--start-timeout", "1500ms"}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	want := "agentctl: embedded OPA: no bundle activated (context deadline exceeded): bundle agentctl: data.json: digest mismatch (want: "
	if code != exitUsage || !strings.HasPrefix(last, want) || stdout.Len() != 0 {
		t.Errorf("exit %d, last line of stderr\n%s\nwant\n%s…\nstdout %q", code, last, want, stdout.String())
	}
}

// tamperData changes data.json of a bundle archive after it was signed.
func tamperData(t *testing.T, archive []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if strings.TrimPrefix(h.Name, "/") == "data.json" {
			data = bytes.Replace(data, []byte("{"), []byte(`{"intruder":{},`), 1)
		}
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestGatewayCLI runs agentctl gateway as an operator would: its SVID and bundles from a
// Workload API (a fake SPIRE agent), embedded OPA configured by --opa-config with a bundle
// service and a decision log service, an MCP server over Streamable HTTP upstream. An agent
// authenticated by an X.509-SVID (mTLS), then by a JWT-SVID (--jwt-audience), calls a tool;
// the decision reaches the decision log service; cancelling stops the gateway cleanly.
func TestGatewayCLI(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	// The upstream, imported as tool kv.
	srv := sdk.NewServer(&sdk.Implementation{Name: "kv", Version: "1"}, nil)
	type getArgs struct {
		Key string `json:"key"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "get", Description: "Get a key", Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true}},
		func(_ context.Context, _ *sdk.CallToolRequest, a getArgs) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "value of " + a.Key}}}, nil, nil
		})
	up := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, &sdk.StreamableHTTPOptions{JSONResponse: true}))
	defer up.Close()
	cat, err := mcp.Fetch(ctx, mcp.HTTP(up.URL+"/mcp"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := mcp.Generate(cat, mcp.Options{Tool: "kv", Data: policy.DataInternal})
	if err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(dir, "pol")
	writeFiles(t, dir, map[string]string{"pol/kv.cue": string(src), "token": "s3cret\n", "pol/agents.cue": `package policy

agents: a: {
	description: "An agent"
	owner:       "team@example.org"
	identity: spiffe_id: "spiffe://example.org/agents/a"
	grants: [{tool: "kv", actions: ["get"]}]
}
`})

	// The bundle and decision log services.
	b, err := compile.Bundle(testtool.Load(t, pol))
	if err != nil {
		t.Fatal(err)
	}
	archive, err := compile.Archive(b)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logged []map[string]any
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Write(archive)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		var batch []map[string]any
		if err == nil {
			err = json.NewDecoder(zr).Decode(&batch)
		}
		if err != nil {
			t.Errorf("decision log upload: %v", err)
		}
		mu.Lock()
		logged = append(logged, batch...)
		mu.Unlock()
	}))
	defer svc.Close()
	writeFiles(t, dir, map[string]string{"opa.json": fmt.Sprintf(`{"services": {"acme": {"url": %q}},
"bundles": {"agentctl": {"service": "acme", "resource": "bundle.tar.gz"}},
"decision_logs": {"service": "acme", "reporting": {"min_delay_seconds": 1, "max_delay_seconds": 1}}}`, svc.URL)})

	// The trust domain and the Workload API.
	ca := spiffetest.NewCA(t, "example.org")
	key := spiffetest.NewJWTKey(t, "k1")
	wl := spiffetest.StartWorkloadAPI(t, spiffetest.X509Response(t, ca.SVID(t, "spiffe://example.org/gateway", time.Now().Add(time.Hour)), ca.Cert),
		spiffetest.JWTResponse(t, ca.TD, key))
	trust := x509bundle.FromX509Authorities(ca.TD, []*x509.Certificate{ca.Cert})
	gatewayID := tlsconfig.AuthorizeID(spiffeid.RequireFromString("spiffe://example.org/gateway"))

	for _, mode := range []string{"x509-svid", "jwt-svid"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"gateway", pol, "--upstream", "kv=" + up.URL + "/mcp", "--opa-config", filepath.Join(dir, "opa.json"),
				"--workload-api", wl.Addr, "--admin-token-file", filepath.Join(dir, "token"),
				"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--start-timeout", "20s"}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			defer tr.CloseIdleConnections()
			var hc *http.Client
			if mode == "x509-svid" {
				tr.TLSClientConfig = tlsconfig.MTLSClientConfig(ca.SVID(t, "spiffe://example.org/agents/a", time.Now().Add(time.Hour)), trust, gatewayID)
				hc = &http.Client{Transport: tr}
			} else {
				args = append(args, "--jwt-audience", "agentctl-gateway")
				tr.TLSClientConfig = tlsconfig.TLSClientConfig(trust, gatewayID)
				hc = &http.Client{Transport: bearerAuth{key.Token(t, "spiffe://example.org/agents/a", "agentctl-gateway"), tr}}
			}
			g := startGateway(t, args)
			defer g.stop()
			if !strings.HasPrefix(g.url, "https://") {
				t.Fatalf("agents are served at %s, want https", g.url)
			}

			task := g.startTask(t, "s3cret", "a")

			cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer ccancel()
			session, err := sdk.NewClient(&sdk.Implementation{Name: "a", Version: "1"}, nil).Connect(cctx,
				&sdk.StreamableClientTransport{Endpoint: g.url, HTTPClient: hc, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
			if err != nil {
				t.Fatalf("connect: %v\n%s", err, g.stderr.String())
			}
			res, err := session.CallTool(cctx, &sdk.CallToolParams{Name: "kv.get", Arguments: map[string]any{"key": "k"}, Meta: sdk.Meta{"agentctl.dev/task": task.Record}})
			if err != nil || res.IsError || len(res.Content) != 1 || res.Content[0].(*sdk.TextContent).Text != "value of k" {
				t.Errorf("kv.get: %v %+v", err, res)
			}
			session.Close()

			deadline := time.Now().Add(10 * time.Second)
			found := ""
			for found == "" && time.Now().Before(deadline) {
				mu.Lock()
				for _, e := range logged {
					in, _ := e["input"].(map[string]any)
					res, _ := e["result"].(map[string]any)
					if in["task"] == task.Task {
						found = fmt.Sprintf("%v %v %v.%v %v", in["agent"], in["identity"], in["tool"], in["action"], res["outcome"])
					}
				}
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
			if want := "a spiffe://example.org/agents/a kv.get allow"; found != want {
				t.Errorf("decision log: %q, want %q", found, want)
			}
			if err := g.stop(); err != nil {
				t.Errorf("stop: %v\n%s", err, g.stderr.String())
			}
		})
	}
}

// runningGateway is agentctl gateway running in the test's process, as started by
// startGateway.
type runningGateway struct {
	url, admin string // where agents connect; the admin endpoint
	stderr     *testtool.SyncBuffer
	stop       func() error // cancels the command and waits for it; once
}

// startGateway runs agentctl with args (a gateway command listening on 127.0.0.1:0 for both
// listeners) until it serves, and reads its listeners from its log.
func startGateway(t *testing.T, args []string) *runningGateway {
	t.Helper()
	g := &runningGateway{stderr: &testtool.SyncBuffer{}}
	root := newRootCmd(io.Discard, g.stderr)
	root.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var once sync.Once
	var stopErr error
	g.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				stopErr = errors.New("the gateway did not stop within 15s")
			}
		})
		return stopErr
	}
	listening := regexp.MustCompile(`msg="gateway serving agents" url=(\S+)`)
	admin := regexp.MustCompile(`msg="admin endpoint" url=(\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for admin.FindStringSubmatch(g.stderr.String()) == nil {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the gateway exited: %v\n%s", err, g.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			g.stop()
			t.Fatalf("the gateway did not start within 30s:\n%s", g.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.url = listening.FindStringSubmatch(g.stderr.String())[1]
	g.admin = admin.FindStringSubmatch(g.stderr.String())[1]
	return g
}

// startTask asks the admin endpoint for a new task of agent, as the platform does.
func (g *runningGateway) startTask(t *testing.T, token, agent string) (task struct{ Task, Record string }) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.admin+"/v1/tasks", strings.NewReader(`{"agent":"`+agent+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&task); err != nil || task.Record == "" {
		t.Fatalf("POST /v1/tasks: %s: %v", resp.Status, err)
	}
	return task
}

type bearerAuth struct {
	token string
	next  http.RoundTripper
}

func (b bearerAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
