package schema

import (
	"encoding/json"
	"regexp"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// Most policies are plain data: fields, strings, numbers, booleans, lists and structs, with
// no references, comprehensions or constraints. For those, CUE evaluation is the same as
// merging the files' values, which literalJSON does directly on the syntax, in linear time
// (CUE's evaluator is quadratic in the length of a list, and large estates have a list of
// tens of thousands of hand-offs). Anything else makes it give up, and the loader
// evaluates with CUE as usual.

// jsonNumber is CUE's decimal literal syntax that JSON shares; other number forms (1K, 0x10,
// 1_000) go through CUE.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// literalJSON returns the JSON of the files' merged value, or ok=false when any file is more
// than plain data or two files disagree.
func literalJSON(files []*ast.File) (data []byte, ok bool) {
	root := map[string]any{}
	for _, f := range files {
		for _, d := range f.Decls {
			if _, ok := d.(*ast.Package); ok {
				continue
			}
			if !mergeDecl(root, d) {
				return nil, false
			}
		}
	}
	data, err := json.Marshal(root)
	return data, err == nil
}

func mergeDecl(into map[string]any, d ast.Decl) bool {
	switch d := d.(type) {
	case *ast.Attribute, *ast.CommentGroup:
		return true
	case *ast.Field:
		if d.Constraint != token.ILLEGAL {
			return false // optional or required markers are constraints, not data
		}
		name, ok := labelName(d.Label)
		if !ok {
			return false // hidden fields, definitions, patterns: leave them to CUE
		}
		v, ok := literalValue(d.Value)
		if !ok {
			return false
		}
		merged, ok := unifyLiteral(into[name], v)
		if !ok {
			return false
		}
		into[name] = merged
		return true
	}
	return false
}

func literalValue(e ast.Expr) (any, bool) {
	switch e := e.(type) {
	case *ast.StructLit:
		m := map[string]any{}
		for _, d := range e.Elts {
			if !mergeDecl(m, d) {
				return nil, false
			}
		}
		return m, true
	case *ast.ListLit:
		l := make([]any, 0, len(e.Elts))
		for _, el := range e.Elts {
			v, ok := literalValue(el)
			if !ok {
				return nil, false
			}
			l = append(l, v)
		}
		return l, true
	case *ast.BasicLit:
		switch e.Kind {
		case token.STRING:
			if isBytes(e) {
				return nil, false
			}
			s, err := literal.Unquote(e.Value)
			return s, err == nil
		case token.INT, token.FLOAT:
			if !jsonNumber.MatchString(e.Value) {
				return nil, false
			}
			return json.Number(e.Value), true
		case token.TRUE:
			return true, true
		case token.FALSE:
			return false, true
		}
	case *ast.UnaryExpr:
		if n, ok := e.X.(*ast.BasicLit); ok && e.Op == token.SUB && (n.Kind == token.INT || n.Kind == token.FLOAT) && jsonNumber.MatchString(n.Value) {
			return json.Number("-" + n.Value), true
		}
	}
	return nil, false
}

// unifyLiteral is CUE unification restricted to plain data: structs merge field by field,
// lists of equal length element by element, and scalars must be equal.
func unifyLiteral(a, b any) (any, bool) {
	if a == nil {
		return b, true
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return nil, false
		}
		for k, v := range y {
			m, ok := unifyLiteral(x[k], v)
			if !ok {
				return nil, false
			}
			x[k] = m
		}
		return x, true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return nil, false
		}
		for i := range x {
			m, ok := unifyLiteral(x[i], y[i])
			if !ok {
				return nil, false
			}
			x[i] = m
		}
		return x, true
	default:
		// Numbers compare by their literal text: 1 and 1.0 are different in CUE too (int and
		// float), and anything subtler goes through CUE.
		return a, a == b
	}
}
