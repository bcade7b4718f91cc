package integration

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/encoding/yaml"
)

// workflow is the part of a GitHub Actions workflow file the test reads.
type workflow struct {
	On   map[string]any `json:"on"`
	Jobs map[string]struct {
		Needs any               `json:"needs"`
		Uses  string            `json:"uses"`
		Env   map[string]string `json:"env"`
		Steps []step            `json:"steps"`
	} `json:"jobs"`
}

type step struct {
	Name string            `json:"name"`
	Uses string            `json:"uses"`
	Run  string            `json:"run"`
	Env  map[string]string `json:"env"`
	With map[string]any    `json:"with"`
}

// readWorkflow decodes a workflow file.
func readWorkflow(t *testing.T, path string) workflow {
	t.Helper()
	var w workflow
	readYAML(t, path, &w)
	return w
}

// readYAML decodes a YAML file into v (json field tags) through CUE's YAML encoding
// (YAML 1.2: `on` stays a key), the one YAML reader of the project.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := yaml.Extract(path, src)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := cuecontext.New().BuildFile(f).Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readmeTestCommand is the test command of the README's first code block: the line that
// runs `go test`, without its comment.
func readmeTestCommand(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	fenced := false
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "```") {
			if fenced {
				break // only the first block
			}
			fenced = true
			continue
		}
		if fenced && strings.HasPrefix(line, "go test") {
			cmd, _, _ := strings.Cut(line, "#")
			return strings.TrimSpace(cmd)
		}
	}
	t.Fatal("README.md: no `go test` line in the first code block")
	return ""
}

// npmPackages lists the package@version arguments of the npm install commands in a script
// (continuation lines joined).
func npmPackages(script string) []string {
	var pkgs []string
	for _, cmd := range strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n") {
		f := strings.Fields(cmd)
		if len(f) < 2 || f[0] != "npm" || f[1] != "install" {
			continue
		}
		for _, a := range f[2:] {
			if strings.LastIndex(a, "@") > 0 && !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "$") && !strings.HasPrefix(a, `"`) {
				pkgs = append(pkgs, a)
			}
		}
	}
	return pkgs
}

// TestWorkflows keeps .github/workflows in step with the README and the action: CI runs the
// README's test command with Graphviz and pre-commit installed and nothing skipped, then the
// repository's own action.yml on scenarios/secure-baseline; a tag runs CI, then GoReleaser
// with .goreleaser.yaml.
func TestWorkflows(t *testing.T) {
	root := repoRoot(t)
	testCmd := readmeTestCommand(t, root)

	ci := readWorkflow(t, filepath.Join(root, ".github", "workflows", "ci.yml"))
	for _, ev := range []string{"push", "pull_request", "workflow_call"} {
		if _, ok := ci.On[ev]; !ok {
			t.Errorf("ci.yml: not run on %s", ev)
		}
	}
	var ranTests, installed, ranAction bool
	for name, job := range ci.Jobs {
		installedHere := false
		for _, s := range job.Steps {
			if strings.Contains(s.Run, "graphviz") && strings.Contains(s.Run, "pre-commit") {
				installedHere = true
			}
			if slices.Contains(strings.Split(s.Run, "\n"), testCmd) {
				ranTests = true
				installed = installedHere
				if s.Env["AGENTCTL_REQUIRE_ALL"] != "1" && job.Env["AGENTCTL_REQUIRE_ALL"] != "1" {
					t.Errorf("ci.yml job %s: %q runs without AGENTCTL_REQUIRE_ALL=1, so missing programs are skipped", name, testCmd)
				}
			}
			if s.Uses == "./" {
				ranAction = true
				if d := s.With["directories"]; d != "scenarios/secure-baseline" {
					t.Errorf("ci.yml job %s: the action runs on %v, want scenarios/secure-baseline", name, d)
				}
			}
		}
	}
	// What .ci/run installs from npm, ci.yml installs too, at the same versions.
	ciRun, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	var ciSteps strings.Builder
	for _, job := range ci.Jobs {
		for _, s := range job.Steps {
			ciSteps.WriteString(s.Run + "\n")
		}
	}
	for _, pkg := range npmPackages(string(ciRun)) {
		if !slices.Contains(npmPackages(ciSteps.String()), pkg) {
			t.Errorf("ci.yml does not npm install %s, which .ci/run installs", pkg)
		}
	}
	if !ranTests {
		t.Errorf("ci.yml: no step runs the README's test command %q", testCmd)
	} else if !installed {
		t.Errorf("ci.yml: the job running %q does not install graphviz and pre-commit before it", testCmd)
	}
	if !ranAction {
		t.Error("ci.yml: no step uses the repository's own action (uses: ./)")
	}
	if _, err := os.Stat(filepath.Join(root, "action.yml")); err != nil {
		t.Errorf("uses: ./ needs action.yml at the repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "scenarios", "secure-baseline")); err != nil {
		t.Errorf("the action's example estate: %v", err)
	}

	rel := readWorkflow(t, filepath.Join(root, ".github", "workflows", "release.yml"))
	push, _ := rel.On["push"].(map[string]any)
	if tags, _ := push["tags"].([]any); len(tags) == 0 {
		t.Errorf("release.yml: not run on pushed tags (on: %v)", rel.On)
	}
	var released bool
	for name, job := range rel.Jobs {
		for _, s := range job.Steps {
			if !strings.HasPrefix(s.Uses, "goreleaser/goreleaser-action@") {
				continue
			}
			released = true
			args, _ := s.With["args"].(string)
			if !strings.HasPrefix(args, "release ") || !strings.Contains(args, "--config .goreleaser.yaml") {
				t.Errorf("release.yml job %s: goreleaser args %q, want release ... --config .goreleaser.yaml", name, args)
			}
			if s.Env["GITHUB_TOKEN"] == "" {
				t.Errorf("release.yml job %s: goreleaser has no GITHUB_TOKEN", name)
			}
			// The release waits for a job that runs ci.yml on the tag.
			needs, _ := job.Needs.(string)
			if dep, ok := rel.Jobs[needs]; !ok || dep.Uses != "./.github/workflows/ci.yml" {
				t.Errorf("release.yml job %s: needs %v, want a job running ./.github/workflows/ci.yml", name, job.Needs)
			}
		}
	}
	if !released {
		t.Error("release.yml: no step uses goreleaser/goreleaser-action")
	}
	if _, err := os.Stat(filepath.Join(root, ".goreleaser.yaml")); err != nil {
		t.Errorf("release.yml names .goreleaser.yaml: %v", err)
	}
	releaseMatchesAction(t, root)
}

// releaseMatchesAction holds the action's install step to what .goreleaser.yaml publishes:
// the release URL of the repository it releases to, the archive names and formats, the
// checksums file, the targets; and the source fallback to Go's module cache.
func releaseMatchesAction(t *testing.T, root string) {
	var gr struct {
		ProjectName string `json:"project_name"`
		Builds      []struct {
			Goos   []string `json:"goos"`
			Goarch []string `json:"goarch"`
		} `json:"builds"`
		Archives []struct {
			Formats         []string `json:"formats"`
			NameTemplate    string   `json:"name_template"`
			FormatOverrides []struct {
				Goos    string   `json:"goos"`
				Formats []string `json:"formats"`
			} `json:"format_overrides"`
		} `json:"archives"`
		Checksum struct {
			NameTemplate string `json:"name_template"`
			Algorithm    string `json:"algorithm"`
		} `json:"checksum"`
		Release struct {
			GitHub struct {
				Owner string `json:"owner"`
				Name  string `json:"name"`
			} `json:"github"`
		} `json:"release"`
	}
	readYAML(t, filepath.Join(root, ".goreleaser.yaml"), &gr)
	var a struct {
		Inputs map[string]struct {
			Default string `json:"default"`
		} `json:"inputs"`
		Runs struct {
			Steps []step `json:"steps"`
		} `json:"runs"`
	}
	readYAML(t, filepath.Join(root, "action.yml"), &a)
	var install string
	var setupGo *step
	for i, s := range a.Runs.Steps {
		if s.Name == "Install agentctl" {
			install = s.Run
		}
		if strings.HasPrefix(s.Uses, "actions/setup-go@") {
			setupGo = &a.Runs.Steps[i]
		}
	}
	if want := "https://github.com/" + gr.Release.GitHub.Owner + "/" + gr.Release.GitHub.Name + "/releases/download"; a.Inputs["release-url"].Default != want {
		t.Errorf("action.yml: release-url defaults to %q, .goreleaser.yaml releases to %s", a.Inputs["release-url"].Default, want)
	}
	if len(gr.Archives) != 1 || gr.ProjectName != "agentctl" ||
		gr.Archives[0].NameTemplate != "{{ .ProjectName }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}" ||
		!slices.Equal(gr.Archives[0].Formats, []string{"tar.gz"}) || len(gr.Archives[0].FormatOverrides) != 1 ||
		gr.Archives[0].FormatOverrides[0].Goos != "windows" || !slices.Equal(gr.Archives[0].FormatOverrides[0].Formats, []string{"zip"}) {
		t.Errorf(".goreleaser.yaml: archives are not agentctl_VERSION_OS_ARCH.tar.gz (.zip on windows), which action.yml installs: %+v", gr.Archives)
	}
	for _, want := range []string{`archive="agentctl_${version#v}_${os}_${arch}.$ext"`, `ext=zip`, `"$url/checksums.txt"`, "sha256sum", "shasum -a 256"} {
		if !strings.Contains(install, want) {
			t.Errorf("action.yml: the Install agentctl step lacks %s", want)
		}
	}
	if gr.Checksum.NameTemplate != "checksums.txt" || gr.Checksum.Algorithm != "sha256" {
		t.Errorf(".goreleaser.yaml: checksum %+v, want checksums.txt with sha256 (action.yml verifies against it)", gr.Checksum)
	}
	for os, runner := range map[string]string{"linux": "Linux) os=linux", "darwin": "macOS) os=darwin", "windows": "Windows) os=windows"} {
		if len(gr.Builds) != 1 || !slices.Contains(gr.Builds[0].Goos, os) || !strings.Contains(install, runner) {
			t.Errorf("%s: released by .goreleaser.yaml and installed by action.yml (%q)?", os, runner)
		}
	}
	for arch, runner := range map[string]string{"amd64": "X64) arch=amd64", "arm64": "ARM64) arch=arm64"} {
		if len(gr.Builds) != 1 || !slices.Contains(gr.Builds[0].Goarch, arch) || !strings.Contains(install, runner) {
			t.Errorf("%s: released by .goreleaser.yaml and installed by action.yml (%q)?", arch, runner)
		}
	}
	if setupGo == nil || setupGo.With["cache"] != true {
		t.Errorf("action.yml: the source fallback sets up Go without its module and build cache (cache: true)")
	}
}
