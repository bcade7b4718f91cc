package gateway_test

import (
	"context"
	"crypto/tls"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/logging"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/gateway"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/mcp"
	"github.com/agentctl/agentctl/policy"
)

// webPolicy is the smallest estate that exercises identity and the PDP: two agents with
// SPIFFE IDs and different grants on the in-process web server (no npm, no OPA binary).
const webPolicy = `package policy

agents: researcher: {
	description: "Reads the web"
	owner:       "research@example.org"
	identity: spiffe_id: "spiffe://example.org/agents/researcher"
	grants: [{tool: "web", actions: ["fetch_page", "send_message"]}]
}
agents: writer: {
	description: "Sends messages"
	owner:       "research@example.org"
	identity: spiffe_id: "spiffe://example.org/agents/writer"
	grants: [{tool: "web", actions: ["send_message"]}]
}
`

// webEstate is a policy directory over the Go web server alone, its tools imported.
type webEstate struct {
	dir string
	p   *policy.Policy
	web *webServer
}

func newWebEstate(t *testing.T) *webEstate {
	t.Helper()
	e := &webEstate{dir: filepath.Join(t.TempDir(), "policy"), web: startWeb(t)}
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cat, err := mcp.Fetch(ctx, mcp.HTTP(e.web.url))
	if err != nil {
		t.Fatal(err)
	}
	src, err := mcp.Generate(cat, mcp.Options{Tool: "web", Data: policy.DataPublic})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.dir, "web.cue"), string(src))
	e.setPolicy(t, webPolicy)
	return e
}

// setPolicy replaces the agents' file and reloads the policy.
func (e *webEstate) setPolicy(t *testing.T, src string) {
	t.Helper()
	writeFile(t, filepath.Join(e.dir, "policy.cue"), src)
	e.p = testtool.Load(t, e.dir)
}

// archive compiles the current policy to a bundle archive, signed when s names a key.
func (e *webEstate) archive(t *testing.T, s *compile.Signing) []byte {
	t.Helper()
	b, err := compile.Bundle(e.p)
	if err != nil {
		t.Fatal(err)
	}
	if s != nil {
		if err := compile.Sign(b, *s); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := compile.Archive(b)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// gateway starts a gateway for the estate with the PDP and identity given.
func (e *webEstate) gateway(t *testing.T, pdp gateway.PDP, id *gateway.Identity) *gateway.Gateway {
	t.Helper()
	signer, err := gateway.NewSigner(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gw, err := gateway.New(ctx, gateway.Config{Policy: e.p, PDP: pdp, Upstreams: []gateway.Upstream{{Tool: "web", URL: e.web.url}},
		Identity: id, Signer: signer, Sessions: gateway.NewSessions(100, time.Hour), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		DecisionTimeout: 2 * time.Second, UpstreamTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	return gw
}

// embedded starts OPA in process with the configuration; OPA's own logs are dropped.
func embedded(t *testing.T, ctx context.Context, config []byte) (*gateway.Embedded, error) {
	t.Helper()
	quiet := logging.New()
	quiet.SetOutput(io.Discard)
	pdp, err := gateway.NewEmbedded(ctx, config, quiet, quiet)
	if err == nil {
		t.Cleanup(func() { pdp.Close(context.Background()) })
	}
	return pdp, err
}

// serveTLS serves h on a loopback listener with the TLS configuration; it returns the address.
func serveTLS(t *testing.T, h http.Handler, cfg *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: stdlog.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(l, cfg))
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// writeArchive writes a bundle archive to a file and returns its path.
func writeArchive(t *testing.T, archive []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bundle.tar.gz")
	if err := os.WriteFile(path, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
