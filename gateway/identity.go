package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/agentctl/agentctl/policy"
)

// Peer is the authenticated caller: the agent its SPIFFE ID maps to.
type Peer struct {
	Agent    string
	SpiffeID string    // empty only in insecure development mode for agents without one
	Expires  time.Time // when the caller's credential (SVID) expires; zero when unknown
	Via      string    // "x509-svid", "jwt-svid" or "insecure-dev-header"
}

// DevAgentHeader names the agent in insecure development mode.
const DevAgentHeader = "Agentctl-Insecure-Dev-Agent"

// Identity authenticates callers and maps them to the policy's agents.
type Identity struct {
	byID     map[string]string // SPIFFE ID -> agent
	p        *policy.Policy
	verified *chainCache

	// X509, when set, is the trust bundle every request's client certificate chain is
	// verified against again: the TLS handshake verified it against the bundle of its time,
	// but a kept-alive connection outlives a rotation that dropped its CA, and its SVID's
	// expiry. A source must replace a bundle it updates, never change it in place (the
	// Workload API source replaces its set on every update): a chain verified against a
	// bundle is not verified again while the same bundle is current.
	X509 x509bundle.Source
	// JWT, when set, accepts a JWT-SVID bearer token for Audience, verified against it.
	JWT      jwtbundle.Source
	Audience string
	// InsecureDev trusts the DevAgentHeader: anyone who reaches the listener is any agent.
	InsecureDev bool
}

// NewIdentity maps the SPIFFE IDs the policy's agents declare.
func NewIdentity(p *policy.Policy) *Identity {
	id := &Identity{byID: map[string]string{}, p: p, verified: &chainCache{m: map[[32]byte]verifiedChain{}}}
	for _, a := range p.Agents {
		if a.SpiffeID != "" {
			id.byID[a.SpiffeID] = a.Name
		}
	}
	return id
}

var errUnauthenticated = errors.New("unauthenticated")

// Authenticate returns the caller of r: the X.509-SVID of its TLS connection (verified by
// the listener against the trust bundle), else a JWT-SVID bearer token, else (only in
// insecure development mode) the agent DevAgentHeader names.
func (id *Identity) Authenticate(r *http.Request) (Peer, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		cert := r.TLS.PeerCertificates[0]
		sid, err := x509svid.IDFromCert(cert)
		if err != nil {
			return Peer{}, fmt.Errorf("%w: client certificate: %v", errUnauthenticated, err)
		}
		if id.X509 != nil {
			if err := id.reverify(r.TLS.PeerCertificates, sid, time.Now()); err != nil {
				return Peer{}, fmt.Errorf("%w: client certificate of %s no longer verifies against the trust bundle: %v", errUnauthenticated, sid, err)
			}
		}
		return id.peer(sid.String(), cert.NotAfter, "x509-svid")
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && id.JWT != nil {
		svid, err := jwtsvid.ParseAndValidate(strings.TrimSpace(tok), id.JWT, []string{id.Audience})
		if err != nil {
			return Peer{}, fmt.Errorf("%w: JWT-SVID: %v", errUnauthenticated, err)
		}
		return id.peer(svid.ID.String(), svid.Expiry, "jwt-svid")
	}
	if id.InsecureDev {
		name := r.Header.Get(DevAgentHeader)
		a := id.p.Agent(name)
		if a == nil {
			return Peer{}, fmt.Errorf("%w: insecure development mode: header %s names no agent of the policy (%q)", errUnauthenticated, DevAgentHeader, name)
		}
		return Peer{Agent: a.Name, SpiffeID: a.SpiffeID, Via: "insecure-dev-header"}, nil
	}
	return Peer{}, fmt.Errorf("%w: present an X.509-SVID (mTLS) or a JWT-SVID bearer token", errUnauthenticated)
}

// chainCache remembers the client certificate chains verified against a bundle, so that a
// kept-alive connection pays one verification per rotation rather than one per request.
type chainCache struct {
	mu sync.Mutex
	m  map[[32]byte]verifiedChain // SHA-256 over the chain's certificates
}

type verifiedChain struct {
	bundle *x509bundle.Bundle // verified against
	until  time.Time          // the chain's first expiry
}

// maxVerifiedChains bounds the cache; when full it starts again empty.
const maxVerifiedChains = 10000

// reverify verifies a client's chain against the current bundle of its trust domain.
func (id *Identity) reverify(certs []*x509.Certificate, sid spiffeid.ID, now time.Time) error {
	b, err := id.X509.GetX509BundleForTrustDomain(sid.TrustDomain())
	if err != nil {
		return err
	}
	h := sha256.New()
	for _, c := range certs {
		h.Write(c.Raw)
	}
	var key [32]byte
	h.Sum(key[:0])
	c := id.verified
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok && v.bundle == b && now.Before(v.until) {
		return nil
	}
	_, chains, err := x509svid.Verify(certs, b, x509svid.WithTime(now))
	if err != nil {
		return err
	}
	until := chains[0][0].NotAfter
	for _, cert := range chains[0] {
		if cert.NotAfter.Before(until) {
			until = cert.NotAfter
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxVerifiedChains {
		clear(c.m)
	}
	c.m[key] = verifiedChain{bundle: b, until: until}
	return nil
}

func (id *Identity) peer(spiffeID string, exp time.Time, via string) (Peer, error) {
	agent, ok := id.byID[spiffeID]
	if !ok {
		return Peer{}, fmt.Errorf("%w: %s is not the identity.spiffe_id of any agent of the policy", errUnauthenticated, spiffeID)
	}
	return Peer{Agent: agent, SpiffeID: spiffeID, Expires: exp, Via: via}, nil
}

type peerKey struct{}

// withPeer authenticates every request; the MCP handler then serves the caller's agent.
func (id *Identity) withPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := id.Authenticate(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), peerKey{}, p)))
	})
}

func peerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}
