package testtool

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// recorder is a testing.TB whose Skipf and Fatalf record the outcome and stop the
// goroutine, as the testing package does, without ending the real test.
type recorder struct {
	testing.TB
	outcome string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.outcome = "skip: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.outcome = "fail: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// outcome runs f on a recorder in its own goroutine and returns how it ended.
func outcome(t *testing.T, f func(testing.TB)) string {
	r := &recorder{TB: t, outcome: "pass"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.outcome
}

// TestSwitch: GitHub Actions and GitLab set CI=true in every job, so CI=true alone must not
// turn a missing program into a failure (a fork's CI would fail); AGENTCTL_REQUIRE_ALL=1 does.
func TestSwitch(t *testing.T) {
	missing := func(tb testing.TB) { Look(tb, "agentctl-no-such-program") }
	for _, tc := range []struct{ ci, require, want string }{
		{"true", "", "skip: agentctl-no-such-program is not installed (.ci/run installs it): " +
			`exec: "agentctl-no-such-program": executable file not found in $PATH (skipped; AGENTCTL_REQUIRE_ALL=1 makes this a failure)`},
		{"", "", "skip: agentctl-no-such-program is not installed (.ci/run installs it): " +
			`exec: "agentctl-no-such-program": executable file not found in $PATH (skipped; AGENTCTL_REQUIRE_ALL=1 makes this a failure)`},
		{"true", "1", "fail: agentctl-no-such-program is not installed (.ci/run installs it): " +
			`exec: "agentctl-no-such-program": executable file not found in $PATH (AGENTCTL_REQUIRE_ALL=1 requires it)`},
		{"", "1", "fail: agentctl-no-such-program is not installed (.ci/run installs it): " +
			`exec: "agentctl-no-such-program": executable file not found in $PATH (AGENTCTL_REQUIRE_ALL=1 requires it)`},
	} {
		t.Setenv("CI", tc.ci)
		t.Setenv(RequireAllEnv, tc.require)
		if got := outcome(t, missing); got != tc.want {
			t.Errorf("CI=%q %s=%q:\ngot  %s\nwant %s", tc.ci, RequireAllEnv, tc.require, got, tc.want)
		}
	}
}

// TestSARIFSchemaMissing: a checkout without the shared SARIF schema beside it (a fork)
// skips the SARIF validation with a message, even under CI=true.
func TestSARIFSchemaMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/fork\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Setenv("CI", "true")
	t.Setenv(RequireAllEnv, "")
	want := "skip: the official SARIF 2.1.0 schema is not beside this checkout: open " +
		filepath.Join(dir, "..", "shared", "testdata", "sarif-schema-2.1.0.json") +
		": no such file or directory (skipped; AGENTCTL_REQUIRE_ALL=1 makes this a failure)"
	if got := outcome(t, func(tb testing.TB) { SARIFErrors(tb, []byte("{}")) }); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	t.Setenv(RequireAllEnv, "1")
	if got := outcome(t, func(tb testing.TB) { SARIFErrors(tb, []byte("{}")) }); got[:5] != "fail:" {
		t.Errorf("with %s=1: %s, want a failure", RequireAllEnv, got)
	}
}
