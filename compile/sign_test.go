package compile_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/policy"
)

// keyPair returns a PEM private key of the kind ("rsa" or "ec") and its PEM public key.
func keyPair(t *testing.T, kind string) (private, public []byte) {
	t.Helper()
	var key any
	var pub any
	switch kind {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key, pub = k, &k.PublicKey
	case "ec":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key, pub = k, &k.PublicKey
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
}

// signedArchive compiles the first example, signs it and archives it.
func signedArchive(t *testing.T, p *policy.Policy, s compile.Signing) []byte {
	t.Helper()
	b := compileBundle(t, p)
	if err := compile.Sign(b, s); err != nil {
		t.Fatal(err)
	}
	raw, err := compile.Archive(b)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestSign: RS and HS signatures keep the archive byte-reproducible, a signed bundle is
// still recognised as agentctl's, and keys that cannot sign are refused with the reason.
func TestSign(t *testing.T) {
	p := testtool.Examples(t)[0].Policy
	rsaKey, rsaPub := keyPair(t, "rsa")
	ecKey, _ := keyPair(t, "ec")
	for _, s := range []compile.Signing{{Key: rsaKey, KeyID: "agentctl"}, {Key: []byte("s3cret"), Algorithm: "HS512"}} {
		a, b := signedArchive(t, p, s), signedArchive(t, p, s)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two signed archives of one policy differ", s.Algorithm)
		}
		if !compile.IsArchive(bytes.NewReader(a)) {
			t.Errorf("%s: a signed archive is not recognised as agentctl's", s.Algorithm)
		}
		if !strings.Contains(string(tarFile(t, a, ".signatures.json")), "\"signatures\": [\n  \"ey") {
			t.Errorf("%s: no signature in .signatures.json", s.Algorithm)
		}
	}
	claims := filepath.Join(t.TempDir(), "claims.json")
	if err := os.WriteFile(claims, []byte(`{"files": [], "iss": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s    compile.Signing
		want string
	}{
		{compile.Signing{Key: rsaKey}, "RS256"},
		{compile.Signing{Key: rsaKey, Algorithm: "PS384"}, "PS384"},
		{compile.Signing{Key: ecKey}, "ES256"},
		{compile.Signing{Key: []byte("secret\n")}, "HS256"},
		{compile.Signing{Key: rsaKey, Algorithm: "ES256"}, "signing key: an RSA key signs with RS256, RS384, RS512, PS256, PS384, PS512, not ES256"},
		{compile.Signing{Key: ecKey, Algorithm: "ES384"}, "signing key: an EC key on P-256 signs with ES256, not ES384"},
		{compile.Signing{Key: []byte("secret"), Algorithm: "RS256"}, "signing key: RS256 needs a PEM private key; a file that is not PEM is an HMAC secret (HS256, HS384, HS512)"},
		{compile.Signing{Key: nil}, "signing key: the HMAC secret is empty"},
		{compile.Signing{Key: rsaPub}, "signing key: the PEM block is a public key: signing needs the private key (give OPA the public one)"},
		{compile.Signing{Key: []byte("-----BEGIN PRIVATE KEY-----\nnot base64\n")}, "signing key: unreadable PEM block"},
		{compile.Signing{Key: rsaKey, ClaimsFile: claims}, "claims file " + claims + ": the claim \"files\" is the bundle's own (the signed file digests)"},
	} {
		got, err := tc.s.Check()
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Check(%s) = %s\nwant %s", tc.s.Algorithm, got, tc.want)
		}
	}
}

// TestIsArchive recognises an agentctl bundle by its manifest, not by the gzip header.
func TestIsArchive(t *testing.T) {
	raw, err := compile.Archive(compileBundle(t, testtool.Examples(t)[0].Policy))
	if err != nil {
		t.Fatal(err)
	}
	var other bytes.Buffer
	roots := []string{"authz"}
	if err := bundle.NewWriter(&other).Write(bundle.Bundle{Data: map[string]any{"authz": map[string]any{}}, Manifest: bundle.Manifest{Roots: &roots}}); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("a compressed README"))
	zw.Close()
	for name, tc := range map[string]struct {
		raw  []byte
		want bool
	}{
		"agentctl bundle":           {raw, true},
		"another OPA bundle":        {other.Bytes(), false},
		"a gzip file":               {gz.Bytes(), false},
		"a gzip header alone":       {[]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, false},
		"truncated agentctl bundle": {raw[:len(raw)/2], false},
	} {
		if got := compile.IsArchive(bytes.NewReader(tc.raw)); got != tc.want {
			t.Errorf("%s: IsArchive = %v, want %v", name, got, tc.want)
		}
	}
}

// tarFile returns the named file of a bundle archive.
func tarFile(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	data, ok := untar(t, archive)["/"+name]
	if !ok {
		t.Fatalf("no %s in the archive", name)
	}
	return data
}

// retar rewrites a bundle archive with change applied to each file's content.
func retar(t *testing.T, archive []byte, change func(name string, data []byte) []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	files := untar(t, archive)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := change(name, files[name])
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// opaRefuses runs `opa run --server` on a bundle that must fail verification, and returns
// what OPA said: a bundle given with --bundle is verified at start, so OPA exits.
func opaRefuses(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	out, err := exec.CommandContext(ctx, bin, append([]string{"run", "--server", "--addr", addr}, args...)...).CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("opa run %s: did not refuse (%v):\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestSignedBundleOPA: a real OPA server given the verification key accepts the signed
// bundle and decides as the Go reference; it refuses the bundle once data.json is changed
// after signing, an unsigned bundle, and a bundle signed with another key. The same holds
// for a sidecar configured as docs/runtime.md shows (keys: and bundles.NAME.signing),
// downloading the bundle from a bundle server.
func TestSignedBundleOPA(t *testing.T) {
	bin := testtool.Go(t, "github.com/open-policy-agent/opa")
	ex := testtool.Examples(t)[0]
	p := ex.Policy
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	key, pub := keyPair(t, "rsa")
	otherKey, _ := keyPair(t, "rsa")
	pubPath := write("public.pem", pub)
	signed := signedArchive(t, p, compile.Signing{Key: key, KeyID: "agentctl"})
	tampered := retar(t, signed, func(name string, data []byte) []byte {
		if name == "/data.json" {
			return bytes.Replace(data, []byte(`"agents":{`), []byte(`"agents":{"intruder":{},`), 1)
		}
		return data
	})
	unsigned, err := compile.Archive(compileBundle(t, p))
	if err != nil {
		t.Fatal(err)
	}
	verify := []string{"--verification-key", pubPath, "--verification-key-id", "agentctl"}

	s := startOPA(t, bin, write("signed.tar.gz", signed), verify...)
	tc := p.Tests[0]
	in := roundTrip(t, tc.Input)
	if got, want := s.decide(t, in), p.Decide(in, policy.Env{Now: time.Now()}); !reflect.DeepEqual(got, want) {
		t.Errorf("signed bundle, test %s: OPA says %+v, Go %+v", tc.Name, got, want)
	}
	for name, tc := range map[string]struct {
		archive []byte
		want    string
	}{
		"tampered":  {tampered, "data.json: digest mismatch"},
		"unsigned":  {unsigned, "bundle missing .signatures.json file"},
		"other key": {signedArchive(t, p, compile.Signing{Key: otherKey, KeyID: "agentctl"}), "failed to verify"},
	} {
		path := write(name+".tar.gz", tc.archive)
		if out := opaRefuses(t, bin, append([]string{"--bundle", path}, verify...)...); !strings.Contains(out, tc.want) {
			t.Errorf("%s bundle: OPA said %q, want %q", name, out, tc.want)
		}
	}

	// The sidecar configuration of docs/runtime.md, with the bundle served over HTTP.
	served := signed
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(served)
	}))
	defer srv.Close()
	config := fmt.Sprintf(`services:
  bundles:
    url: %s
bundles:
  agentctl:
    service: bundles
    resource: bundles/agentctl.tar.gz
    signing:
      keyid: agentctl
keys:
  agentctl:
    algorithm: RS256
    key: |
%s`, srv.URL, indent(string(pub), "      "))
	conf := write("opa.yaml", []byte(config))
	s, ready := runOPA(t, bin, 30*time.Second, "--config-file", conf)
	if !ready {
		t.Fatalf("the sidecar did not activate the signed bundle:\n%s", s.log.String())
	}
	if got := s.decide(t, in); got.Outcome != tc.Expect.Outcome {
		t.Errorf("sidecar, test %s: outcome %s, want %s", tc.Name, got.Outcome, tc.Expect.Outcome)
	}
	served = tampered
	if s, ready := runOPA(t, bin, 5*time.Second, "--config-file", conf); ready {
		t.Error("the sidecar activated a tampered bundle")
	} else if !strings.Contains(s.log.String(), "digest mismatch") {
		t.Errorf("the sidecar's log does not say why it refused the tampered bundle:\n%s", s.log.String())
	}
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix) + "\n"
}
