// Package testtool provides the external programs and files tests need (opa, cue, dot,
// pre-commit, the SARIF schema). A test that cannot get one skips with a message, unless
// AGENTCTL_REQUIRE_ALL=1 (exported by .ci/run) turns the skip into a failure so that this
// project's CI never silently skips it. The switch is the project's own: GitHub Actions and
// GitLab set CI=true in every job, and a fork's CI lacks files that live beside this checkout.
package testtool

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xeipuuv/gojsonschema"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/schema"
)

// RequireAllEnv names the switch that turns skips into failures: AGENTCTL_REQUIRE_ALL=1.
const RequireAllEnv = "AGENTCTL_REQUIRE_ALL"

// RequireAll reports whether every external program and file must be present
// (AGENTCTL_REQUIRE_ALL=1).
func RequireAll() bool { return os.Getenv(RequireAllEnv) == "1" }

// SkipOrFail skips the test, or fails it when RequireAll.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if RequireAll() {
		t.Fatalf(format+" ("+RequireAllEnv+"=1 requires it)", args...)
	}
	t.Skipf(format+" (skipped; "+RequireAllEnv+"=1 makes this a failure)", args...)
}

// Look returns the path of an installed program (from Debian's packages, say).
func Look(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		SkipOrFail(t, "%s is not installed (.ci/run installs it): %v", name, err)
	}
	return p
}

// Go builds a main package of a module this repository requires as a tool (go.mod's tool
// directives pin opa and cue) and returns the binary. Binaries are cached under
// os.TempDir() keyed by go.sum, so the first build (OPA: about 1.5 minutes) happens once per
// machine and dependency set.
func Go(t testing.TB, pkg string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(append([]byte(pkg+"\n"), sum...))
	bin := filepath.Join(os.TempDir(), "agentctl-tools", hex.EncodeToString(h[:8]), path.Base(pkg))
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tmp := fmt.Sprintf("%s.%d", bin, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, pkg)
	cmd.Dir = root
	t.Logf("building %s (cached for later runs)", pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		SkipOrFail(t, "build %s: %v\n%s", pkg, err, out)
	}
	// Rename is atomic: concurrent test binaries never see a half-written file.
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// SyncBuffer is a bytes.Buffer that a process or goroutine writes while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// SARIFSchema is where SARIFErrors reads the official SARIF 2.1.0 JSON schema, relative to
// the repository root (the CI workflow downloads it there).
const SARIFSchema = "../shared/testdata/sarif-schema-2.1.0.json"

// SARIFErrors validates a SARIF log against the official SARIF 2.1.0 schema, which lives in
// ../shared/testdata beside the repository and is never copied into it. It skips when the
// schema is missing (a fork's CI, a fresh clone), except when RequireAll.
func SARIFErrors(t testing.TB, log []byte) []string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(SARIFSchema)))
	if err != nil {
		SkipOrFail(t, "the official SARIF 2.1.0 schema is not beside this checkout: %v", err)
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewBytesLoader(log))
	if err != nil {
		t.Fatalf("validate SARIF: %v", err)
	}
	var errs []string
	for _, e := range res.Errors() {
		errs = append(errs, e.String())
	}
	return errs
}

// Golden compares got with the golden file at path, or rewrites the file when update is set
// (each package's -update flag).
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got\n%s\nwant\n%s", path, got, want)
	}
}

// Example is one bundled example estate under scenarios/, loaded.
type Example struct {
	Dir    string
	Policy *policy.Policy
}

// Examples loads every example estate, in directory order; it fails the test when there is
// none or one does not load.
func Examples(t testing.TB) []Example {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join(root, "scenarios", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Example
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		out = append(out, Example{Dir: dir, Policy: Load(t, dir)})
	}
	if len(out) == 0 {
		t.Fatal("no example estates under scenarios/")
	}
	return out
}

// Load loads the policy in dir; it fails the test when the policy does not load.
func Load(t testing.TB, dir string) *policy.Policy {
	t.Helper()
	p, err := schema.Load(dir)
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	return p
}

// NPMPrefixEnv names the directory .ci/run installs npm packages into (npm install --prefix
// DIR), for tests that run a real MCP server.
const NPMPrefixEnv = "AGENTCTL_NPM_PREFIX"

// NPMBin returns the executable NAME that an npm package installed under $AGENTCTL_NPM_PREFIX
// provides (node_modules/.bin/NAME), or an error saying why there is none. Callers skip on
// the error, or fail when RequireAll.
func NPMBin(name string) (string, error) {
	prefix := os.Getenv(NPMPrefixEnv)
	if prefix == "" {
		return "", fmt.Errorf("%s is not set (.ci/run installs the npm packages tests need and sets it)", NPMPrefixEnv)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node is not installed: %w", err)
	}
	bin := filepath.Join(prefix, "node_modules", ".bin", name)
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("npm package executable %s: %w", name, err)
	}
	return bin, nil
}
