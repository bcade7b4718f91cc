// Package spiffetest is a SPIFFE trust domain for tests: a CA that issues X.509-SVIDs,
// JWT-SVID signing keys, and a fake Workload API, served as a SPIRE agent serves it, that
// hands them out and pushes rotations.
package spiffetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// CA signs X.509-SVIDs of a trust domain.
type CA struct {
	TD     spiffeid.TrustDomain
	Cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	mu     sync.Mutex
	serial int64
}

// NewCA makes a CA for the trust domain (e.g. "example.org"), valid for a day.
func NewCA(t testing.TB, trustDomain string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	td := spiffeid.RequireTrustDomainFromString(trustDomain)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, URIs: []*url.URL{td.ID().URL()}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{TD: td, Cert: cert, key: key, serial: 1}
}

// SVID issues an X.509-SVID for the SPIFFE ID, valid until notAfter.
func (c *CA) SVID(t testing.TB, id string, notAfter time.Time) *x509svid.SVID {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sid := spiffeid.RequireFromString(id)
	c.mu.Lock()
	c.serial++
	serial := c.serial
	c.mu.Unlock()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs: []*url.URL{sid.URL()}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &x509svid.SVID{ID: sid, Certificates: []*x509.Certificate{cert}, PrivateKey: key}
}

// JWTKey signs JWT-SVIDs; ID is its key id (kid).
type JWTKey struct {
	ID  string
	Key *ecdsa.PrivateKey
}

// NewJWTKey makes an ES256 signing key.
func NewJWTKey(t testing.TB, id string) JWTKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return JWTKey{ID: id, Key: key}
}

// Token is a JWT-SVID for the SPIFFE ID and audience, valid for an hour.
func (k JWTKey) Token(t testing.TB, sub, aud string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.Key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.ID))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(jwt.Claims{Subject: sub, Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// X509Response is the Workload API's answer to FetchX509SVID: the SVID (DER chain,
// PKCS #8 key) and its trust domain's bundle (the CAs' DER certificates).
func X509Response(t testing.TB, svid *x509svid.SVID, cas ...*x509.Certificate) *workload.X509SVIDResponse {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(svid.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var chain, bundle []byte
	for _, c := range svid.Certificates {
		chain = append(chain, c.Raw...)
	}
	for _, c := range cas {
		bundle = append(bundle, c.Raw...)
	}
	return &workload.X509SVIDResponse{Svids: []*workload.X509SVID{{SpiffeId: svid.ID.String(), X509Svid: chain, X509SvidKey: key, Bundle: bundle}}}
}

// JWTResponse is the Workload API's answer to FetchJWTBundles: the trust domain's keys as
// a JWKS.
func JWTResponse(t testing.TB, td spiffeid.TrustDomain, keys ...JWTKey) *workload.JWTBundlesResponse {
	t.Helper()
	b := jwtbundle.New(td)
	for _, k := range keys {
		if err := b.AddJWTAuthority(k.ID, &k.Key.PublicKey); err != nil {
			t.Fatal(err)
		}
	}
	jwks, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return &workload.JWTBundlesResponse{Bundles: map[string][]byte{td.IDString(): jwks}}
}

// WorkloadAPI is the SPIFFE Workload API on a unix socket: FetchX509SVID and
// FetchJWTBundles stream the current answer, and again after every Push, which is how SPIRE
// delivers a rotation. A nil X.509 answer is SPIRE's refusal of a workload it has no
// registration entry for.
type WorkloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	Addr string // unix:///PATH

	mu      sync.Mutex
	x509    *workload.X509SVIDResponse
	jwt     *workload.JWTBundlesResponse
	changed chan struct{} // closed on every push
}

// StartWorkloadAPI serves the answers on a socket in a temporary directory until the test
// ends.
func StartWorkloadAPI(t testing.TB, x509 *workload.X509SVIDResponse, jwt *workload.JWTBundlesResponse) *WorkloadAPI {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	w := &WorkloadAPI{Addr: "unix://" + sock, x509: x509, jwt: jwt, changed: make(chan struct{})}
	srv := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(srv, w)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return w
}

// Push replaces both answers and sends them on every open stream.
func (w *WorkloadAPI) Push(x509 *workload.X509SVIDResponse, jwt *workload.JWTBundlesResponse) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.x509, w.jwt = x509, jwt
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *WorkloadAPI) current() (*workload.X509SVIDResponse, *workload.JWTBundlesResponse, chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.x509, w.jwt, w.changed
}

// checkHeader refuses a client without the header every Workload API client must send, as
// SPIRE does.
func checkHeader(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("workload.spiffe.io"); len(v) != 1 || v[0] != "true" {
		return status.Error(codes.InvalidArgument, "security header missing from request")
	}
	return nil
}

func (w *WorkloadAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	return serve(w, stream, func(x *workload.X509SVIDResponse, _ *workload.JWTBundlesResponse) *workload.X509SVIDResponse {
		return x
	})
}

func (w *WorkloadAPI) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream grpc.ServerStreamingServer[workload.JWTBundlesResponse]) error {
	return serve(w, stream, func(_ *workload.X509SVIDResponse, j *workload.JWTBundlesResponse) *workload.JWTBundlesResponse {
		return j
	})
}

// serve sends the stream's part of the current answer, and again after every Push, until
// the client goes away; with nothing issued it refuses as SPIRE does.
func serve[T any](w *WorkloadAPI, stream grpc.ServerStreamingServer[T], part func(*workload.X509SVIDResponse, *workload.JWTBundlesResponse) *T) error {
	if err := checkHeader(stream.Context()); err != nil {
		return err
	}
	for {
		x, j, changed := w.current()
		resp := part(x, j)
		if resp == nil {
			return status.Error(codes.PermissionDenied, "no identity issued")
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return nil
		}
	}
}
