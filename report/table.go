// Package report renders agentctl results for people and machines: tables, JSON, JUnit and
// the CI formats. Renderers take plain data and an io.Writer; they never decide pass or fail.
package report

import (
	"io"
	"reflect"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twcache"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/agentctl/agentctl/policy"
)

// Table writes rows under header. Unicode borders are used only when unicode is true (a
// terminal); otherwise plain ASCII, so logs and golden files stay portable. Cells are not
// wrapped: messages stay whole on one line, which keeps output greppable.
func Table(w io.Writer, header []string, rows [][]string, unicode bool) error {
	return NewTables(w, unicode).Write(header, rows)
}

// Tables writes a series of tables (one per session, say) with one table writer: a new
// tablewriter.Table allocates a 10,000-entry cache, which at thousands of small tables
// costs more than the tables.
type Tables struct{ t *tablewriter.Table }

// NewTables returns a writer of tables to w, styled as Table.
func NewTables(w io.Writer, unicode bool) *Tables {
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		// Cells are strings: the stringer cache is never read; keep it small, since
		// Reset remakes it at its capacity.
		tablewriter.WithStringerCacheCustom(twcache.NewLRU[reflect.Type, reflect.Value](1)),
	}
	if !unicode {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Symbols: tw.NewSymbols(tw.StyleASCII),
		})))
	}
	return &Tables{t: tablewriter.NewTable(w, opts...)}
}

// Write writes one table: rows under header.
func (ts *Tables) Write(header []string, rows [][]string) error {
	t := ts.t
	t.Reset()
	t.Header(header)
	for _, r := range rows {
		// Cells hold names from policies, recordings and servers: escape them (policy.Escape),
		// so none can move the cursor, clear the screen or break the row.
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = policy.Escape(c)
		}
		if err := t.Append(cells); err != nil {
			return err
		}
	}
	return t.Render()
}
