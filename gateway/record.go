package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Record is a task record: the signed statement of the gateway that a task exists and which
// hand-offs led it to the agent holding it. The gateway issues one when a task starts (chain
// [agent]) and one per hand-off (the sender's chain plus the receiver), and takes `chain`
// and `task` of every request from the record the caller presents, never from the caller.
type Record struct {
	Issuer   string         `json:"iss"`
	Task     string         `json:"task"`
	Chain    []string       `json:"chain"`          // originator first; the last is the holder
	Flow     map[string]any `json:"flow,omitempty"` // the task's labels when it was handed over
	IssuedAt int64          `json:"iat"`
	Expires  int64          `json:"exp"`
}

// Holder is the agent the record entitles to act on the task.
func (r *Record) Holder() string { return r.Chain[len(r.Chain)-1] }

// Signer signs and verifies task records with an ECDSA P-256 key (JWS, ES256).
type Signer struct {
	key *ecdsa.PrivateKey
	TTL time.Duration // how long a record is accepted after it was issued

	// verified caches records whose signature verified, by their exact token: an agent
	// presents the same record with every call, and verifying it costs as much as a
	// decision. Bounded: emptied when full.
	mu       sync.Mutex
	verified map[string]*Record
}

const maxVerified = 10000

// RecordIssuer is the records' iss.
const RecordIssuer = "agentctl-gateway"

// NewSigner generates a key: records then verify only in this process.
func NewSigner(ttl time.Duration) (*Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Signer{key: k, TTL: ttl}, nil
}

// LoadSigner reads a PEM EC P-256 private key (SEC 1 or PKCS #8), the key every replica of a
// deployment shares.
func LoadSigner(path string, ttl time.Duration) (*Signer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var k any
	if k, err = x509.ParseECPrivateKey(b.Bytes); err != nil {
		if k, err = x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
			return nil, fmt.Errorf("%s: not an EC private key: %w", path, err)
		}
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: want an EC P-256 private key", path)
	}
	return &Signer{key: ek, TTL: ttl}, nil
}

// NewTask issues the record of a new task started by agent.
func (s *Signer) NewTask(agent string, now time.Time) (Record, string, error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Record{}, "", err
	}
	r := Record{Task: "t-" + hex.EncodeToString(id[:]), Chain: []string{agent}}
	tok, err := s.Sign(&r, now)
	return r, tok, err
}

// Sign fills the record's issuer and times and returns its compact JWS.
func (s *Signer) Sign(r *Record, now time.Time) (string, error) {
	r.Issuer, r.IssuedAt, r.Expires = RecordIssuer, now.Unix(), now.Add(s.TTL).Unix()
	payload, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	// go-jose, the JOSE library go-spiffe verifies JWT-SVIDs with: one in the binary.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key}, nil)
	if err != nil {
		return "", fmt.Errorf("sign task record: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign task record: %w", err)
	}
	return obj.CompactSerialize()
}

// Errors of Verify; the message says which.
var errRecord = errors.New("task record refused")

// Verify checks the record's signature, issuer and lifetime and returns it.
func (s *Signer) Verify(token string, now time.Time) (*Record, error) {
	s.mu.Lock()
	r := s.verified[token]
	s.mu.Unlock()
	if r == nil {
		var payload []byte
		obj, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
		if err == nil {
			payload, err = obj.Verify(&s.key.PublicKey)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: the signature does not verify (forged, altered or issued by another gateway key)", errRecord)
		}
		r = &Record{}
		if err := json.Unmarshal(payload, r); err != nil {
			return nil, fmt.Errorf("%w: %v", errRecord, err)
		}
		if r.Issuer != RecordIssuer || r.Task == "" || len(r.Chain) == 0 {
			return nil, fmt.Errorf("%w: not a task record", errRecord)
		}
		s.mu.Lock()
		if len(s.verified) >= maxVerified || s.verified == nil {
			s.verified = map[string]*Record{}
		}
		s.verified[token] = r
		s.mu.Unlock()
	}
	if now.Unix() >= r.Expires {
		return nil, fmt.Errorf("%w: expired at %s", errRecord, time.Unix(r.Expires, 0).UTC().Format(time.RFC3339))
	}
	return r, nil
}
