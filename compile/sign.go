package compile

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// Signing says how to sign a bundle, as `opa build --signing-key` does: with OPA's own
// bundle signing code, so an OPA configured with the matching verification key accepts it.
type Signing struct {
	// Key is a PEM private key (RSA or EC; PKCS #1, SEC 1 or PKCS #8) or, for the HS
	// algorithms, the HMAC secret: its exact bytes, as `opa run --verification-key FILE`
	// reads the secret.
	Key []byte
	// Algorithm is the JWS algorithm; empty picks it from the key: RS256 for RSA, ES256,
	// ES384 or ES512 for an EC key on P-256, P-384 or P-521, HS256 for a secret.
	Algorithm string
	// KeyID is the key's name (the token's kid, and OPA's keyid); empty for none.
	KeyID string
	// ClaimsFile names a JSON object of extra claims for the token (opa build --claims-file).
	ClaimsFile string
}

// Algorithms lists the JWS algorithms a bundle can be signed with, by key kind.
var (
	rsaAlgorithms  = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ecAlgorithms   = map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
	hmacAlgorithms = []string{"HS256", "HS384", "HS512"}
)

// SigningAlgorithms lists every algorithm --signing-alg accepts.
func SigningAlgorithms() []string {
	return slices.Concat(rsaAlgorithms, []string{"ES256", "ES384", "ES512"}, hmacAlgorithms)
}

// Check validates the key against the algorithm (choosing it when empty) and the claims
// file, so that a bad key fails before any work. It returns the algorithm.
func (s Signing) Check() (string, error) {
	alg, err := s.algorithm()
	if err != nil {
		return "", err
	}
	if s.ClaimsFile != "" {
		cfg := bundle.NewSigningConfig("", alg, s.ClaimsFile)
		claims, err := cfg.GetClaims()
		if err != nil {
			return "", fmt.Errorf("claims file %s: %w", s.ClaimsFile, err)
		}
		if _, ok := claims["files"]; ok {
			return "", fmt.Errorf("claims file %s: the claim \"files\" is the bundle's own (the signed file digests)", s.ClaimsFile)
		}
	}
	return alg, nil
}

// algorithm returns s.Algorithm, or the one the key implies, after checking they fit.
func (s Signing) algorithm() (string, error) {
	block, _ := pem.Decode(s.Key)
	if block == nil {
		// Not PEM: an HMAC secret.
		if strings.Contains(string(s.Key), "-----BEGIN") {
			return "", errors.New("signing key: unreadable PEM block")
		}
		if len(s.Key) == 0 {
			return "", errors.New("signing key: the HMAC secret is empty")
		}
		switch {
		case s.Algorithm == "":
			return "HS256", nil
		case slices.Contains(hmacAlgorithms, s.Algorithm):
			return s.Algorithm, nil
		}
		return "", fmt.Errorf("signing key: %s needs a PEM private key; a file that is not PEM is an HMAC secret (HS256, HS384, HS512)", s.Algorithm)
	}
	key, err := privateKey(block)
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if s.Algorithm == "" {
			return "RS256", nil
		}
		if !slices.Contains(rsaAlgorithms, s.Algorithm) {
			return "", fmt.Errorf("signing key: an RSA key signs with %s, not %s", strings.Join(rsaAlgorithms, ", "), s.Algorithm)
		}
		return s.Algorithm, nil
	case *ecdsa.PrivateKey:
		curve := k.Curve.Params().Name
		alg, ok := ecAlgorithms[curve]
		if !ok {
			return "", fmt.Errorf("signing key: EC curve %s is not one JWS signs with (P-256, P-384, P-521)", curve)
		}
		if s.Algorithm != "" && s.Algorithm != alg {
			return "", fmt.Errorf("signing key: an EC key on %s signs with %s, not %s", curve, alg, s.Algorithm)
		}
		return alg, nil
	}
	return "", fmt.Errorf("signing key: unsupported key type %T (want an RSA or EC private key, or an HMAC secret)", key)
}

// privateKey parses a PEM block as OPA's signer will.
func privateKey(block *pem.Block) (any, error) {
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("the PEM block is a %s: signing needs the private key (give OPA the public one)", strings.ToLower(block.Type))
	}
	return nil, fmt.Errorf("unsupported PEM block %q (want RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY)", block.Type)
}

// Sign signs b with OPA's bundle signing code: .signatures.json then holds a JWT over the
// digests of data.json, the manifest and every module. RSA (PKCS #1 v1.5) and HMAC
// signatures are deterministic, so the archive stays byte-reproducible; ECDSA and RSA-PSS
// signatures are randomised, so only their payload is.
func Sign(b *bundle.Bundle, s Signing) error {
	alg, err := s.Check()
	if err != nil {
		return err
	}
	// OPA's signer reads a key that does not start with "-----BEGIN" as a file name when
	// such a file exists: hand it the PEM block alone, and refuse a secret that names a file.
	key := string(s.Key)
	if block, _ := pem.Decode(s.Key); block != nil {
		key = string(pem.EncodeToMemory(block))
	} else if _, err := os.Stat(key); !os.IsNotExist(err) {
		return errors.New("signing key: OPA's signer would read the HMAC secret as the name of a file; choose another secret")
	}
	// The signed file list follows the module order: sort it as Archive writes them.
	sort.Slice(b.Modules, func(i, j int) bool { return b.Modules[i].Path < b.Modules[j].Path })
	cfg := bundle.NewSigningConfig(key, alg, s.ClaimsFile)
	if err := b.GenerateSignature(cfg, s.KeyID, true); err != nil {
		return fmt.Errorf("sign bundle: %w", err)
	}
	return nil
}
