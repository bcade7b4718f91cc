package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

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

// WorkloadAPI gets the gateway's X.509-SVID and the X.509 bundles, and when jwt is set the
// JWT bundles, from the Workload API at addr (e.g. unix:///run/spire/sockets/agent.sock;
// empty: $SPIFFE_ENDPOINT_SOCKET), over one connection that stays open: the API pushes
// rotated SVIDs and bundles, and the sources serve them from then on. It waits at most wait
// for the first answers: go-spiffe itself retries an unreachable API forever, so without a
// bound the gateway would hang at start instead of saying why.
func WorkloadAPI(ctx context.Context, addr string, jwt bool, wait time.Duration) (*SVIDs, error) {
	name := addr
	if name == "" {
		name = os.Getenv(workloadapi.SocketEnv)
	}
	errs := &lastError{}
	opts := []workloadapi.ClientOption{workloadapi.WithLogger(errs)}
	if addr != "" {
		opts = append(opts, workloadapi.WithAddr(addr))
	}
	client, err := workloadapi.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("SPIFFE Workload API %s: %w", name, err)
	}
	failed := func(what string, err error) error {
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("SPIFFE Workload API %s: no %s: %w", name, what, err)
		}
		if last := errs.get(); last != "" {
			return fmt.Errorf("SPIFFE Workload API %s: no %s within %s: %s", name, what, wait, last)
		}
		return fmt.Errorf("SPIFFE Workload API %s: no %s within %s", name, what, wait)
	}
	// The sources keep watching with their own context; this one bounds only the first wait.
	first, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	x, err := workloadapi.NewX509Source(first, workloadapi.WithClient(client))
	if err != nil {
		client.Close()
		return nil, failed("X.509-SVID", err)
	}
	s := &SVIDs{X509: x, Bundles: x, close: []func() error{x.Close, client.Close}}
	if jwt {
		j, err := workloadapi.NewJWTSource(first, workloadapi.WithClient(client))
		if err != nil {
			s.Close()
			return nil, failed("JWT bundles", err)
		}
		s.JWT = j
		s.close = append([]func() error{j.Close}, s.close...)
	}
	return s, nil
}

// lastError keeps the last error the Workload API client logged (it logs, then retries), so
// that giving up can say why.
type lastError struct {
	mu  sync.Mutex
	err string
}

func (l *lastError) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Errorf keeps the error itself when the message wraps one ("Failed to watch the Workload
// API: %v"), else the message.
func (l *lastError) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(args) > 0 {
		if err, ok := args[len(args)-1].(error); ok {
			msg = err.Error()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = msg
}
func (*lastError) Debugf(string, ...any) {}
func (*lastError) Infof(string, ...any)  {}
func (*lastError) Warnf(string, ...any)  {}

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
