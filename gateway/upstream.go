package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentctl/agentctl/mcp"
	"github.com/agentctl/agentctl/policy"
)

// Upstream is one MCP server behind the gateway, serving the actions of a policy tool.
type Upstream struct {
	Tool    string // the policy's tools: block whose pins name the server's tools
	Command string // a command line: the server runs as a subprocess speaking MCP on stdio
	URL     string // or a Streamable HTTP endpoint
}

// ParseUpstream reads TOOL=stdio:CMD ARGS or TOOL=http(s)://HOST/PATH.
func ParseUpstream(s string) (Upstream, error) {
	tool, target, ok := strings.Cut(s, "=")
	if !ok || tool == "" || target == "" {
		return Upstream{}, fmt.Errorf("upstream %q: want TOOL=stdio:COMMAND or TOOL=http://HOST:PORT/PATH", s)
	}
	switch {
	case strings.HasPrefix(target, "stdio:"):
		return Upstream{Tool: tool, Command: strings.TrimPrefix(target, "stdio:")}, nil
	case strings.HasPrefix(target, "http://"), strings.HasPrefix(target, "https://"):
		return Upstream{Tool: tool, URL: target}, nil
	}
	return Upstream{}, fmt.Errorf("upstream %q: the target must start with stdio: or http(s)://", s)
}

func (u Upstream) String() string {
	if u.URL != "" {
		return u.Tool + "=" + u.URL
	}
	return u.Tool + "=stdio:" + u.Command
}

// Drift policies: what the gateway does with a server whose tools differ from their pins.
const (
	DriftRefuse = "refuse" // the upstream is not served (at start: the gateway does not start)
	DriftWarn   = "warn"   // logged and served
)

// upstream is a connected server.
type upstream struct {
	spec    Upstream
	tool    *policy.Tool
	p       *policy.Policy
	onDrift string
	maxOut  int
	stderr  io.Writer
	log     *slog.Logger

	mu      sync.Mutex
	session *sdk.ClientSession
	out     *lineLimit           // a stdio session's output, nil over HTTP
	tools   map[string]*sdk.Tool // the catalogue, by the server's tool name
}

// errDrift marks a refused catalogue.
var errDrift = errors.New("tools drifted from their pins")

// connect (re)starts the session and checks the catalogue against the pins. mu is held.
func (u *upstream) connect(ctx context.Context) error {
	t, out, err := u.transport(ctx)
	if err != nil {
		return err
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "agentctl-gateway", Version: "1"}, nil)
	s, err := client.Connect(ctx, t, nil)
	if err != nil {
		if tooLarge(err, out) {
			return u.overLimit("its answer to initialize")
		}
		return fmt.Errorf("upstream %s: connect: %w", u.spec, err)
	}
	var list []*sdk.Tool
	for tool, err := range s.Tools(ctx, nil) {
		if err != nil {
			s.Close()
			if tooLarge(err, out) {
				return u.overLimit("its tool list (tools/list)")
			}
			return fmt.Errorf("upstream %s: tools/list: %w", u.spec, err)
		}
		list = append(list, tool)
	}
	cat, err := mcp.NewCatalogue("", list)
	if err != nil {
		s.Close()
		return fmt.Errorf("upstream %s: %w", u.spec, err)
	}
	if drift := mcp.Compare(cat, u.p, u.tool); len(drift) > 0 {
		msgs := make([]string, len(drift))
		for i, d := range drift {
			msgs[i] = fmt.Sprintf("%s: %s", d.Pos, d.Message)
			u.log.Warn("upstream tool drifted from its pin", "upstream", u.spec.Tool, "at", d.Pos.String(), "kind", d.Kind, "message", d.Message)
		}
		if u.onDrift != DriftWarn {
			s.Close()
			return fmt.Errorf("upstream %s: %w (refused; --on-drift warn serves it anyway):\n  %s", u.spec, errDrift, strings.Join(msgs, "\n  "))
		}
	}
	u.session, u.out = s, out
	u.tools = map[string]*sdk.Tool{}
	for _, tool := range cat.Tools {
		u.tools[tool.Name] = tool
	}
	return nil
}

// overLimit says that what the server sent while connecting exceeds --max-output. It does
// not wrap errTooLarge, which names a call's answer.
func (u *upstream) overLimit(what string) error {
	return fmt.Errorf("upstream %s: %s exceeds the output limit of %d bytes (--max-output): raise --max-output, or serve fewer tools", u.spec, what, u.maxOut)
}

func (u *upstream) transport(ctx context.Context) (sdk.Transport, *lineLimit, error) {
	if u.spec.URL != "" {
		hc := &http.Client{Transport: limitBody{next: http.DefaultTransport, max: int64(u.maxOut)}}
		return &sdk.StreamableClientTransport{Endpoint: u.spec.URL, HTTPClient: hc, MaxRetries: -1,
			DisableStandaloneSSE: true, MaxEventSize: u.maxOut}, nil, nil
	}
	words, err := mcp.SplitWords(u.spec.Command)
	if err != nil || len(words) == 0 {
		return nil, nil, fmt.Errorf("upstream %s: command: %v", u.spec, cmpErr(err, "empty command"))
	}
	// The process outlives the connecting context: closing the connection stops it.
	cmd := exec.Command(words[0], words[1:]...)
	cmd.Stderr = u.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("upstream %s: start: %w", u.spec, err)
	}
	lim := &lineLimit{r: out, max: u.maxOut}
	// MCP's stdio messages are single lines, so lim bounds each; the SDK's own frame limit
	// (which also counts the decoder's read-ahead, at most one line more) stays as the
	// bound for a server that breaks its messages over lines.
	return &sdk.IOTransport{Reader: &procReader{Reader: lim, c: out, cmd: cmd}, Writer: in, MaxLineLength: 2*u.maxOut + 2}, lim, nil
}

func cmpErr(err error, msg string) string {
	if err != nil {
		return err.Error()
	}
	return msg
}

// procReader stops the server process when the connection closes its output.
type procReader struct {
	io.Reader
	c    io.Closer
	cmd  *exec.Cmd
	once sync.Once
}

func (r *procReader) Close() error {
	err := r.c.Close()
	r.once.Do(func() {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	})
	return err
}

// limitBody fails an HTTP response body that exceeds max bytes, so an oversized answer
// from an upstream cannot grow the gateway's memory.
type limitBody struct {
	next http.RoundTripper
	max  int64
}

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err == nil && l.max > 0 {
		resp.Body = &limitedReader{rc: resp.Body, left: l.max}
	}
	return resp, err
}

type limitedReader struct {
	rc   io.ReadCloser
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedReader) Close() error { return l.rc.Close() }

// errTooLarge marks an answer larger than the output limit (--max-output).
var errTooLarge = errors.New("the upstream's answer exceeds the output limit")

// errStreamTooLarge marks a stdio server that wrote a message larger than the output limit.
// The connection breaks with every call in flight on it, and which call the message
// answered, if any, is unknown: the line that would say is the one not read.
var errStreamTooLarge = errors.New("the upstream sent a message over the output limit")

// lineLimit fails a stdio server's output once one line (one MCP message) exceeds max
// bytes, so that an oversized answer cannot grow the gateway's memory, and records that it
// did: the connection then breaks, and the call says why.
type lineLimit struct {
	r    io.Reader
	max  int
	line int // bytes of the current line so far
	over atomic.Bool
}

func (l *lineLimit) Read(p []byte) (int, error) {
	if l.over.Load() {
		return 0, errTooLarge
	}
	// Never read past the point where the current line would exceed the limit.
	if room := l.max - l.line + 1; len(p) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	if i := bytes.LastIndexByte(p[:n], '\n'); i >= 0 {
		l.line = n - i - 1
	} else {
		l.line += n
	}
	if l.line > l.max {
		l.over.Store(true)
		return n, errTooLarge
	}
	return n, err
}

// oversized classifies a failed call's error: a stdio message over the line limit
// (errStreamTooLarge), an answer over the HTTP body limit or the SDK's SSE event limit
// (errTooLarge; the SDK keeps only the text of those), or neither. An error the server
// answered is never taken for a size error, whatever its text says.
func oversized(err error, out *lineLimit) error {
	var rpcErr *jsonrpc.Error
	switch {
	case out != nil && out.over.Load():
		return fmt.Errorf("%w: %w", errStreamTooLarge, err)
	case errors.As(err, &rpcErr):
		return err
	case errors.Is(err, errTooLarge):
		return err
	case strings.Contains(err.Error(), errTooLarge.Error()), strings.Contains(err.Error(), "SSE event exceeded"):
		return fmt.Errorf("%w: %w", errTooLarge, err)
	}
	return err
}

// tooLarge tells whether a failed call's error is one of oversized's size errors.
func tooLarge(err error, out *lineLimit) bool {
	err = oversized(err, out)
	return errors.Is(err, errTooLarge) || errors.Is(err, errStreamTooLarge)
}

// connectTimeout bounds a reconnection (a stdio server starting anew), whatever the call's
// own deadline.
const connectTimeout = 30 * time.Second

// call runs the tool on the server, reconnecting first when the last session broke. A
// server whose catalogue drifted while it was away is refused (or flagged) again. ctx must
// not carry the values of the agent's request (detach): the SDK reads its own keys, such as
// the protocol version, from the context, and the upstream speaks its own.
func (u *upstream) call(ctx context.Context, timeout time.Duration, name string, args any) (*sdk.CallToolResult, error) {
	u.mu.Lock()
	if u.session == nil {
		cctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		err := u.connect(cctx)
		cancel()
		if err != nil {
			u.mu.Unlock()
			return nil, err
		}
	}
	s, out := u.session, u.out
	u.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := s.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		err = oversized(err, out)
	}
	var rpcErr *jsonrpc.Error
	if err != nil && ctx.Err() == nil && !errors.As(err, &rpcErr) {
		// Not an answer of the server: the connection may be gone (the server died, or
		// its output broke the frame limit), so the next call reconnects.
		u.mu.Lock()
		if u.session == s {
			u.session = nil
			s.Close()
		}
		u.mu.Unlock()
	}
	return res, err
}

func (u *upstream) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.session != nil {
		u.session.Close()
		u.session = nil
	}
}

// detach returns a context without parent's values that is cancelled with parent, for
// calling upstreams on behalf of an agent's request.
func detach(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := context.AfterFunc(parent, func() { cancel(context.Cause(parent)) })
	return ctx, func() {
		stop()
		cancel(nil)
	}
}
