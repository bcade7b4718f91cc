package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// SVIDs is the gateway's own X.509-SVID and the trust bundles it verifies callers with,
// from files or from the SPIFFE Workload API (which rotates them).
type SVIDs struct {
	X509    x509svid.Source
	Bundles x509bundle.Source
	JWT     jwtbundle.Source // nil when no JWT bundle was given
	close   []func() error
}

// SVIDFiles reads the gateway's SVID (PEM certificate chain and key) and the X.509 trust
// bundle (PEM CA certificates) of its trust domain; jwtBundle (a JWKS file, optional) holds
// the keys JWT-SVIDs are verified with.
func SVIDFiles(certFile, keyFile, bundleFile, jwtBundle string) (*SVIDs, error) {
	svid, err := x509svid.Load(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("SVID %s: %w", certFile, err)
	}
	td := svid.ID.TrustDomain()
	b, err := x509bundle.Load(td, bundleFile)
	if err != nil {
		return nil, fmt.Errorf("trust bundle %s: %w", bundleFile, err)
	}
	s := &SVIDs{X509: svid, Bundles: b}
	if jwtBundle != "" {
		if s.JWT, err = JWTBundleFile(td.String(), jwtBundle); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// JWTBundleFile reads a JWKS file of JWT-SVID signing keys for the trust domain.
func JWTBundleFile(trustDomain, path string) (jwtbundle.Source, error) {
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		return nil, fmt.Errorf("trust domain %q: %w", trustDomain, err)
	}
	b, err := jwtbundle.Load(td, path)
	if err != nil {
		return nil, fmt.Errorf("JWT bundle %s: %w", path, err)
	}
	return b, nil
}

// WorkloadAPI gets the SVID and the bundles from the Workload API at addr (e.g.
// unix:///run/spire/sockets/agent.sock; empty: $SPIFFE_ENDPOINT_SOCKET).
func WorkloadAPI(ctx context.Context, addr string) (*SVIDs, error) {
	var opts []workloadapi.ClientOption
	if addr != "" {
		opts = append(opts, workloadapi.WithAddr(addr))
	}
	x, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(opts...))
	if err != nil {
		return nil, fmt.Errorf("SPIFFE Workload API: %w", err)
	}
	j, err := workloadapi.NewJWTSource(ctx, workloadapi.WithClientOptions(opts...))
	if err != nil {
		x.Close()
		return nil, fmt.Errorf("SPIFFE Workload API (JWT bundles): %w", err)
	}
	return &SVIDs{X509: x, Bundles: x, JWT: j, close: []func() error{x.Close, j.Close}}, nil
}

// Close stops Workload API watches.
func (s *SVIDs) Close() error {
	var errs []error
	for _, c := range s.close {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// MTLS is the listener's configuration when agents present X.509-SVIDs: any SPIFFE ID of a
// trusted domain completes the handshake; mapping it to an agent is Identity's job.
func (s *SVIDs) MTLS() *tls.Config {
	return tlsconfig.MTLSServerConfig(s.X509, s.Bundles, tlsconfig.AuthorizeAny())
}

// TLS is the listener's configuration when agents present JWT-SVIDs: server-side TLS only.
func (s *SVIDs) TLS() *tls.Config { return tlsconfig.TLSServerConfig(s.X509) }
