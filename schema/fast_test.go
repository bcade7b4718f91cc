package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"

	"github.com/agentctl/agentctl/internal/gen"
)

// TestFastPathAgreesWithSchema holds the fast path to its promise: whenever it accepts a
// policy, unifying with the schema accepts it too and decodes to the same values. Valid
// policies must take the fast path (or it would be dead weight).
func TestFastPathAgreesWithSchema(t *testing.T) {
	valid := []string{"testdata/full", "testdata/minimal", "testdata/conditions"}
	// testtool.Examples would import this package: an import cycle.
	examples, _ := filepath.Glob("../scenarios/*")
	if len(examples) == 0 {
		t.Fatal("no example estates under ../scenarios")
	}
	valid = append(valid, examples...)
	generated := map[string]bool{}
	for _, seed := range []uint64{1, 2, 3} {
		dir := t.TempDir()
		if err := gen.WriteDir(dir, gen.Options{Agents: 60, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		valid = append(valid, dir)
		generated[dir] = true
	}
	bad, _ := filepath.Glob("../cmd/agentctl/testdata/bad/*")
	tricky := map[string]string{
		"null-owner":       `agents: a: {owner: null, grants: []}`,
		"upper-field":      `agents: a: {Owner: "x", grants: []}`,
		"identity-empty":   `agents: a: {identity: {}, grants: []}`,
		"auth-missing":     `tools: t: actions: r: effect: "read"`,
		"float-depth":      `settings: max_chain_depth: 2.5`,
		"zero-approvers":   `approvals: r: require: {approvers: 0, role: "x"}`,
		"role-missing":     `approvals: r: match: {}`,
		"threshold-half":   `approvals: r: {threshold: attribute: "amount", require: role: "x"}`,
		"scenario-nostart": `scenarios: s: description: "x"`,
		"test-noexpect":    `tests: t: input: agent: "a"`,
		"bad-ttl":          `agents: a: {credential: ttl: "soon", grants: []}`,
		"bad-effect-match": `approvals: r: {match: effects: ["pay"], require: role: "x"}`,
		"neg-escalations":  `agents: a: grants: [], scenarios: s: {start: "a", expect: escalations: -1}`,
		"session-zero":     `agents: a: {session: max_actions: 0, grants: []}`,
		"top-level-extra":  `agents: {}, extra: 1`,
		"int-float-clash":  `settings: max_chain_depth: 2, settings: max_chain_depth: 2.0`,
		"hex-number":       `settings: max_chain_depth: 0x2`,
		"list-length":      `agents: a: grants: [], agents: a: grants: [{tool: "t", actions: ["r"]}]`,
		"optional-marker":  `agents: a?: grants: []`,
		"bytes-owner":      `agents: a: {owner: 'x', grants: []}`,
		"raw-bytes-owner":  `agents: a: {owner: #'x'#, grants: []}`,
		"multiline":        "agents: a: {description: \"\"\"\n\tline\n\t\"\"\", grants: []}",
		"pin-no-hints":     `tools: t: {auth: kind: "static_key", actions: r: {effect: "read", pin: {tool: "r", description: "%[1]s", input_schema: "%[1]s"}}}`,
		"pin-short-hash":   `tools: t: {auth: kind: "static_key", actions: r: {effect: "read", pin: {tool: "r", description: "sha256:00", input_schema: "%[1]s", hints: {read_only: true, destructive: true, idempotent: true, open_world: true}}}}`,
		"pin-hint-missing": `tools: t: {auth: kind: "static_key", actions: r: {effect: "read", pin: {tool: "r", description: "%[1]s", input_schema: "%[1]s", hints: {read_only: true, destructive: true, idempotent: true}}}}`,
		"pin-no-tool":      `tools: t: {auth: kind: "static_key", actions: r: {effect: "read", pin: {description: "%[1]s", input_schema: "%[1]s", hints: {read_only: true, destructive: true, idempotent: true, open_world: true}}}}`,
		"escaped-null":     `agents: a: {description: "x:null", grants: []}`,
		"negative-ttl":     `agents: a: {credential: ttl: "-1h", grants: []}`,
		"zero-ttl":         `settings: max_credential_ttl: "0s"`,
		"plus-zero":        `tools: t: {auth: {kind: "static_key", ttl: "+0h0m"}, actions: {}}`,
		"sub-ns-duration":  `agents: a: {session: max_duration: "0.5ns", grants: []}`,
		"negative-timeout": `approvals: r: {timeout: "-2h", require: role: "x"}`,
		"count-max":        `approvals: r: require: {approvers: 2147483647, role: "x"}`,
		"count-over":       `agents: a: {session: max_actions: 2147483648, grants: []}`,
		"count-huge":       `agents: a: grants: [], scenarios: s: {start: "a", expect: escalations: 99999999999999999999999}`,
		"above-bound":      `approvals: r: {threshold: {attribute: "x", above: -1e300}, require: role: "x"}`,
		"above-over-bound": `approvals: r: {threshold: {attribute: "x", above: 1.0000000000000000001e300}, require: role: "x"}`,
		"above-huge":       `approvals: r: {threshold: {attribute: "x", above: 1e400}, require: role: "x"}`,
		"input-huge":       `tests: t: {input: attributes: amount: 1e400, expect: outcome: "allow"}`,
		"argument-empty":   `tools: t: {auth: kind: "workload_identity", actions: r: {effect: "read", arguments: resource: ""}}`,
		"argument-dots":    `tools: t: {auth: kind: "workload_identity", actions: r: {effect: "read", arguments: attributes: n: "a..b"}}`,
		"argument-extra":   `tools: t: {auth: kind: "workload_identity", actions: r: {effect: "read", arguments: resources: "a"}}`,
		"flow-on-egress":   `settings: flow: on_egress: "block"`,
		"flow-approvers":   `settings: flow: approvers: 0`,
		"flow-exempt-int":  `agents: a: {flow_exempt: 1, grants: []}`,
		"enum-empty-expr":  `agents: a: {autonomy: "" + "", grants: []}`,
		"kind-empty-expr":  `_e: "", agents: a: {credential: kind: _e, grants: []}`,
		"test-no-input":    `tests: t: expect: outcome: "allow"`,
		"test-empty-input": `tests: t: {input: {}, expect: outcome: "allow"}`,
		"spiffe-dots":      `agents: a: {identity: spiffe_id: "spiffe://a_b-c.d/.x/x./.../A_Z-0.9", grants: []}`,
		"spiffe-control":   `agents: a: {identity: spiffe_id: "spiffe://td/a\u0000", grants: []}`,
		"spiffe-dot-seg":   `agents: a: {identity: spiffe_id: "spiffe://td/a/./b", grants: []}`,
		"spiffe-no-path":   `agents: a: {identity: spiffe_id: "spiffe://td", grants: []}`,
	}
	var dirs []string
	for name, src := range tricky {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(src, "%[1]s") {
			src = fmt.Sprintf(src, "sha256:"+strings.Repeat("0", 64))
		}
		if err := os.WriteFile(filepath.Join(dir, "p.cue"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	dirs = append(append(dirs, bad...), valid...)
	isValid := map[string]bool{}
	for _, d := range valid {
		isValid[d] = true
	}
	for _, dir := range dirs {
		l := &loader{dir: dir}
		files, errs := l.parseFiles()
		if len(errs) > 0 {
			if isValid[dir] {
				t.Errorf("%s: valid policy does not parse: %v", dir, errs)
			}
			continue // never reaches evaluation
		}
		ctx := cuecontext.New()
		inst := build.NewContext().NewInstance(dir, nil)
		for _, f := range files {
			if err := inst.AddSyntax(f); err != nil {
				t.Fatal(err)
			}
		}
		user := ctx.BuildInstance(inst)
		slow, errs := l.schemaPath(ctx, user)
		fast, fastOK := fastPath(user)
		fastOK = fastOK && !mayHoldBytes(files)
		var lit *rawPolicy
		data, litOK := literalJSON(files)
		if litOK {
			lit, litOK = decodeStrict(data)
		}
		if isValid[dir] && (!fastOK || len(errs) > 0) {
			t.Errorf("%s: valid policy: fast path ok=%v, schema errors: %v", dir, fastOK, errs)
			continue
		}
		if generated[dir] && !litOK {
			t.Errorf("%s: a generated estate is plain data but missed the literal path", dir)
		}
		for _, path := range []struct {
			name string
			ok   bool
			raw  *rawPolicy
		}{{"fast", fastOK, fast}, {"literal", litOK, lit}} {
			if !path.ok {
				continue
			}
			if len(errs) > 0 {
				t.Errorf("%s: %s path accepted what the schema rejects:\n%v", dir, path.name, errs)
				continue
			}
			if !reflect.DeepEqual(path.raw, slow) && jsonOf(exactNumbers(path.raw)) != jsonOf(exactNumbers(slow)) {
				t.Errorf("%s: %s path decoded differently from the schema:\n%s: %s\nschema: %s", dir, path.name, path.name, jsonOf(path.raw), jsonOf(slow))
			}
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// exactNumbers rewrites the numbers of test inputs, which both paths keep as json.Number
// for the builder to bound, in one notation: CUE writes 1e400 as 1E+400.
func exactNumbers(raw *rawPolicy) *rawPolicy {
	var norm func(v any) any
	norm = func(v any) any {
		switch v := v.(type) {
		case json.Number:
			f, _, err := big.ParseFloat(string(v), 10, 1000, big.ToNearestEven)
			if err != nil {
				return v
			}
			return json.Number(f.Text('g', -1))
		case map[string]any:
			for k, e := range v {
				v[k] = norm(e)
			}
		case []any:
			for i, e := range v {
				v[i] = norm(e)
			}
		}
		return v
	}
	for _, t := range raw.Tests {
		norm(t.Input)
	}
	return raw
}

// TestSpiffeID holds #SpiffeID (schema.cue) and its Go mirror to the character sets of the
// SPIFFE ID specification, on the same vectors.
func TestSpiffeID(t *testing.T) {
	long := strings.Repeat("a", 255)
	cases := map[string]bool{
		"spiffe://acme.example/agents/billing":        true,
		"spiffe://k8s-west.example.com/ns/staging/sa": true,
		"spiffe://a_b-c.d/.x/x./.../A_Z-0.9":          true,
		"spiffe://" + long + "/p":                     true,
		"spiffe://" + long + "a/p":                    false, // trust domain over 255 bytes
		"spiffe://acme.example":                       false, // agentctl wants a workload path
		"spiffe://acme.example/":                      false,
		"spiffe://acme.example/a/":                    false,
		"spiffe://acme.example//a":                    false,
		"spiffe://acme.example/./a":                   false,
		"spiffe://acme.example/a/..":                  false,
		"spiffe://Acme.example/a":                     false,
		"spiffe://acme.example:443/a":                 false,
		"spiffe://user@acme.example/a":                false,
		"spiffe://acme.example/a\x07":                 false,
		"spiffe://acme.example/a\nb":                  false,
		"spiffe://acme.example/a%20b":                 false,
		"spiffe://acme.example/a?q":                   false,
		"spiffe://acme.example/ä":                     false,
		"SPIFFE://acme.example/a":                     false,
		"https://acme.example/a":                      false,
	}
	ctx := cuecontext.New()
	def := ctx.CompileBytes(Source).LookupPath(cue.ParsePath("#SpiffeID"))
	for id, want := range cases {
		if got := spiffeRE.MatchString(id); got != want {
			t.Errorf("Go: %q: match %v, want %v", id, got, want)
		}
		if got := def.Unify(ctx.Encode(id)).Validate() == nil; got != want {
			t.Errorf("schema: %q: accepted %v, want %v", id, got, want)
		}
	}
}
