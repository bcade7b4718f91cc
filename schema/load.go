// Package schema holds the embedded CUE schema of the agentctl policy language and the
// loader that turns a policy directory into a policy.Policy.
package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/agentctl/agentctl/policy"
)

// Source is the CUE schema every policy is unified with.
//
//go:embed schema.cue
var Source []byte

// schemaFile is the name the schema's positions carry; they are never shown to users.
const schemaFile = "agentctl-schema.cue"

// Load reads every .cue file of dir (one CUE package, any package name), unifies it with the
// schema, checks every cross-reference and returns the policy. On failure the error is an
// Errors value holding every problem found, with positions relative to the working
// directory.
func Load(dir string) (*policy.Policy, error) {
	return LoadWith(dir, Options{})
}

// DefaultEvalTimeout is the evaluation budget of a policy directory when none is given:
// generous, as a large estate evaluates in seconds.
const DefaultEvalTimeout = 60 * time.Second

// Options tune a load.
type Options struct {
	// EvalTimeout bounds the time a load may take (CUE evaluation is nearly all of it); zero
	// means DefaultEvalTimeout. A policy is input a pull request controls, and a few lines of
	// CUE (a hidden list.Range of a million elements) can evaluate for hours.
	EvalTimeout time.Duration
}

// LoadWith is Load with options. A load that exceeds its budget returns an Errors value
// naming the directory. CUE cannot interrupt an evaluation, so the evaluation is abandoned,
// not stopped: it keeps a CPU busy until it ends or the process exits, which a command does
// at once on the error (agentctl watch keeps running, so it may accumulate them).
func LoadWith(dir string, opts Options) (*policy.Policy, error) {
	l := &loader{dir: dir}
	if cwd, err := os.Getwd(); err == nil {
		l.cwd = cwd
	}
	type result struct {
		p    *policy.Policy
		errs Errors
	}
	r, ok := withinBudget(opts.EvalTimeout, func() result {
		p, errs := l.load()
		return result{p, errs}
	})
	if !ok {
		return nil, Errors{overBudget(l.rel(dir), opts.EvalTimeout)}
	}
	if len(r.errs) > 0 {
		return nil, r.errs.sorted()
	}
	return r.p, nil
}

// withinBudget runs f and returns its result, or ok false when it has not returned after
// timeout (zero: DefaultEvalTimeout), leaving it to finish on its own.
func withinBudget[T any](timeout time.Duration, f func() T) (v T, ok bool) {
	if timeout <= 0 {
		timeout = DefaultEvalTimeout
	}
	done := make(chan T, 1) // f's send never blocks, even once abandoned
	go func() { done <- f() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case v := <-done:
		return v, true
	case <-timer.C:
		return v, false
	}
}

// overBudget is the error of a load of dir that exceeded its budget.
func overBudget(dir string, timeout time.Duration) Error {
	if timeout <= 0 {
		timeout = DefaultEvalTimeout
	}
	return Error{Msg: fmt.Sprintf("%s: evaluation stopped after %s, its budget (raise it with --eval-timeout or limits.evaluation_timeout in .agentctl.yaml): "+
		"look for a large list, comprehension or recursion in its .cue files", dir, timeout)}
}

type loader struct {
	dir       string
	cwd       string
	positions map[string]policy.Pos
	detail    map[string]policy.Pos // positions inside list elements, for load errors
	ignores   []policy.Ignore
	srcBytes  int
	start     policy.Pos // the start of the first file: where errors CUE places nowhere go
	user      cue.Value  // the user's files evaluated without the schema, when CUE evaluated them
}

func (l *loader) load() (*policy.Policy, Errors) {
	files, errs := l.parseFiles()
	if len(errs) > 0 {
		return nil, errs
	}
	l.walkFiles(files)
	raw, errs := l.evaluate(files)
	if len(errs) > 0 {
		return nil, l.placed(append(errs, l.refErrorsDespite(errs)...))
	}
	p, errs := l.build(raw)
	if len(errs) > 0 {
		return nil, l.placed(errs)
	}
	for _, f := range files {
		p.Files = append(p.Files, f.Filename)
	}
	return p, nil
}

// refErrorsDespite returns the reference errors (undefined agents, tools, actions) of a
// policy the schema rejected, so that one run of vet reports both kinds: the user's
// values, evaluated without the schema, are decoded as far as they have the schema's
// shape and built. Nothing is returned when they do not have it (a value of the wrong
// type, a field that is not concrete, a required field missing): the schema errors say
// what to fix first.
func (l *loader) refErrorsDespite(schemaErrs Errors) (refs Errors) {
	if !l.user.Exists() {
		return nil
	}
	// The builder relies on the schema's guarantees (required fields present), which this
	// input lacks: a missing one ends this best-effort pass, never the load.
	defer func() {
		if recover() != nil {
			refs = nil
		}
	}()
	data, err := l.user.MarshalJSON()
	if err != nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw rawPolicy
	if dec.Decode(&raw) != nil {
		return nil
	}
	raw.applyDefaults()
	_, errs, start := l.buildRefs(&raw)
	for _, e := range errs[start:] {
		if !slices.ContainsFunc(schemaErrs, func(s Error) bool { return s.Msg == e.Msg }) {
			refs = append(refs, e)
		}
	}
	return refs
}

// placed gives every error about the policy's text a position in it: the start of the
// first file for one that neither CUE nor errPos can place.
func (l *loader) placed(errs Errors) Errors {
	for i := range errs {
		if !errs[i].Pos.IsValid() {
			errs[i].Pos = l.start
		}
	}
	return errs
}

// evaluate turns the files into the defaulted raw policy by the cheapest path that is
// certain to agree with the schema: plain data is merged without CUE; other CUE is evaluated
// without the schema; only when either is unsure is the policy unified with the schema, which
// is the authority and gives CUE's exact messages and positions.
func (l *loader) evaluate(files []*ast.File) (*rawPolicy, Errors) {
	if raw, ok := plainData(files); ok {
		return raw, nil
	}
	// A fresh context per load: a reused one keeps every evaluated value alive (NOTES.md).
	ctx := cuecontext.New()
	inst := build.NewContext().NewInstance(l.dir, nil)
	for _, f := range files {
		if err := inst.AddSyntax(f); err != nil {
			return nil, l.fromCUE(err)
		}
	}
	user := ctx.BuildInstance(inst)
	l.user = user
	if !mayHoldBytes(files) {
		if raw, ok := fastPath(user); ok {
			return raw, nil
		}
	}
	return l.schemaPath(ctx, user)
}

// plainData decodes files that are plain data the schema's rules in Go accept: the path
// that needs no CUE evaluation at all.
func plainData(files []*ast.File) (*rawPolicy, bool) {
	data, ok := literalJSON(files)
	if !ok {
		return nil, false
	}
	return decodeStrict(data)
}

// mayHoldBytes reports whether the files could produce a bytes value, which JSON shows as a
// base64 string the fast path cannot tell from a string: a bytes literal or an import (a
// builtin may return bytes).
func mayHoldBytes(files []*ast.File) bool {
	found := false
	for _, f := range files {
		ast.Walk(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ImportDecl:
				found = true
			case *ast.BasicLit:
				found = found || isBytes(n)
			}
			return !found
		}, nil)
	}
	return found
}

// isBytes reports whether lit is a bytes literal: 'x', or a raw one such as #'x'#.
func isBytes(lit *ast.BasicLit) bool {
	return lit.Kind == token.STRING && strings.HasPrefix(strings.TrimLeft(lit.Value, "#"), "'")
}

// fastPath evaluates the user's files without the schema and checks the result against the
// schema's rules in Go. Most of CUE's cost on a large estate is the unification with the
// schema's closed definitions and defaults, so skipping it for input that is plainly valid
// makes vet several times faster. It returns ok only when it is certain the schema would
// accept the policy: a fast-path acceptance never differs from the schema's (a test holds
// the two to that on the corpus and generated estates).
func fastPath(user cue.Value) (*rawPolicy, bool) {
	if user.Validate(cue.Concrete(true)) != nil {
		return nil, false
	}
	data, err := user.MarshalJSON()
	if err != nil {
		return nil, false
	}
	return decodeStrict(data)
}

// decodeStrict decodes a policy's JSON and checks it against the schema's rules in Go.
func decodeStrict(data []byte) (*rawPolicy, bool) {
	if !plainJSON(data) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber() // test inputs: the builder converts and bounds their numbers
	var raw rawPolicy
	if dec.Decode(&raw) != nil || !raw.valid() {
		return nil, false
	}
	raw.applyDefaults()
	return &raw, true
}

// schemaPath unifies the user's value with #Policy and decodes the defaulted result.
func (l *loader) schemaPath(ctx *cue.Context, user cue.Value) (*rawPolicy, Errors) {
	schema := ctx.CompileBytes(Source, cue.Filename(schemaFile))
	if err := schema.Err(); err != nil {
		return nil, Errors{{Msg: fmt.Sprintf("internal error: schema: %v", err)}}
	}
	v := schema.LookupPath(cue.MakePath(cue.Def("Policy"))).Unify(user)
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, l.fromCUE(err)
	}
	data, err := v.MarshalJSON()
	if err != nil {
		return nil, l.fromCUE(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw rawPolicy
	if err := dec.Decode(&raw); err != nil {
		// The schema bounds every typed number, so this is a bug, not bad input.
		return nil, Errors{{Msg: fmt.Sprintf("internal error: decode %s: %v", l.dir, err)}}
	}
	raw.applyDefaults()
	return &raw, nil
}

// parseFiles reads and parses the directory's .cue files. It reports every unreadable file,
// encoding error and syntax error, and package clauses that disagree.
func (l *loader) parseFiles() ([]*ast.File, Errors) {
	shown := l.rel(l.dir)
	info, err := os.Stat(l.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, Errors{{Msg: fmt.Sprintf("%s: no such directory", shown)}}
	case err != nil:
		return nil, Errors{{Msg: fmt.Sprintf("%s: %v", shown, unwrapPathError(err))}}
	case !info.IsDir():
		return nil, Errors{{Msg: fmt.Sprintf("%s: not a directory (agentctl loads every .cue file of a directory)", shown)}}
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, Errors{{Msg: fmt.Sprintf("%s: %v", shown, unwrapPathError(err))}}
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		// Like cue's loader: files starting with . or _ are ignored.
		if e.IsDir() || !IsPolicyFile(n) {
			continue
		}
		names = append(names, filepath.Join(l.dir, n))
	}
	sort.Strings(names)
	if len(names) == 0 {
		if policiesBelow(l.dir) {
			return nil, Errors{{Msg: fmt.Sprintf("%s: no .cue files; the directories under it hold policies: name them, or %s for every one", shown, RecursivePattern(shown))}}
		}
		return nil, Errors{{Msg: fmt.Sprintf("%s: no .cue files (start a policy with 'agentctl init %s')", shown, shown)}}
	}
	var (
		files   []*ast.File
		errs    Errors
		pkg     string
		pkgFile string
	)
	for _, name := range names {
		shownName := l.rel(name)
		src, err := os.ReadFile(name)
		if err != nil {
			errs = append(errs, Error{Msg: fmt.Sprintf("%s: %v", shownName, unwrapPathError(err))})
			continue
		}
		if isCopy(src) {
			continue // the schema copy for cue tooling: agentctl applies its own schema
		}
		l.srcBytes += len(src)
		if off := invalidUTF8(src); off >= 0 {
			errs = append(errs, Error{Pos: offsetPos(shownName, src, off), Msg: "invalid UTF-8 encoding (CUE files must be UTF-8)"})
			continue
		}
		f, err := parser.ParseFile(shownName, src)
		if err != nil {
			errs = append(errs, l.fromCUE(err)...)
			continue
		}
		if name := f.PackageName(); name != "" {
			if pkg == "" {
				pkg, pkgFile = name, shownName
			} else if name != pkg {
				errs = append(errs, Error{
					Pos: l.pos(packagePos(f)),
					Msg: fmt.Sprintf("package %s differs from package %s in %s (a policy is one CUE package)", name, pkg, pkgFile),
				})
				continue
			}
		}
		if len(files) == 0 {
			l.start = policy.Pos{File: shownName, Line: 1, Col: 1}
		}
		files = append(files, f)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	// Files without a package clause join the package of the others.
	for _, f := range files {
		if f.PackageName() == "" && pkg != "" {
			f.Decls = append([]ast.Decl{&ast.Package{Name: ast.NewIdent(pkg)}}, f.Decls...)
		}
	}
	return files, nil
}

func packagePos(f *ast.File) token.Pos {
	for _, d := range f.Decls {
		if p, ok := d.(*ast.Package); ok {
			return p.Name.Pos()
		}
	}
	return token.NoPos
}

// invalidUTF8 returns the offset of the first invalid UTF-8 sequence, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

func offsetPos(file string, src []byte, off int) policy.Pos {
	line := 1 + bytes.Count(src[:off], []byte("\n"))
	col := off + 1
	if nl := bytes.LastIndexByte(src[:off], '\n'); nl >= 0 {
		col = off - nl
	}
	return policy.Pos{File: file, Line: line, Col: col}
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// rel shows a path relative to the working directory when that is shorter to read.
func (l *loader) rel(path string) string {
	if l.cwd == "" {
		return path
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	r, err := filepath.Rel(l.cwd, abs)
	if err != nil || strings.HasPrefix(r, ".."+string(filepath.Separator)) && filepath.IsAbs(path) {
		return path
	}
	return r
}

func (l *loader) pos(p token.Pos) policy.Pos {
	if !p.IsValid() || p.Filename() == "" || p.Filename() == schemaFile {
		return policy.Pos{}
	}
	return policy.Pos{File: p.Filename(), Line: p.Line(), Col: p.Column()}
}

// userPositions returns the distinct positions that lie in user files, in order.
func (l *loader) userPositions(ps []token.Pos) []policy.Pos {
	var out []policy.Pos
	for _, p := range ps {
		if up := l.pos(p); up.IsValid() && !slices.Contains(out, up) {
			out = append(out, up)
		}
	}
	return out
}

// nearestPos returns the position of path or of its closest written ancestor.
func (l *loader) nearestPos(path string) policy.Pos {
	for path != "" {
		if p, ok := l.positions[path]; ok {
			return p
		}
		if p, ok := l.detail[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return policy.Pos{}
}

// errPos is where a load error about path is shown: where path or its closest ancestor is
// written, else where CUE's evaluation of the user's files places path (an element that only
// a comprehension writes). placed gives what is left the start of the first file.
func (l *loader) errPos(path string) policy.Pos {
	if p := l.nearestPos(path); p.IsValid() || !l.user.Exists() {
		return p
	}
	var sels []cue.Selector
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		sels = append(sels, cue.Str(name))
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			n, err := strconv.Atoi(idx)
			if !ok || err != nil {
				return policy.Pos{} // a key holding "[": no path to look up
			}
			sels = append(sels, cue.Index(n))
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return l.pos(l.user.LookupPath(cue.MakePath(sels...)).Pos())
}

// walkFiles records where each element is written and the @ignore attributes on it, from
// the syntax: cheap, and the positions are the user's own (never the schema's). Elements that
// only exist through comprehensions or references get the position of the nearest written
// ancestor. The first file to write a path wins.
func (l *loader) walkFiles(files []*ast.File) {
	// About one element path per 24 bytes of source, half of them inside list elements: sizing the map up front avoids
	// rehashing hundreds of thousands of entries on large estates.
	l.positions = make(map[string]policy.Pos, l.srcBytes/48)
	l.detail = make(map[string]policy.Pos, l.srcBytes/48)
	for _, f := range files {
		l.walkDecls(f.Decls, "", element)
	}
}

// Where walkDecls records what it finds.
type walkMode int

const (
	element walkMode = iota // a policy element: its position and @ignore attributes
	nested                  // inside a list element: positions for load errors, and attributes
	data                    // free-form data and hidden fields: positions for load errors only
)

func (l *loader) walkDecls(decls []ast.Decl, path string, mode walkMode) {
	for _, d := range decls {
		switch d := d.(type) {
		case *ast.Field:
			m := mode
			name, ok := labelName(d.Label)
			if !ok {
				// Hidden fields and definitions are no policy elements, but CUE reports
				// errors inside them (a structural cycle) at their paths.
				id, isIdent := d.Label.(*ast.Ident)
				if !isIdent {
					continue
				}
				name, m = id.Name, data
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			l.record(p, d.Label.Pos(), m)
			if m != data {
				for _, a := range d.Attrs {
					l.attribute(p, a)
				}
			}
			// Test inputs are free-form request data.
			if strings.HasPrefix(p, "tests.") && strings.HasSuffix(p, ".input") {
				m = data
			}
			l.walkExpr(d.Value, p, m)
		case *ast.Attribute:
			if path != "" && mode != data {
				l.attribute(path, d)
			}
		case *ast.EmbedDecl:
			l.walkExpr(d.Expr, path, mode)
		}
	}
}

func (l *loader) walkExpr(e ast.Expr, path string, mode walkMode) {
	switch e := e.(type) {
	case *ast.StructLit:
		l.walkDecls(e.Elts, path, mode)
	case *ast.ListLit:
		inner := max(mode, nested)
		for i, el := range e.Elts {
			if _, ok := el.(*ast.Ellipsis); ok {
				break
			}
			p := path + "[" + strconv.Itoa(i) + "]"
			l.record(p, el.Pos(), mode)
			l.walkExpr(el, p, inner)
		}
	case *ast.BinaryExpr:
		if e.Op == token.AND {
			l.walkExpr(e.X, path, mode)
			l.walkExpr(e.Y, path, mode)
		}
	case *ast.ParenExpr:
		l.walkExpr(e.X, path, mode)
	}
}

// labelName returns a regular field's name; hidden fields, definitions, pattern constraints
// and dynamic labels are not policy elements.
func labelName(label ast.Label) (string, bool) {
	switch x := label.(type) {
	case *ast.Ident:
		if strings.HasPrefix(x.Name, "_") || strings.HasPrefix(x.Name, "#") {
			return "", false
		}
		return x.Name, true
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			if s, err := literal.Unquote(x.Value); err == nil {
				return s, true
			}
		}
	}
	return "", false
}

// record notes where path is written. What lies inside a list element (a grant's fields, a
// hand-off's ends) goes to detail, which only load errors use: the policy keeps the
// element's own position, and large estates keep hundreds of thousands fewer entries alive.
func (l *loader) record(path string, pos token.Pos, mode walkMode) {
	m := l.positions
	if mode != element {
		m = l.detail
	}
	if _, ok := m[path]; !ok {
		if p := l.pos(pos); p.IsValid() {
			m[path] = p
		}
	}
}

// attribute records an @ignore("CHECK", "reason") attribute on path, at its own position.
func (l *loader) attribute(path string, a *ast.Attribute) {
	key, body := a.Split()
	if key != "ignore" {
		return
	}
	args := attrArgs(body)
	ig := policy.Ignore{Path: path, Pos: l.pos(a.Pos())}
	if len(args) > 0 {
		ig.Check = args[0]
	}
	if len(args) > 1 {
		ig.Reason = args[1]
	}
	l.ignores = append(l.ignores, ig)
}

// attrArgs splits an attribute body into its comma-separated arguments, unquoting quoted
// ones: `"AC010", "reason, with a comma"` gives two arguments.
func attrArgs(body string) []string {
	var (
		args  []string
		start int
		quote bool
	)
	for i := 0; i <= len(body); i++ {
		if i < len(body) {
			switch c := body[i]; {
			case c == '\\' && quote:
				i++
				continue
			case c == '"':
				quote = !quote
				continue
			case c != ',' || quote:
				continue
			}
		}
		arg := strings.TrimSpace(body[start:i])
		if u, err := literal.Unquote(arg); err == nil && strings.HasPrefix(arg, `"`) {
			arg = u
		}
		args = append(args, strings.TrimSpace(arg))
		start = i + 1
	}
	return args
}
