package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentctl/agentctl/gateway"
)

// TestRecords: a record verifies with the key that signed it (also loaded from a file, as
// replicas share it), until it expires, and never when altered or signed by another key.
func TestRecords(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(key)
	path := filepath.Join(t.TempDir(), "key.pem")
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})))
	a, err := gateway.LoadSigner(path, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := gateway.LoadSigner(path, time.Hour) // another replica
	other, _ := gateway.NewSigner(time.Hour)
	now := time.Now()
	rec, tok, err := a.NewTask("triage", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*gateway.Signer{a, b} {
		got, err := s.Verify(tok, now.Add(time.Minute))
		if err != nil || got.Task != rec.Task || got.Holder() != "triage" {
			t.Errorf("verify: %+v %v", got, err)
		}
	}
	if _, err := a.Verify(tok, now.Add(2*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired record: %v", err)
	}
	if _, err := other.Verify(tok, now); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("another gateway's record: %v", err)
	}
	parts := strings.Split(tok, ".")
	sig := []byte(parts[2])
	sig[0] ^= 1 // another base64url character
	parts[2] = string(sig)
	if _, err := a.Verify(strings.Join(parts, "."), now); err == nil {
		t.Error("an altered signature verified")
	}
	// Algorithm confusion: a record with alg "none" or HS256 (keyed by anything) is refused.
	for _, alg := range []string{"none", "HS256"} {
		forged := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"`+alg+`"}`)) + "." + parts[1] + "."
		if _, err := a.Verify(forged, now); err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("alg %s: %v", alg, err)
		}
	}
	if _, err := gateway.LoadSigner(filepath.Join(t.TempDir(), "none.pem"), time.Hour); err == nil {
		t.Error("a missing key loaded")
	}
}
