// Package report renders agentctl results for people and machines: tables, JSON, JUnit and
// the CI formats. Renderers take plain data and an io.Writer; they never decide pass or fail.
package report

import (
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/agentctl/agentctl/policy"
)

// Table writes rows under header. Unicode borders are used only when unicode is true (a
// terminal); otherwise plain ASCII, so logs and golden files stay portable. Cells are not
// wrapped: messages stay whole on one line, which keeps output greppable.
func Table(w io.Writer, header []string, rows [][]string, unicode bool) error {
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	}
	if !unicode {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Symbols: tw.NewSymbols(tw.StyleASCII),
		})))
	}
	t := tablewriter.NewTable(w, opts...)
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
