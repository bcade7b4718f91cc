package schema

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"

	"github.com/agentctl/agentctl/policy"
)

// LoadPair loads two versions of one policy, as `agentctl diff` compares them. Two versions
// mostly share their text, and loading (parsing, recording positions, decoding) is nearly all
// of a diff's cost on a large estate, so when the versions are plain data with the same file
// names and differ inside one list of hand-offs or one map of agents, tools, approvals,
// scenarios or tests of one file, base is derived from head: only the elements of that
// region are parsed again, head's positions are carried over (renamed, shifted), and base is
// built and reference-checked from the patched data, exactly as Load would. Anything else,
// or a base that fails to build, is loaded in full (both versions at once), so errors are
// Load's own. changed is non-nil when base was derived: what may differ between the two.
//
// An empty baseDir is a policy that does not exist yet (a directory missing at the base
// revision, in the change that adds it): base is the empty policy, so everything in head
// is added.
func LoadPair(baseDir, headDir string) (base, head *policy.Policy, changed *Changed, err error) {
	return LoadPairWith(baseDir, headDir, Options{})
}

// LoadPairWith is LoadPair with options; the evaluation budget covers both versions. Over
// it, the error is a PairErrors naming both directories, on the head side.
func LoadPairWith(baseDir, headDir string, opts Options) (base, head *policy.Policy, changed *Changed, err error) {
	type result struct {
		base, head *policy.Policy
		changed    *Changed
		err        error
	}
	r, ok := withinBudget(opts.EvalTimeout, func() result {
		b, h, c, err := loadPair(baseDir, headDir)
		return result{b, h, c, err}
	})
	if !ok {
		cwd, _ := os.Getwd()
		l := &loader{cwd: cwd}
		return nil, nil, nil, PairErrors{Head: Errors{overBudget(l.rel(baseDir)+" and "+l.rel(headDir), opts.EvalTimeout)}}
	}
	return r.base, r.head, r.changed, r.err
}

func loadPair(baseDir, headDir string) (base, head *policy.Policy, changed *Changed, err error) {
	cwd, _ := os.Getwd()
	if baseDir == "" {
		h := &loader{dir: headDir, cwd: cwd}
		hp, errs := h.load()
		if len(errs) > 0 {
			return nil, nil, nil, PairErrors{Head: errs.sorted()}
		}
		return Empty(), hp, nil, nil
	}
	h := &loader{dir: headDir, cwd: cwd}
	var (
		hp    *policy.Policy
		files []*ast.File
		errs  Errors
	)
	files, errs = h.parseFiles()
	if len(errs) == 0 {
		h.walkFiles(files)
		raw, plain := plainData(files)
		if !plain {
			raw, errs = h.evaluate(files)
		}
		if len(errs) == 0 {
			hp, errs = h.build(raw)
		}
		if len(errs) == 0 {
			for _, f := range files {
				hp.Files = append(hp.Files, f.Filename)
			}
			if plain {
				if bp, ch := derive(baseDir, h, files, raw, hp); bp != nil {
					return bp, hp, ch, nil
				}
			}
		}
	}
	// Load base in full; when head failed, load both at once so all errors are reported.
	bl := &loader{dir: baseDir, cwd: cwd}
	bp, berrs := bl.load()
	if len(errs) > 0 || len(berrs) > 0 {
		return nil, nil, nil, PairErrors{Base: berrs.sorted(), Head: errs.sorted()}
	}
	return bp, hp, nil, nil
}

// Empty returns the empty policy: no agents, tools or hand-offs, every setting at its
// default. It is what a policy directory is before its first .cue file.
func Empty() *policy.Policy {
	raw := &rawPolicy{}
	raw.applyDefaults()
	p, errs := (&loader{}).build(raw)
	if len(errs) > 0 {
		panic("schema: the empty policy does not build: " + errs.Error()) // the defaults are the schema's own
	}
	return p
}

// Changed says which elements of a derived base may differ from head; everything else was
// read from the same text. Container is "" when the texts are the same.
type Changed struct {
	Container string        // agents, tools, handoffs, approvals, scenarios or tests
	Names     []string      // the elements of a map container, in either version
	Edges     []policy.Edge // the hand-offs of the region, in either version
}

// PairErrors are the load errors of either version.
type PairErrors struct {
	Base, Head Errors
}

func (e PairErrors) Error() string {
	var parts []string
	for _, es := range []Errors{e.Base, e.Head} {
		if len(es) > 0 {
			parts = append(parts, es.Error())
		}
	}
	return strings.Join(parts, "\n")
}

// region is the part of head's one changed file that base replaces: children lo..hi-1 of
// the container (a top-level field), spanning bytes [start, end) of head and [start,
// end+grow) of base.
type region struct {
	file       int // index into the files
	container  string
	list       bool // handoffs (a list) rather than a map of named elements
	lo, hi     int  // head's children replaced
	start, end int
	grow       int
	names      []string // the names of the children replaced, for maps
	line       int      // the line at start (1-based)
	lastLine   int      // head's line at end-1
	lineGrow   int      // base lines minus head lines in the region
}

// derive returns base derived from head and what may differ, or nil when base cannot be
// derived exactly.
func derive(baseDir string, h *loader, files []*ast.File, raw *rawPolicy, hp *policy.Policy) (*policy.Policy, *Changed) {
	b := &loader{dir: baseDir, cwd: h.cwd}
	names := make([]string, len(files))
	baseNames := make([]string, len(files))
	var rg *region
	var baseSrc []byte
	for i, f := range files {
		names[i] = f.Filename
		rel, err := filepath.Rel(h.rel(h.dir), f.Filename)
		if err != nil {
			return nil, nil
		}
		bname := filepath.Join(baseDir, rel)
		baseNames[i] = b.rel(bname)
		hsrc, err1 := os.ReadFile(filepath.Join(h.dir, rel))
		bsrc, err2 := os.ReadFile(bname)
		if err1 != nil || err2 != nil {
			return nil, nil
		}
		if bytes.Equal(hsrc, bsrc) {
			continue
		}
		if rg != nil {
			return nil, nil // one changed file only
		}
		if rg = locate(files, i, hsrc, bsrc); rg == nil {
			return nil, nil
		}
		baseSrc = bsrc
	}
	if !sameFiles(baseDir, baseNames, b) {
		return nil, nil
	}
	fileOf := map[string]string{}
	for i := range names {
		fileOf[names[i]] = baseNames[i]
	}
	b.positions = make(map[string]policy.Pos, len(hp.Positions))
	b.detail = map[string]policy.Pos{}
	if rg == nil { // same text: only the file names differ
		for path, pos := range hp.Positions {
			pos.File = fileOf[pos.File]
			b.positions[path] = pos
		}
		for _, ig := range hp.Ignores {
			ig.Pos.File = fileOf[ig.Pos.File]
			b.ignores = append(b.ignores, ig)
		}
		return b.finish(raw, baseNames), &Changed{}
	}
	frag := b.parseRegion(rg, baseNames[rg.file], baseSrc)
	if frag == nil {
		return nil, nil
	}
	patched, part, ok := patch(raw, rg, frag)
	if !ok {
		return nil, nil
	}
	// Head's positions and ignores outside the region, renamed and shifted; then the region's.
	changed := names[rg.file]
	move := func(path string, pos policy.Pos) (string, policy.Pos, bool) {
		path, ok := rg.rename(path, len(frag))
		if !ok {
			return "", pos, false
		}
		if pos.File == changed && pos.Line > rg.lastLine {
			pos.Line += rg.lineGrow
		}
		pos.File = fileOf[pos.File]
		return path, pos, true
	}
	for path, pos := range hp.Positions {
		if p, q, ok := move(path, pos); ok {
			b.positions[p] = q
		}
	}
	for _, ig := range hp.Ignores {
		if p, q, ok := move(ig.Path, ig.Pos); ok {
			ig.Path, ig.Pos = p, q
			b.ignores = append(b.ignores, ig)
		}
	}
	for k, el := range frag {
		if rg.list {
			p := rg.container + "[" + strconv.Itoa(rg.lo+k) + "]"
			b.record(p, el.Pos(), element)
			b.walkExpr(el.(ast.Expr), p, nested)
		} else {
			b.walkDecls([]ast.Decl{el.(ast.Decl)}, rg.container, element)
		}
	}
	slices.SortStableFunc(b.ignores, func(x, y policy.Ignore) int {
		if x.Pos.Less(y.Pos) {
			return -1
		}
		if y.Pos.Less(x.Pos) {
			return 1
		}
		return 0
	})
	bp := b.finish(patched, baseNames)
	if bp == nil {
		return nil, nil
	}
	return bp, rg.changed(raw, part)
}

// changed lists the elements of the region on either side.
func (rg *region) changed(head, part *rawPolicy) *Changed {
	c := &Changed{Container: rg.container, Names: slices.Clone(rg.names)}
	if rg.list {
		for _, h := range slices.Concat(head.Handoffs[rg.lo:rg.hi], part.Handoffs) {
			c.Edges = append(c.Edges, policy.Edge{From: *h.From, To: *h.To})
		}
		return c
	}
	c.Names = append(c.Names, slices.Collect(maps.Keys(part.Agents))...)
	c.Names = append(c.Names, slices.Collect(maps.Keys(part.Tools))...)
	c.Names = append(c.Names, slices.Collect(maps.Keys(part.Approvals))...)
	c.Names = append(c.Names, slices.Collect(maps.Keys(part.Scenarios))...)
	c.Names = append(c.Names, slices.Collect(maps.Keys(part.Tests))...)
	slices.Sort(c.Names)
	c.Names = slices.Compact(c.Names)
	return c
}

// finish builds base from its raw data; a reference error means base must be loaded in full
// for Load's exact messages.
func (b *loader) finish(raw *rawPolicy, files []string) *policy.Policy {
	p, errs := b.build(raw)
	if len(errs) > 0 {
		return nil
	}
	p.Files = files
	return p
}

// sameFiles reports whether baseDir holds exactly the policy files named, besides a schema
// copy.
func sameFiles(baseDir string, names []string, b *loader) bool {
	entries, err := os.ReadDir(baseDir)
	if err != nil {
		return false
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !IsPolicyFile(name) {
			continue
		}
		if !slices.Contains(names, b.rel(filepath.Join(baseDir, name))) {
			// The schema copy for cue tooling is no policy file: head's parseFiles skips it.
			if src, err := os.ReadFile(filepath.Join(baseDir, name)); err == nil && isCopy(src) {
				continue
			}
			return false
		}
		n++
	}
	return n == len(names)
}

// containers are the top-level fields whose elements a region may replace.
var containers = map[string]bool{"agents": true, "tools": true, "handoffs": true, "approvals": true, "scenarios": true, "tests": true}

// locate finds the children of one container of files[i] that hold every byte where head
// (hsrc) and base (bsrc) differ, or nil.
func locate(files []*ast.File, i int, hsrc, bsrc []byte) *region {
	p := 0
	for p < len(hsrc) && p < len(bsrc) && hsrc[p] == bsrc[p] {
		p++
	}
	s := 0
	for s < len(hsrc)-p && s < len(bsrc)-p && hsrc[len(hsrc)-1-s] == bsrc[len(bsrc)-1-s] {
		s++
	}
	changeStart, changeEnd := p, len(hsrc)-s
	// The top-level field holding the change must be a container written once in the policy:
	// replacing children of a container written twice would drop the other part.
	var target *ast.Field
	count := map[string]int{}
	for fi, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			name, _ := labelName(fd.Label)
			count[name]++
			if fi == i && fd.Value.Pos().Offset() < changeStart && changeEnd <= fd.Value.End().Offset() {
				target = fd
			}
		}
	}
	if target == nil {
		return nil
	}
	name, _ := labelName(target.Label)
	if !containers[name] || count[name] != 1 {
		return nil
	}
	rg := &region{file: i, container: name, list: name == "handoffs"}
	var elts []ast.Node
	var open, close int
	switch v := target.Value.(type) {
	case *ast.ListLit:
		open, close = v.Lbrack.Offset(), v.Rbrack.Offset()
		for _, e := range v.Elts {
			elts = append(elts, e)
		}
	case *ast.StructLit:
		if !v.Lbrace.IsValid() {
			return nil
		}
		open, close = v.Lbrace.Offset(), v.Rbrace.Offset()
		for _, e := range v.Elts {
			elts = append(elts, e)
		}
	}
	if elts == nil || rg.list != isList(target.Value) {
		return nil
	}
	// Grow [start, end) to whole lines and whole children until it is stable.
	start, end := lineStart(hsrc, changeStart), lineEnd(hsrc, changeEnd)
	lo, hi := len(elts), 0
	for changed := true; changed; {
		changed = false
		for k, e := range elts {
			es, ee := e.Pos().Offset(), e.End().Offset()
			if ee < start || es >= end || (k >= lo && k < hi) {
				continue
			}
			lo, hi, changed = min(lo, k), max(hi, k+1), true
			start, end = min(start, lineStart(hsrc, es)), max(end, lineEnd(hsrc, ee))
		}
	}
	if lo > hi { // only whitespace, comments or new children between two old ones
		lo = 0
		for lo < len(elts) && elts[lo].End().Offset() < start {
			lo++
		}
		hi = lo
	}
	if start <= open || end > close {
		return nil // the region reaches the brackets
	}
	for _, e := range elts[lo:hi] {
		if !rg.list {
			f, ok := e.(*ast.Field)
			if !ok {
				return nil
			}
			n, ok := labelName(f.Label)
			if !ok {
				return nil
			}
			rg.names = append(rg.names, n)
		}
	}
	rg.lo, rg.hi = lo, hi
	rg.start, rg.end, rg.grow = start, end, len(bsrc)-len(hsrc)
	rg.line = 1 + bytes.Count(hsrc[:start], []byte("\n"))
	rg.lastLine = rg.line + bytes.Count(hsrc[start:end], []byte("\n")) - 1
	rg.lineGrow = bytes.Count(bsrc[start:end+rg.grow], []byte("\n")) - bytes.Count(hsrc[start:end], []byte("\n"))
	return rg
}

func isList(e ast.Expr) bool {
	_, ok := e.(*ast.ListLit)
	return ok
}

// rename returns where a path of head lies in base: replaced children are gone (ok=false),
// and hand-offs after them move by the change in their number.
func (rg *region) rename(path string, fragLen int) (string, bool) {
	prefix := rg.container + "["
	if !rg.list {
		prefix = rg.container + "."
	}
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return path, true
	}
	if !rg.list {
		for _, n := range rg.names {
			if r, ok := strings.CutPrefix(rest, n); ok && (r == "" || r[0] == '.') {
				return "", false
			}
		}
		return path, true
	}
	n, tail, ok := strings.Cut(rest, "]")
	k, err := strconv.Atoi(n)
	if !ok || err != nil {
		return path, true
	}
	switch {
	case k < rg.lo:
		return path, true
	case k < rg.hi:
		return "", false
	}
	return prefix + strconv.Itoa(k+fragLen-(rg.hi-rg.lo)) + "]" + tail, true
}

// replace returns m without the names, with part's entries added, or ok=false when part
// names an element m keeps (base writes it twice: CUE would unify the two).
func replace[V any](m, part map[string]V, names []string) (map[string]V, bool) {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]V{}
	}
	for _, n := range names {
		delete(out, n)
	}
	for k, v := range part {
		if _, dup := out[k]; dup {
			return nil, false
		}
		out[k] = v
	}
	return out, true
}

// lineStart returns the offset of the start of the line holding offset i.
func lineStart(src []byte, i int) int {
	return bytes.LastIndexByte(src[:i], '\n') + 1
}

// lineEnd returns the offset just past the newline ending the line holding offset i-1.
func lineEnd(src []byte, i int) int {
	if i > 0 && src[i-1] == '\n' {
		return i
	}
	if n := bytes.IndexByte(src[i:], '\n'); n >= 0 {
		return i + n + 1
	}
	return len(src)
}

// parseRegion parses base's text of the region, at its own lines and columns, and returns
// its children (list elements or fields), or nil.
func (b *loader) parseRegion(rg *region, name string, bsrc []byte) []ast.Node {
	text := bsrc[rg.start : rg.end+rg.grow]
	open, close := "{", "}"
	if rg.list {
		open, close = "[", "]"
	}
	// Newlines put the text at its line; the opening bracket ends the line before it.
	var src bytes.Buffer
	if rg.line < 2 {
		return nil
	}
	src.WriteString(strings.Repeat("\n", rg.line-2))
	src.WriteString("x: " + open + "\n")
	src.Write(text)
	src.WriteString("\n" + close + "\n")
	f, err := parser.ParseFile(name, src.Bytes())
	if err != nil || len(f.Decls) != 1 {
		return nil
	}
	fd, ok := f.Decls[0].(*ast.Field)
	if !ok {
		return nil
	}
	var out []ast.Node
	switch v := fd.Value.(type) {
	case *ast.ListLit:
		for _, e := range v.Elts {
			out = append(out, e)
		}
	case *ast.StructLit:
		for _, e := range v.Elts {
			out = append(out, e)
		}
	}
	if out == nil {
		out = []ast.Node{}
	}
	return out
}

// patch returns head's raw data with the region's children replaced by frag's values, and
// frag's values alone, or ok=false when frag is not plain data the schema accepts.
func patch(raw *rawPolicy, rg *region, frag []ast.Node) (*rawPolicy, *rawPolicy, bool) {
	var doc map[string]any
	if rg.list {
		list := make([]any, 0, len(frag))
		for _, e := range frag {
			v, ok := literalValue(e.(ast.Expr))
			if !ok {
				return nil, nil, false
			}
			list = append(list, v)
		}
		doc = map[string]any{rg.container: list}
	} else {
		m := map[string]any{}
		for _, d := range frag {
			if !mergeDecl(m, d.(ast.Decl)) {
				return nil, nil, false
			}
		}
		doc = map[string]any{rg.container: m}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, false
	}
	part, ok := decodeStrict(data)
	if !ok {
		return nil, nil, false
	}
	out := *raw
	switch rg.container {
	case "handoffs":
		out.Handoffs = slices.Concat(raw.Handoffs[:rg.lo], part.Handoffs, raw.Handoffs[rg.hi:])
	case "agents":
		out.Agents, ok = replace(raw.Agents, part.Agents, rg.names)
	case "tools":
		out.Tools, ok = replace(raw.Tools, part.Tools, rg.names)
	case "approvals":
		out.Approvals, ok = replace(raw.Approvals, part.Approvals, rg.names)
	case "scenarios":
		out.Scenarios, ok = replace(raw.Scenarios, part.Scenarios, rg.names)
	case "tests":
		out.Tests, ok = replace(raw.Tests, part.Tests, rg.names)
	}
	return &out, part, ok
}
