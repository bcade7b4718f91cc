// Package compile turns a policy into an OPA bundle: a fixed, hand-written Rego library
// (package agentctl, entrypoint agentctl/decision), data.json compiled from the model,
// a .manifest owning the "agentctl" root, and Rego tests generated from the policy's tests.
package compile

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/agentctl/agentctl/policy"
)

// Library is the Rego library every bundle carries.
//
//go:embed rego/agentctl.rego
var Library []byte

// Bundle layout.
const (
	Root          = "agentctl"
	ModelRoot     = "agentctl_model"
	Entrypoint    = "agentctl/decision"
	Query         = "data.agentctl.decision"
	LibraryPath   = "agentctl/decision.rego"
	TestsPath     = "agentctl/policy_test.rego"
	regoVersionV1 = 1
)

// Bundle compiles p into an OPA bundle. The result is deterministic: the same policy gives
// the same bundle, byte for byte, once archived.
func Bundle(p *policy.Policy) (*bundle.Bundle, error) {
	data, err := dataDocument(p)
	if err != nil {
		return nil, err
	}
	files := []struct {
		path string
		raw  []byte
	}{{LibraryPath, Library}}
	if len(p.Tests) > 0 {
		src, err := testsModule(p)
		if err != nil {
			return nil, err
		}
		files = append(files, struct {
			path string
			raw  []byte
		}{TestsPath, src})
	}
	b := &bundle.Bundle{Data: data}
	for _, f := range files {
		m, err := ast.ParseModuleWithOpts(f.path, string(f.raw), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f.path, err)
		}
		b.Modules = append(b.Modules, bundle.ModuleFile{URL: "/" + f.path, Path: "/" + f.path, Raw: f.raw, Parsed: m})
	}
	rev, err := revision(b)
	if err != nil {
		return nil, err
	}
	roots := []string{Root, ModelRoot}
	version := regoVersionV1
	b.Manifest = bundle.Manifest{Revision: rev, Roots: &roots, RegoVersion: &version}
	b.Manifest.Metadata = map[string]any{"entrypoint": Entrypoint}
	return b, nil
}

// Archive returns the bundle as a reproducible .tar.gz.
func Archive(b *bundle.Bundle) ([]byte, error) {
	var buf bytes.Buffer
	mods := slices.Clone(b.Modules)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	c := *b
	c.Modules = mods
	if err := bundle.NewWriter(&buf).UseModulePath(true).DisableFormat(true).Write(c); err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	return buf.Bytes(), nil
}

// revision is the SHA-256 of the bundle's content (data and modules), so two bundles share
// a revision exactly when they hold the same policy.
func revision(b *bundle.Bundle) (string, error) {
	h := sha256.New()
	data, err := json.Marshal(b.Data)
	if err != nil {
		return "", fmt.Errorf("hash data: %w", err)
	}
	fmt.Fprintf(h, "data.json\x00%d\x00", len(data))
	h.Write(data)
	for _, m := range b.Modules {
		fmt.Fprintf(h, "%s\x00%d\x00", m.Path, len(m.Raw))
		h.Write(m.Raw)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
