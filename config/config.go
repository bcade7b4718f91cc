// Package config reads .agentctl.yaml, the repository configuration of agentctl: the gate's
// threshold, check selection, severity overrides, baseline, inline suppressions, default
// outputs and per-directory overrides. The file is read with CUE's YAML encoding and
// validated against a CUE schema embedded in the binary (schema.cue), so every error names
// its file:line:col. Flags are applied on top by the caller (cmd/agentctl).
package config

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
	"cuelang.org/go/encoding/yaml"

	"github.com/agentctl/agentctl/internal/infile"
	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/schema"
)

// FileName is the name of the repository configuration file.
const FileName = ".agentctl.yaml"

//go:embed schema.cue
var schemaSrc []byte

// SchemaFile is the name schema positions are reported under.
const SchemaFile = "agentctl-config.cue"

// Error is one configuration error at a position in the file.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e Error) Error() string {
	msg := strings.ReplaceAll(e.Msg, "\n", " ") // one error, one line
	if e.Line == 0 {
		return e.File + ": " + msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, msg)
}

// Errors is every error of one configuration file, sorted by position.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// raw is the decoded file; pointers tell absent from zero.
type raw struct {
	rawSettings
	Output []string `json:"output"`
	Diff   *struct {
		FailOn []string `json:"fail_on"`
	} `json:"diff"`
	Overrides []rawOverride `json:"overrides"`
	Limits    *struct {
		EvaluationTimeout *string `json:"evaluation_timeout"`
	} `json:"limits"`
}

type rawSettings struct {
	FailOn *string `json:"fail_on"`
	Checks *struct {
		Enable   []string          `json:"enable"`
		Skip     []string          `json:"skip"`
		Severity map[string]string `json:"severity"`
	} `json:"checks"`
	Baseline           *string `json:"baseline"`
	InlineSuppressions *bool   `json:"inline_suppressions"`
}

type rawOverride struct {
	Paths []string `json:"paths"`
	rawSettings
}

// File is a parsed and validated .agentctl.yaml.
type File struct {
	Path string // as found or given
	raw  raw
	pos  map[string]token.Pos // "fail_on", "overrides[0].checks.skip", ... -> where it is written
}

// DiffFailOn returns diff.fail_on and where it is written; ok is false when the file (which
// may be nil) does not set it.
func (f *File) DiffFailOn() (v Value[[]string], ok bool) {
	if f == nil || f.raw.Diff == nil || f.raw.Diff.FailOn == nil {
		return v, false
	}
	return Value[[]string]{f.raw.Diff.FailOn, f.where("diff.fail_on")}, true
}

// Dir is the directory of the file: relative paths in it are relative to this.
func (f *File) Dir() string { return filepath.Dir(f.Path) }

// MaxSize bounds a configuration file: a pull request controls it.
const MaxSize = 1 << 20

// Load reads and validates a configuration file: a regular file of at most MaxSize bytes.
// Invalid content is returned as Errors.
func Load(path string) (*File, error) {
	src, err := infile.Read(path, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, src)
}

// Parse validates the content of a configuration file named path.
func Parse(path string, src []byte) (*File, error) {
	if e, bad := badText(path, src); bad {
		return nil, Errors{e}
	}
	ctx := cuecontext.New()
	expr, err := yaml.Extract(path, src)
	if err != nil {
		return nil, Errors{yamlError(path, src, err)}
	}
	if e, bad := secondDocument(path, src, expr); bad {
		return nil, Errors{e}
	}
	plainNumbers(expr)
	data := ctx.BuildFile(expr)
	if err := data.Err(); err != nil {
		return nil, convert(path, err, data)
	}
	schema := ctx.CompileBytes(schemaSrc, cue.Filename(SchemaFile))
	if err := schema.Err(); err != nil {
		return nil, fmt.Errorf("internal error: config schema: %w", err)
	}
	v := schema.LookupPath(cue.ParsePath("#Config")).Unify(data)
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, convert(path, err, data)
	}
	f := &File{Path: path, pos: map[string]token.Pos{}}
	b, err := v.MarshalJSON()
	if err != nil {
		return nil, convert(path, err, data)
	}
	if err := json.Unmarshal(b, &f.raw); err != nil {
		return nil, fmt.Errorf("internal error: decode %s: %w", path, err)
	}
	recordPositions(data, "", f.pos)
	errs := f.checkNames()
	if l := f.raw.Limits; l != nil && l.EvaluationTimeout != nil {
		if d, err := time.ParseDuration(*l.EvaluationTimeout); err != nil || d <= 0 {
			errs = append(errs, f.errorAt("limits.evaluation_timeout", fmt.Sprintf("invalid duration %q (want a positive Go duration such as \"30s\" or \"2m\")", *l.EvaluationTimeout)))
		}
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return f, nil
}

// recordPositions remembers where each value of the user's file is written, keyed by its
// path in the form Settings sources use ("checks.skip", "overrides[1].fail_on").
func recordPositions(v cue.Value, path string, out map[string]token.Pos) {
	if path != "" {
		out[path] = v.Pos()
	}
	switch v.Kind() {
	case cue.StructKind:
		it, _ := v.Fields()
		for it.Next() {
			p := it.Selector().Unquoted()
			if path != "" {
				p = path + "." + p
			}
			recordPositions(it.Value(), p, out)
		}
	case cue.ListKind:
		it, _ := v.List()
		for i := 0; it.Next(); i++ {
			recordPositions(it.Value(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

// checkNames rejects check names the registry does not know, at their position.
func (f *File) checkNames() Errors {
	var errs Errors
	check := func(prefix string, s rawSettings) {
		if s.Checks == nil {
			return
		}
		for key, names := range map[string][]string{"enable": s.Checks.Enable, "skip": s.Checks.Skip} {
			for i, n := range names {
				if lint.Lookup(n) == nil {
					errs = append(errs, f.errorAt(fmt.Sprintf("%schecks.%s[%d]", prefix, key, i), fmt.Sprintf("unknown check %q (see 'agentctl checks')", n)))
				}
			}
		}
		for n := range s.Checks.Severity {
			if lint.Lookup(n) == nil {
				errs = append(errs, f.errorAt(prefix+"checks.severity."+n, fmt.Sprintf("unknown check %q (see 'agentctl checks')", n)))
			}
		}
	}
	check("", f.raw.rawSettings)
	for i, o := range f.raw.Overrides {
		check(fmt.Sprintf("overrides[%d].", i), o.rawSettings)
	}
	sortErrors(errs)
	return errs
}

func (f *File) errorAt(path, msg string) Error {
	p := f.pos[path]
	return Error{File: f.Path, Line: p.Line(), Col: p.Column(), Msg: path + ": " + msg}
}

// where returns "file:line:col" of a value of the file.
func (f *File) where(path string) string {
	p := f.pos[path]
	if !p.IsValid() {
		return f.Path
	}
	return fmt.Sprintf("%s:%d:%d", f.Path, p.Line(), p.Column())
}

// convert turns CUE errors into Errors at positions in the user's file. A value that
// matches no branch of a disjunction gives one error per branch: they become one error
// listing the allowed values.
func convert(path string, err error, data cue.Value) error {
	type group struct {
		pos     token.Pos
		sel     []string
		msgs    []string
		allowed []string
	}
	groups := map[string]*group{}
	var order []string
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		if strings.Contains(format, "empty disjunction") {
			continue // the summary of the branches below
		}
		var pos token.Pos
		for _, p := range cueerrors.Positions(e) {
			if p.Filename() == path {
				pos = p
				break
			}
		}
		sel := e.Path()
		if len(sel) > 0 && sel[0] == "#Config" {
			sel = sel[1:]
		}
		msg := fmt.Sprintf(format, args...)
		if msg == "field not allowed" {
			// CUE may report a value inside the unknown key: name the key, at the key.
			for len(sel) > 1 && isNumber(sel[len(sel)-1]) {
				sel = sel[:len(sel)-1]
			}
			if v := lookup(data, sel); v.Exists() {
				pos = v.Pos()
			}
		}
		if !pos.IsValid() {
			// A required key is missing: name it, at the nearest value that is written.
			for i := len(sel) - 1; i >= 0; i-- {
				if v := lookup(data, sel[:i]); v.Exists() {
					pos, sel, msg = v.Pos(), sel[:i+1], "missing required key"
					break
				}
			}
		}
		key := schema.UserPath(sel)
		g := groups[key]
		if g == nil {
			g = &group{sel: sel, pos: pos}
			groups[key] = g
			order = append(order, key)
		}
		if strings.Contains(format, "(mismatched types") && len(args) == 4 {
			user := lookup(data, sel)
			got, want := user.Kind().String(), fmt.Sprint(args[2])
			if want == got {
				want = fmt.Sprint(args[3])
			}
			msg = fmt.Sprintf("wrong type: got %s, want %s", describe(user), article(kindName(want)))
		}
		if strings.HasPrefix(format, "conflicting values") && len(args) >= 2 {
			// Perhaps one branch of a disjunction: keep the schema's side.
			// Compared without white space: CUE prints the user's value indented, the
			// message's compactly.
			squash := func(v any) string { return strings.Join(strings.Fields(fmt.Sprint(v)), "") }
			user := squash(lookup(data, sel))
			other := fmt.Sprint(args[0])
			if squash(other) == user {
				other = fmt.Sprint(args[1])
			}
			g.allowed = append(g.allowed, other)
		}
		if strings.HasSuffix(msg, outputBound) {
			msg = fmt.Sprintf("invalid output %s (want FORMAT or FORMAT=FILE, FORMAT one of table, json, sarif, junit, github)", show(lookup(data, sel)))
		}
		if !slices.Contains(g.msgs, msg) {
			g.msgs = append(g.msgs, msg)
		}
	}
	var errs Errors
	for _, key := range order {
		g := groups[key]
		msg := strings.Join(g.msgs, "; ")
		if len(g.allowed) > 1 {
			msg = fmt.Sprintf("invalid value %s (want one of %s)", show(lookup(data, g.sel)), strings.Join(g.allowed, ", "))
		} else if len(g.msgs) == 1 {
			msg = friendly(msg)
		}
		if key != "" {
			msg = key + ": " + msg
		}
		if !g.pos.IsValid() {
			g.pos = data.Pos() // the whole file is wrong (a list or a scalar): where it starts
		}
		errs = append(errs, Error{File: path, Line: max(g.pos.Line(), 1), Col: max(g.pos.Column(), 1), Msg: msg})
	}
	if len(errs) == 0 {
		return Errors{{File: path, Line: 1, Col: 1, Msg: err.Error()}}
	}
	sortErrors(errs)
	return errs
}

// outputBound ends CUE's message for an output entry the schema's pattern rejects.
const outputBound = `(out of bound =~"^(table|json|sarif|junit|github)(=.+)?$")`

// describe shows a value of the file in one line with its type: string "x", number 1, a
// mapping (the position says where it is).
func describe(v cue.Value) string {
	k := kindName(v.Kind().String())
	if s := show(v); s != article(k) {
		return k + " " + s
	}
	return article(k)
}

// show shows a value of the file in one line: a scalar as written, a mapping or a list by
// its kind.
func show(v cue.Value) string {
	if k := v.Kind(); k == cue.StructKind || k == cue.ListKind {
		return article(kindName(k.String()))
	}
	return oneLine(fmt.Sprint(v))
}

// article puts "a" before the composite kinds: "a list", "a mapping".
func article(kind string) string {
	if kind == "list" || kind == "mapping" {
		return "a " + kind
	}
	return kind
}

// kindName is a CUE kind in YAML's terms.
func kindName(k string) string {
	switch k {
	case "struct":
		return "mapping"
	case "int", "float":
		return "number"
	}
	return k
}

// oneLine joins the lines of s, and their indentation, with single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// friendly rewrites CUE's wording of the usual mistakes.
func friendly(msg string) string {
	switch {
	case msg == "field not allowed":
		return "unknown key"
	}
	return msg
}

// lookup returns the user's value at a CUE error path.
func lookup(data cue.Value, sel []string) cue.Value {
	sels := make([]cue.Selector, len(sel))
	for i, s := range sel {
		if n, err := strconv.Atoi(s); err == nil {
			sels[i] = cue.Index(n)
		} else {
			sels[i] = cue.Str(s)
		}
	}
	return data.LookupPath(cue.MakePath(sels...))
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}

// Find returns the configuration file that applies to a policy directory: the nearest
// .agentctl.yaml in the directory or one of its parents, up to the repository root (the
// git top-level; the filesystem root outside a repository). "" when there is none.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find config: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		p := filepath.Join(d, FileName)
		if _, err := os.Stat(p); err == nil {
			return relToCwd(p), nil
		}
		if isRepoRoot(d) || filepath.Dir(d) == d {
			return "", nil
		}
	}
}

// RepoRoot returns the git top-level containing dir (the nearest directory with a .git
// entry), or "" outside a repository.
func RepoRoot(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for d := abs; ; d = filepath.Dir(d) {
		if isRepoRoot(d) {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func isRepoRoot(d string) bool {
	_, err := os.Stat(filepath.Join(d, ".git"))
	return err == nil
}

// relToCwd shortens an absolute path to one relative to the working directory, when that
// is shorter, for messages and sources.
func relToCwd(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && len(r) < len(p) {
		return r
	}
	return p
}

// Value is one effective setting and where it came from: "default", "file:line:col" or
// "flag --NAME".
type Value[T any] struct {
	V      T
	Source string
}

// Settings is the effective configuration of one policy directory.
type Settings struct {
	FailOn             Value[string]
	Enable             Value[[]string]
	Skip               Value[[]string]
	Severity           map[string]Value[string] // check ID or slug -> severity
	Baseline           Value[string]            // relative to the working directory
	InlineSuppressions Value[bool]
	Output             Value[[]string] // run-wide: taken from the first directory's file
	EvalTimeout        Value[time.Duration]
}

// Default is the source of built-in values.
const Default = "default"

// Defaults returns the settings without a configuration file.
func Defaults() Settings {
	return Settings{
		FailOn:             Value[string]{"high", Default},
		Enable:             Value[[]string]{nil, Default},
		Skip:               Value[[]string]{nil, Default},
		Severity:           map[string]Value[string]{},
		Baseline:           Value[string]{"", Default},
		InlineSuppressions: Value[bool]{true, Default},
		Output:             Value[[]string]{[]string{"table"}, Default},
		EvalTimeout:        Value[time.Duration]{schema.DefaultEvalTimeout, Default},
	}
}

// For returns the settings of a policy directory: the defaults, then the file's top level,
// then every override whose paths match the directory (relative to the file), in order.
// f may be nil (no file).
func (f *File) For(dir string) (Settings, error) {
	s := Defaults()
	if f == nil {
		return s, nil
	}
	f.apply(&s, "", f.raw.rawSettings)
	if f.raw.Output != nil {
		outs := make([]string, len(f.raw.Output))
		for i, o := range f.raw.Output {
			// Files are relative to the configuration file, like the baseline.
			if format, path, ok := strings.Cut(o, "="); ok && path != "-" && !filepath.IsAbs(path) {
				o = format + "=" + filepath.Join(f.Dir(), path)
			}
			outs[i] = o
		}
		s.Output = Value[[]string]{outs, f.where("output")}
	}
	if l := f.raw.Limits; l != nil && l.EvaluationTimeout != nil {
		d, _ := time.ParseDuration(*l.EvaluationTimeout) // Parse checked it
		s.EvalTimeout = Value[time.Duration]{d, f.where("limits.evaluation_timeout")}
	}
	rel, err := f.relDir(dir)
	if err != nil {
		return s, err
	}
	for i, o := range f.raw.Overrides {
		for _, pat := range o.Paths {
			if MatchGlob(pat, rel) {
				f.apply(&s, fmt.Sprintf("overrides[%d].", i), o.rawSettings)
				break
			}
		}
	}
	return s, nil
}

func (f *File) apply(s *Settings, prefix string, r rawSettings) {
	if r.FailOn != nil {
		s.FailOn = Value[string]{*r.FailOn, f.where(prefix + "fail_on")}
	}
	if c := r.Checks; c != nil {
		if c.Enable != nil {
			s.Enable = Value[[]string]{c.Enable, f.where(prefix + "checks.enable")}
		}
		if c.Skip != nil {
			s.Skip = Value[[]string]{c.Skip, f.where(prefix + "checks.skip")}
		}
		for name, sev := range c.Severity {
			s.Severity[name] = Value[string]{sev, f.where(prefix + "checks.severity." + name)}
		}
	}
	if r.Baseline != nil {
		p := *r.Baseline
		if p != "" && !filepath.IsAbs(p) {
			p = filepath.Join(f.Dir(), p)
		}
		s.Baseline = Value[string]{p, f.where(prefix + "baseline")}
	}
	if r.InlineSuppressions != nil {
		s.InlineSuppressions = Value[bool]{*r.InlineSuppressions, f.where(prefix + "inline_suppressions")}
	}
}

// relDir returns dir relative to the file's directory, with forward slashes.
func (f *File) relDir(dir string) (string, error) {
	base, err := filepath.Abs(f.Dir())
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(base, abs)
	if err != nil {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	return filepath.ToSlash(rel), nil
}

// MatchGlob reports whether a slash-separated path matches pattern, where each segment is
// matched with path.Match and "**" matches any number of segments (none included).
func MatchGlob(pattern, name string) bool {
	return matchSegs(strings.Split(strings.Trim(pattern, "/"), "/"), strings.Split(name, "/"))
}

func matchSegs(pat, name []string) bool {
	if len(pat) == 0 {
		return len(name) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if matchSegs(pat[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], name[0])
	return err == nil && ok && matchSegs(pat[1:], name[1:])
}

// SeverityKeys returns the checks with a severity override, sorted.
func (s Settings) SeverityKeys() []string {
	keys := make([]string, 0, len(s.Severity))
	for k := range s.Severity {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
