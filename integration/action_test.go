package integration

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
)

var expr = regexp.MustCompile(`\$\{\{\s*([a-z_.-]+)\s*\}\}`)

// TestActionScripts runs the shell steps of the composite action (action.yml) as GitHub
// would, with the ${{ ... }} expressions substituted: the build step builds and stamps
// agentctl; the install step installs a release from a local release directory (file://)
// only when its checksum matches, and falls back to the build when there is no release; the
// check step passes a clean policy, fails a bad one with an annotation and writes SARIF, and
// reports bad input with exit status 2.
func TestActionScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds agentctl; skipped with -short")
	}
	bash := testtool.Look(t, "bash")
	root := repoRoot(t)
	var a struct {
		Inputs map[string]struct {
			Default string `json:"default"`
		} `json:"inputs"`
		Runs struct {
			Using string `json:"using"`
			Steps []struct {
				ID   string            `json:"id"`
				Name string            `json:"name"`
				Env  map[string]string `json:"env"`
				Run  string            `json:"run"`
			} `json:"steps"`
		} `json:"runs"`
	}
	readYAML(t, filepath.Join(root, "action.yml"), &a)
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using = %q, want composite", a.Runs.Using)
	}
	steps := map[string]int{}
	for i, s := range a.Runs.Steps {
		steps[s.Name] = i
	}
	install, ok0 := steps["Install agentctl"]
	build, ok1 := steps["Build agentctl from source"]
	check, ok2 := steps["Check policies"]
	diffStep, ok3 := steps["Diff policies"]
	if !ok0 || !ok1 || !ok2 || !ok3 {
		t.Fatalf("action.yml lacks the Install agentctl, Build agentctl from source, Check policies or Diff policies step: %v", steps)
	}

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	env := append(os.Environ(), "GOBIN="+bin, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	// runStep runs a step's script with bash -e as GitHub does for `shell: bash`.
	runStep := func(i int, dir string, ctx map[string]string, extraEnv ...string) (string, int) {
		t.Helper()
		s := a.Runs.Steps[i]
		stepEnv := append(append([]string{}, env...), extraEnv...)
		for k, v := range s.Env {
			stepEnv = append(stepEnv, k+"="+expr.ReplaceAllStringFunc(v, func(m string) string {
				key := expr.FindStringSubmatch(m)[1]
				val, ok := ctx[key]
				if !ok {
					t.Fatalf("step %q uses %s, which the test does not provide", s.Name, key)
				}
				return val
			}))
		}
		cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", s.Run)
		cmd.Dir, cmd.Env = dir, stepEnv
		out, err := cmd.CombinedOutput()
		return string(out), exitCode(t, err)
	}

	out, code := runStep(build, root, map[string]string{"github.action_ref": "v9.9.9-test"})
	if code != 0 || !strings.HasPrefix(out, "agentctl v9.9.9-test") {
		t.Fatalf("build step exited %d, want 0 and the stamped version:\n%s", code, out)
	}

	inputs := func(over map[string]string) map[string]string {
		m := map[string]string{}
		for name, in := range a.Inputs {
			m["inputs."+name] = in.Default
		}
		for k, v := range over {
			m["inputs."+k] = v
		}
		return m
	}
	testInstall(t, runStep, install, inputs, filepath.Join(bin, "agentctl"))

	work := filepath.Join(tmp, "repo")
	copyFiles(t, filepath.Join(root, "scenarios", "secure-baseline"), filepath.Join(work, "agents"), ".cue")
	ghOutput := filepath.Join(tmp, "github_output")
	env = append(env, "GITHUB_OUTPUT="+ghOutput)

	// Clean policy, two directories given on separate lines as YAML block scalars give them.
	copyFiles(t, filepath.Join(root, "scenarios", "secure-baseline"), filepath.Join(work, "more"), ".cue")
	out, code = runStep(check, work, inputs(map[string]string{"directories": "agents\nmore\n"}))
	if code != 0 {
		t.Fatalf("clean policies: exit %d, want 0:\n%s", code, out)
	}
	if strings.Contains(out, "::error") {
		t.Errorf("clean policies produced error annotations:\n%s", out)
	}
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	sb, err := os.ReadFile(filepath.Join(work, "agentctl.sarif"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sb, &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 {
		t.Fatalf("agentctl.sarif is not a one-run SARIF 2.1.0 log (%v):\n%s", err, sb)
	}
	gho, _ := os.ReadFile(ghOutput)
	if string(gho) != "sarif-file=agentctl.sarif\njunit-file=\n" {
		t.Errorf("GITHUB_OUTPUT = %q", gho)
	}

	// Bad policy: AC050 fails the gate, annotated at its line, and is in the SARIF file.
	policyFile := filepath.Join(work, "agents", "policy.cue")
	pb, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, policyFile, strings.Replace(string(pb), "audit: {tool_calls: true", "audit: {tool_calls: false", 1))
	out, code = runStep(check, work, inputs(map[string]string{"directories": "agents", "sarif-file": "out.sarif"}))
	if code != 1 {
		t.Fatalf("bad policy: exit %d, want 1:\n%s", code, out)
	}
	if !regexp.MustCompile(`(?m)^::error file=agents/policy\.cue,line=\d+,col=\d+,title=AC050::`).MatchString(out) {
		t.Errorf("no AC050 error annotation:\n%s", out)
	}
	sb, err = os.ReadFile(filepath.Join(work, "out.sarif"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sb), `"ruleId": "AC050"`) {
		t.Errorf("out.sarif lacks the AC050 result:\n%s", sb)
	}

	// The repository configuration sets the threshold when the fail-on input is empty; the
	// JUnit report then has the finding as a passing case.
	writeFile(t, filepath.Join(work, ".agentctl.yaml"), "fail_on: critical\n")
	out, code = runStep(check, work, inputs(map[string]string{"directories": "agents", "junit-file": "report.xml"}))
	if code != 0 || !strings.Contains(out, "PASS  lint: ") {
		t.Errorf("fail_on: critical in .agentctl.yaml: exit %d, want 0 and a PASS verdict:\n%s", code, out)
	}
	if jb, err := os.ReadFile(filepath.Join(work, "report.xml")); err != nil || !strings.Contains(string(jb), `failures="0"`) || !strings.Contains(string(jb), `name="AC050 settings.audit.tool_calls"`) {
		t.Errorf("report.xml (%v):\n%s", err, jb)
	}
	if err := os.Remove(filepath.Join(work, ".agentctl.yaml")); err != nil {
		t.Fatal(err)
	}

	// fail-on critical lets the high finding through the lint gate (the check gate is off).
	out, code = runStep(check, work, inputs(map[string]string{"directories": "agents", "fail-on": "critical", "check": "false", "sarif-file": ""}))
	if code != 0 {
		t.Errorf("fail-on critical without check: exit %d, want 0:\n%s", code, out)
	}

	// A directory that does not exist is bad input: 2 wins over everything else.
	out, code = runStep(check, work, inputs(map[string]string{"directories": "agents missing"}))
	if code != 2 {
		t.Errorf("missing directory: exit %d, want 2:\n%s", code, out)
	}

	// The diff step on a pull request: markdown to the job summary, annotations on HEAD's
	// lines, and its own gate (none by default).
	gitBin := testtool.Look(t, "git")
	pr := filepath.Join(tmp, "pr")
	copyFiles(t, filepath.Join(root, "scenarios", "secure-baseline"), filepath.Join(pr, "agents"), ".cue")
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base"}} {
		cmd := exec.Command(gitBin, args...)
		cmd.Dir = pr
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	sha, err := exec.Command(gitBin, "-C", pr, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	prFile := filepath.Join(pr, "agents", "policy.cue")
	pb, err = os.ReadFile(prFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, prFile, strings.Replace(string(pb), "audit: {tool_calls: true", "audit: {tool_calls: false", 1))
	summary := filepath.Join(tmp, "summary.md")
	env = append(env, "GITHUB_STEP_SUMMARY="+summary)
	ctx := inputs(map[string]string{"directories": "agents"})
	ctx["github.event.pull_request.base.sha"] = strings.TrimSpace(string(sha))
	out, code = runStep(diffStep, pr, ctx)
	if code != 0 || !strings.Contains(out, "::notice file=agents/policy.cue,line=") || !strings.Contains(out, "title=diff/new-finding::high: AC050") {
		t.Errorf("diff step: exit %d, want 0 with annotations on agents/policy.cue:\n%s", code, out)
	}
	sm, _ := os.ReadFile(summary)
	if !strings.Contains(string(sm), "### agentctl diff `agents@") || !strings.Contains(string(sm), "| `~` | setting settings.audit.tool_calls: true -> false |") {
		t.Errorf("job summary lacks the diff:\n%s", sm)
	}
	ctx["inputs.diff-fail-on"] = "new-finding"
	out, code = runStep(diffStep, pr, ctx)
	if code != 1 || !regexp.MustCompile(`(?m)^::error file=agents/policy\.cue,line=\d+,col=1,title=diff/new-finding::`).MatchString(out) {
		t.Errorf("diff step with diff-fail-on new-finding: exit %d, want 1 with an error annotation:\n%s", code, out)
	}

	// Adoption, as docs/ci.md walks it, with every input at its default (directories ./...):
	// the first pull request adds the policy directories, the second makes a risky change
	// in a nested one.
	adopt := filepath.Join(tmp, "adopt")
	gitIn := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = adopt
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	writeFile(t, filepath.Join(adopt, "README.md"), "# agents\n")
	gitIn("init", "-q", "-b", "main")
	gitIn("add", "-A")
	gitIn("commit", "-q", "-m", "start")
	first := gitIn("rev-parse", "HEAD")
	writeAdoptionPolicies(t, root, adopt)
	gitIn("add", "-A")
	gitIn("commit", "-q", "-m", "add policies")
	second := gitIn("rev-parse", "HEAD")

	// First pull request: the check step finds every policy directory; the diff step
	// compares them with the empty policy (everything added) and its gate judges them.
	if err := os.Truncate(summary, 0); err != nil {
		t.Fatal(err)
	}
	ctx = inputs(nil)
	out, code = runStep(check, adopt, ctx)
	if code != 0 || !strings.Contains(out, "policies/agents: ok: ") || !strings.Contains(out, "policies/teams/ops: ok: ") {
		t.Errorf("first PR, check step: exit %d, want 0 with both policy directories:\n%s", code, out)
	}
	ctx["github.event.pull_request.base.sha"] = first
	ctx["inputs.diff-fail-on"] = "new-escalation,new-exfiltration,weaker-approval"
	out, code = runStep(diffStep, adopt, ctx)
	if code != 0 || !strings.Contains(out, "policies/teams/ops: no .cue files at "+first[:12]) {
		t.Errorf("first PR, diff step: exit %d, want 0 with the directories compared with the empty policy:\n%s", code, out)
	}
	sm, _ = os.ReadFile(summary)
	if !strings.Contains(string(sm), "| `+` | agent agents.deployer ") {
		t.Errorf("first PR: the job summary lacks the added agents:\n%s", sm)
	}

	// Second pull request: a delegating hand-off in the nested directory. The check step
	// fails on the lint finding, the diff step on the new escalation; both annotate the
	// nested file.
	opsFile := filepath.Join(adopt, "policies", "teams", "ops", "policy.cue")
	ob, err := os.ReadFile(opsFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, opsFile, string(ob)+"handoffs: [{from: \"reader\", to: \"deployer\", mode: \"delegate\"}]\n")
	gitIn("commit", "-q", "-am", "risky")
	out, code = runStep(check, adopt, inputs(nil))
	if code != 1 || !regexp.MustCompile(`(?m)^::error file=policies/teams/ops/policy\.cue,line=\d+,col=\d+,title=AC031::`).MatchString(out) {
		t.Errorf("second PR, check step: exit %d, want 1 with an AC031 annotation on the nested file:\n%s", code, out)
	}
	ctx["github.event.pull_request.base.sha"] = second
	out, code = runStep(diffStep, adopt, ctx)
	if code != 1 || !regexp.MustCompile(`(?m)^::error file=policies/teams/ops/policy\.cue,line=\d+,col=\d+,title=diff/new-escalation::`).MatchString(out) {
		t.Errorf("second PR, diff step: exit %d, want 1 with a new-escalation annotation on the nested file:\n%s", code, out)
	}
}

// writeAdoptionPolicies writes the policies of the adoption flow into repo: a clean
// policy with a scenario and a test in policies/agents, a small clean policy in the nested
// policies/teams/ops, and a README.md beside them.
func writeAdoptionPolicies(t *testing.T, _, repo string) {
	t.Helper()
	writeFile(t, filepath.Join(repo, "policies", "agents", "policy.cue"), `package agents

tools: kb: {auth: kind: "workload_identity", actions: {search: {effect: "read"}}}
agents: helper: {owner: "support", identity: spiffe_id: "spiffe://example.com/agents/helper", credential: ttl: "10m", grants: [{tool: "kb", actions: ["search"]}]}
scenarios: "helper-stays-in-the-kb": {
	start: "helper"
	expect: escalations: 0
}
tests: "helper-searches": {
	input: {agent: "helper", identity: "spiffe://example.com/agents/helper", tool: "kb", action: "search", now: "2026-01-01T00:00:00Z", credential: expires_at: "2026-01-01T00:05:00Z"}
	expect: outcome: "allow"
}
`)
	writeFile(t, filepath.Join(repo, "policies", "README.md"), "Agent policies, one directory each.\n")
	writeFile(t, filepath.Join(repo, "policies", "teams", "ops", "policy.cue"), `package ops

tools: deploy: {auth: kind: "workload_identity", actions: {status: {effect: "read"}, release: {effect: "write"}}}
agents: {
	reader: {owner: "ops", identity: spiffe_id: "spiffe://example.com/ops/reader", credential: ttl: "10m", grants: [{tool: "deploy", actions: ["status"]}]}
	deployer: {owner: "ops", identity: spiffe_id: "spiffe://example.com/ops/deployer", credential: ttl: "10m", grants: [{tool: "deploy", actions: ["release"], jit: true}]}
}
`)
}

// exitCode is the exit status of a finished command; it fails the test when the command could
// not run at all.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// stepRunner runs one step of the action (index, working directory, expression values,
// extra environment) and returns its output and exit status.
type stepRunner func(i int, dir string, ctx map[string]string, extraEnv ...string) (string, int)

// testInstall runs the action's install step against a release directory laid out as
// GoReleaser publishes one (.goreleaser.yaml: TAG/checksums.txt and
// TAG/agentctl_VERSION_OS_ARCH.tar.gz), served as file:// URLs, with binary (a built
// agentctl) in the archive.
func testInstall(t *testing.T, runStep stepRunner, install int, inputs func(map[string]string) map[string]string, binary string) {
	t.Helper()
	testtool.Look(t, "curl")
	testtool.Look(t, "tar")
	runnerOS := map[string]string{"linux": "Linux", "darwin": "macOS"}[runtime.GOOS]
	runnerArch := map[string]string{"amd64": "X64", "arm64": "ARM64"}[runtime.GOARCH]
	if runnerOS == "" || runnerArch == "" {
		t.Skipf("no release build for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	tmp := t.TempDir()
	releases := filepath.Join(tmp, "releases")
	tagDir := filepath.Join(releases, "v9.9.9")
	archive := fmt.Sprintf("agentctl_9.9.9_%s_%s.tar.gz", runtime.GOOS, runtime.GOARCH)
	stage := filepath.Join(tmp, "stage")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stage, "agentctl"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(stage, "README.md"), "# agentctl\n")
	if err := os.MkdirAll(tagDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-czf", filepath.Join(tagDir, archive), "-C", stage, "agentctl", "README.md").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	ab, err := os.ReadFile(filepath.Join(tagDir, archive))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(ab)
	good := fmt.Sprintf("%x  agentctl_9.9.9_windows_amd64.zip\n%x  %s\n", sha256.Sum256([]byte("other")), sum, archive)
	writeFile(t, filepath.Join(tagDir, "checksums.txt"), good)

	run := func(name, ref, version string) (out string, code int, outputs, path string) {
		t.Helper()
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(dir, "runner"), 0o755); err != nil {
			t.Fatal(err)
		}
		ghOut, ghPath := filepath.Join(dir, "output"), filepath.Join(dir, "path")
		ctx := inputs(map[string]string{"version": version, "release-url": "file://" + releases})
		ctx["github.action_ref"] = ref
		out, code = runStep(install, dir, ctx, "RUNNER_OS="+runnerOS, "RUNNER_ARCH="+runnerArch,
			"RUNNER_TEMP="+filepath.Join(dir, "runner"), "GITHUB_OUTPUT="+ghOut, "GITHUB_PATH="+ghPath)
		o, _ := os.ReadFile(ghOut)
		p, _ := os.ReadFile(ghPath)
		return out, code, string(o), string(p)
	}

	// The action pinned at a release tag installs that release, verified, on PATH.
	out, code, outputs, path := run("tag", "v9.9.9", "")
	if code != 0 || outputs != "build=false\n" || !strings.Contains(out, "agentctl v9.9.9-test") {
		t.Fatalf("install at v9.9.9: exit %d, outputs %q, want 0, build=false and the binary's version:\n%s", code, outputs, out)
	}
	if _, err := os.Stat(filepath.Join(strings.TrimSpace(path), "agentctl")); err != nil {
		t.Errorf("install at v9.9.9: GITHUB_PATH %q does not hold agentctl: %v", path, err)
	}
	// The version input names a release whatever the ref.
	if _, code, outputs, _ := run("input", "main", "v9.9.9"); code != 0 || outputs != "build=false\n" {
		t.Errorf("install with version v9.9.9: exit %d, outputs %q, want 0 and build=false", code, outputs)
	}

	// A branch or a commit, "source", and a release that is not published build from source.
	for _, c := range []struct{ name, ref, version string }{
		{"branch", "main", ""}, {"sha", "0123456789abcdef0123456789abcdef01234567", ""},
		{"source", "v9.9.9", "source"}, {"unpublished", "v9.9.8", ""},
	} {
		out, code, outputs, path := run(c.name, c.ref, c.version)
		if code != 0 || outputs != "build=true\n" || path != "" {
			t.Errorf("install (ref %q, version %q): exit %d, outputs %q, path %q, want 0, build=true and nothing on PATH:\n%s",
				c.ref, c.version, code, outputs, path, out)
		}
	}

	// A tampered archive (its checksum does not match) fails the step and installs nothing.
	writeFile(t, filepath.Join(tagDir, "checksums.txt"), strings.Replace(good, fmt.Sprintf("%x", sum), fmt.Sprintf("%x", sha256.Sum256([]byte("tampered"))), 1))
	out, code, outputs, path = run("tampered", "v9.9.9", "")
	if code != 1 || outputs != "" || path != "" || !strings.Contains(out, "::error title=agentctl::checksum mismatch for "+archive) {
		t.Errorf("install with a bad checksum: exit %d, outputs %q, path %q, want 1, an error annotation and nothing installed:\n%s", code, outputs, path, out)
	}
	// So does an archive checksums.txt does not list.
	writeFile(t, filepath.Join(tagDir, "checksums.txt"), fmt.Sprintf("%x  agentctl_9.9.9_windows_amd64.zip\n", sum))
	if out, code, _, path := run("unlisted", "v9.9.9", ""); code != 1 || path != "" || !strings.Contains(out, "checksums.txt of v9.9.9 says nothing") {
		t.Errorf("install of an unlisted archive: exit %d, path %q, want 1 and nothing installed:\n%s", code, path, out)
	}
	// A version that is neither a release tag nor "source" is bad input.
	if out, code, _, _ := run("bad", "main", "latest"); code != 2 || !strings.Contains(out, "is not a release tag") {
		t.Errorf("install with version latest: exit %d, want 2:\n%s", code, out)
	}
}
