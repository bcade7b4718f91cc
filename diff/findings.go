package diff

import (
	"slices"
	"strings"
	"sync"

	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/policy"
)

// fingerprint is the one place the diff matches findings across versions: the same value on
// both sides means the same finding, wherever its lines moved and whatever list index its
// element has (lint's semantic fingerprint, by check).
func fingerprint(f *lint.Finding) string { return f.Check.ID + "\x00" + f.Fingerprint }

// findings fills the findings new in HEAD and fixed since BASE. The two sides are linted
// concurrently.
func (r *Result) findings(base, head *policy.Policy, opts Options) {
	var fb, fh []lint.Finding
	var wg sync.WaitGroup
	wg.Add(2)
	run := func(p *policy.Policy, out *[]lint.Finding) {
		defer wg.Done()
		*out = lint.Run(p, opts.Lint)
		if opts.Baseline != nil {
			opts.Baseline.Apply(*out, opts.Lint.Checks)
		}
	}
	go run(base, &fb)
	go run(head, &fh)
	wg.Wait()
	r.Findings = append(only(fh, fb, New), only(fb, fh, Fixed)...)
	slices.SortStableFunc(r.Findings, func(a, b FindingChange) int {
		if c := strings.Compare(a.Op, b.Op); c != 0 {
			return -c // new first
		}
		if c := strings.Compare(a.Check, b.Check); c != 0 {
			return c
		}
		return strings.Compare(a.Element, b.Element)
	})
}

// only returns the findings of xs whose fingerprint ys lacks, as op.
func only(xs, ys []lint.Finding, op string) []FindingChange {
	have := make(map[string]bool, len(ys))
	for i := range ys {
		have[fingerprint(&ys[i])] = true
	}
	var out []FindingChange
	for i := range xs {
		f := &xs[i]
		fp := fingerprint(f)
		if have[fp] {
			continue
		}
		out = append(out, FindingChange{Op: op, Check: f.Check.ID, Slug: f.Check.Slug, Severity: f.Severity.String(),
			Message: f.Message, Element: f.Element, Fingerprint: f.Fingerprint, Suppressed: f.Suppressed(),
			File: f.Pos.File, Line: f.Pos.Line, Column: f.Pos.Col, severity: f.Severity})
	}
	return out
}

// Failing reports whether a new finding fails the gate at threshold: active and at or above it.
func (f FindingChange) Failing(threshold lint.Severity) bool {
	return f.Op == New && !f.Suppressed && f.severity >= threshold
}
