package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/internal/testtool"
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
	for name, content := range map[string]string{"pol/policy.cue": gatewayPolicy, "token": "s3cret\n"} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
