package gateway

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// endless is a stdio server's output that never ends its line.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'y'
	}
	e.read += len(p)
	return len(p), nil
}

// TestLineLimit: lines up to the limit pass; a longer one fails with errTooLarge having
// read at most one byte past the limit, so an answer without end costs the limit, not
// memory without bound.
func TestLineLimit(t *testing.T) {
	const max = 1000
	ok := strings.Repeat("a", max) + "\n" + strings.Repeat("b", max) + "\n{}\n"
	got, err := io.ReadAll(&lineLimit{r: strings.NewReader(ok), max: max})
	if err != nil || string(got) != ok {
		t.Fatalf("lines of the limit: %d bytes, %v", len(got), err)
	}

	src := &endless{}
	lim := &lineLimit{r: io.MultiReader(strings.NewReader(strings.Repeat("c", max)+"\n"), src), max: max}
	n, err := io.Copy(io.Discard, lim)
	if !errors.Is(err, errTooLarge) || !lim.over.Load() {
		t.Fatalf("an endless line: %v (over %t)", err, lim.over.Load())
	}
	if n != max+1+max+1 || src.read != max+1 {
		t.Errorf("read %d bytes (%d of the endless line), want %d (%d)", n, src.read, 2*max+2, max+1)
	}
	if _, err := lim.Read(make([]byte, 10)); !errors.Is(err, errTooLarge) {
		t.Errorf("after the limit: %v", err)
	}
	if err := oversized(errors.New("calling \"tools/call\": connection closed"), lim); !errors.Is(err, errStreamTooLarge) {
		t.Errorf("a call on a connection broken by the limit: %v", err)
	}
	// Over HTTP the SDK keeps only the text of the body limit's error; a server's own
	// error saying the same words is still the server's.
	if err := oversized(fmt.Errorf("reading body: %s", errTooLarge.Error()), nil); !errors.Is(err, errTooLarge) {
		t.Errorf("the body limit's text: %v", err)
	}
	rpcErr := &jsonrpc.Error{Code: -32000, Message: errTooLarge.Error()}
	if err := oversized(fmt.Errorf("calling tool: %w", rpcErr), nil); tooLarge(err, nil) || !errors.As(err, new(*jsonrpc.Error)) {
		t.Errorf("the server's error: %v", err)
	}
}
