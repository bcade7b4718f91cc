package mcp

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// listRecorder wraps a transport and keeps the raw result of the last tools/list response,
// so a malformed catalogue from a live server is checked in the MCP schema's terms (the
// SDK's decoder reports Go types, and reads a null result as an empty list).
type listRecorder struct {
	sdk.Transport
	mu   sync.Mutex
	ids  map[any]bool
	last json.RawMessage
}

func (r *listRecorder) Connect(ctx context.Context) (sdk.Connection, error) {
	c, err := r.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Connection: c, r: r}, nil
}

// lastResult returns the raw result of the last tools/list response read.
func (r *listRecorder) lastResult() json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

type recordingConn struct {
	sdk.Connection
	r *listRecorder
}

func (c *recordingConn) Write(ctx context.Context, m jsonrpc.Message) error {
	if req, ok := m.(*jsonrpc.Request); ok && req.Method == "tools/list" {
		c.r.mu.Lock()
		if c.r.ids == nil {
			c.r.ids = map[any]bool{}
		}
		c.r.ids[req.ID.Raw()] = true
		c.r.mu.Unlock()
	}
	return c.Connection.Write(ctx, m)
}

func (c *recordingConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	m, err := c.Connection.Read(ctx)
	if resp, ok := m.(*jsonrpc.Response); ok {
		c.r.mu.Lock()
		if c.r.ids[resp.ID.Raw()] {
			delete(c.r.ids, resp.ID.Raw())
			c.r.last = resp.Result
		}
		c.r.mu.Unlock()
	}
	return m, err
}
