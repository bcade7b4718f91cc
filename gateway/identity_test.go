package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/agentctl/agentctl/gateway"
	"github.com/agentctl/agentctl/internal/testtool"
)

const identityPolicy = `package policy

agents: billing: {
	description: "Bills"
	owner:       "team@example.org"
	identity: spiffe_id: "spiffe://example.org/agents/billing"
	grants: [{tool: "kv", actions: ["get"]}]
}
agents: nameless: {
	description: "No identity"
	owner:       "team@example.org"
	grants: [{tool: "kv", actions: ["get"]}]
}
tools: kv: {
	description: "KV"
	source:      "internal"
	auth: kind: "workload_identity"
	actions: get: {effect: "read", data: "internal"}
}
`

// TestAuthenticate maps X.509-SVIDs and JWT-SVIDs to agents and refuses everything else;
// the development header counts only when switched on.
func TestAuthenticate(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/policy.cue", identityPolicy)
	p := testtool.Load(t, dir)
	ca := newPKI(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	td := spiffeid.RequireTrustDomainFromString("example.org")
	bundle := jwtbundle.New(td)
	if err := bundle.AddJWTAuthority("k1", &key.PublicKey); err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	token := func(sub, aud string, exp time.Time) string {
		tok, err := jwt.Signed(signer).Claims(jwt.Claims{Subject: sub, Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(exp)}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	id := gateway.NewIdentity(p)
	id.JWT, id.Audience = bundle, "agentctl-gateway"

	withCert := func(spiffeID string) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{ca.svid(t, spiffeID, exp).Certificates[0]}}
	}
	for _, c := range []struct {
		name   string
		tls    *tls.ConnectionState
		bearer string
		dev    string
		devOn  bool
		want   string // "agent via" or "error"
	}{
		{name: "x509", tls: withCert("spiffe://example.org/agents/billing"), want: "billing x509-svid"},
		{name: "x509 unknown id", tls: withCert("spiffe://example.org/agents/mallory"), want: "error"},
		{name: "jwt", bearer: token("spiffe://example.org/agents/billing", "agentctl-gateway", exp), want: "billing jwt-svid"},
		{name: "jwt wrong audience", bearer: token("spiffe://example.org/agents/billing", "other", exp), want: "error"},
		{name: "jwt expired", bearer: token("spiffe://example.org/agents/billing", "agentctl-gateway", time.Now().Add(-time.Minute)), want: "error"},
		{name: "jwt forged", bearer: token("spiffe://example.org/agents/billing", "agentctl-gateway", exp) + "x", want: "error"},
		{name: "dev header while off", dev: "billing", want: "error"},
		{name: "dev header", dev: "nameless", devOn: true, want: "nameless insecure-dev-header"},
		{name: "dev header unknown agent", dev: "mallory", devOn: true, want: "error"},
		{name: "nothing", want: "error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/mcp", nil)
			r.TLS = c.tls
			if c.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+c.bearer)
			}
			if c.dev != "" {
				r.Header.Set(gateway.DevAgentHeader, c.dev)
			}
			id.InsecureDev = c.devOn
			peer, err := id.Authenticate(r)
			got := "error"
			if err == nil {
				got = peer.Agent + " " + peer.Via
				if peer.Via != "insecure-dev-header" && !peer.Expires.Equal(exp) {
					t.Errorf("expires %v, want %v", peer.Expires, exp)
				}
			}
			if got != c.want {
				t.Errorf("got %s (%v), want %s", got, err, c.want)
			}
		})
	}
}
