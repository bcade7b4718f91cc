package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/open-policy-agent/opa/v1/logging"
	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/gateway"
	"github.com/agentctl/agentctl/policy"
)

type gatewayFlags struct {
	upstreams                    []string
	listen, adminListen          string
	adminTokenFile               string
	opaURL, opaConfig, bundle    string
	svidCert, svidKey, svidTrust string
	workloadAPI                  string
	jwtAudience, jwtBundle       string
	insecureDev                  bool
	onDrift                      string
	signingKey                   string
	recordTTL                    time.Duration
	maxSessions                  int
	sessionTTL                   time.Duration
	decisionTimeout              time.Duration
	startTimeout                 time.Duration
	upstreamTimeout              time.Duration
	maxOutput                    int
	otlpEndpoint, traceFile      string
	traceArguments               bool

	tempBundle string // the compiled policy, removed at exit
}

func newGatewayCmd() *cobra.Command {
	var f gatewayFlags
	cmd := &cobra.Command{
		Use:   "gateway [DIR] --upstream TOOL=stdio:CMD|TOOL=URL ...",
		Short: "Run the enforcement point: an MCP proxy that asks OPA before every tool call",
		Long: `Gateway serves MCP (Streamable HTTP) to agents in front of upstream MCP servers and enforces
the policy in DIR (default .) on every tools/call before it reaches the upstream.

Each --upstream maps a policy tool to a server: TOOL=stdio:COMMAND ARGS starts it as a
subprocess, TOOL=http://HOST:PORT/PATH speaks Streamable HTTP. The server's tools map to
the tool's actions through the pins 'agentctl import mcp' wrote; a server whose tools drifted
from their pins is refused (--on-drift warn serves it and logs the drift). Agents see as
tools/list only the actions their policy could ever allow, named TOOL.ACTION.

Decisions come from OPA: embedded through OPA's Go SDK (by default, with DIR compiled to a
bundle; --bundle FILE or --opa-config FILE for OPA's own configuration: bundle service,
decision logs, status), or a remote OPA server (--opa-url). A PDP error or timeout denies.

The agent is the authenticated peer: mTLS with X.509-SVIDs (--svid-cert/--svid-key/
--trust-bundle, or --workload-api), or a JWT-SVID bearer (--jwt-audience), mapped to the agent
whose identity.spiffe_id matches. --insecure-dev-identity trusts a header instead: for a
laptop, never for a deployment.

A task is started on the admin listener (POST /v1/tasks, --admin-token-file), which returns a
signed task record; agents present it in the tools/call _meta ("agentctl.dev/task") or the
Agentctl-Task header. See docs/gateway.md.`,
		Example: `  agentctl gateway policy/ --insecure-dev-identity \
    --upstream 'files=stdio:npx -y @modelcontextprotocol/server-filesystem /srv/docs'
  agentctl gateway policy/ --opa-url http://127.0.0.1:8181 --workload-api unix:///run/spire/agent.sock \
    --upstream files=http://127.0.0.1:3001/mcp --admin-token-file /etc/agentctl/admin-token`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd, args) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.upstreams, "upstream", nil, "TOOL=stdio:COMMAND or TOOL=http(s)://HOST:PORT/PATH (repeatable)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8443", "address agents connect to (MCP Streamable HTTP at /mcp)")
	fl.StringVar(&f.adminListen, "admin-listen", "127.0.0.1:8444", "address of the admin endpoint (tasks; data in embedded mode)")
	fl.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the admin endpoint's bearer token (required)")
	fl.StringVar(&f.opaURL, "opa-url", "", "ask this OPA server (REST API) instead of embedding OPA")
	fl.StringVar(&f.opaConfig, "opa-config", "", "embedded OPA's configuration file (OPA's format: bundles, decision_logs, status)")
	fl.StringVar(&f.bundle, "bundle", "", "bundle archive for embedded OPA (default: DIR compiled)")
	fl.StringVar(&f.svidCert, "svid-cert", "", "the gateway's X.509-SVID certificate chain (PEM)")
	fl.StringVar(&f.svidKey, "svid-key", "", "the gateway's X.509-SVID private key (PEM)")
	fl.StringVar(&f.svidTrust, "trust-bundle", "", "X.509 trust bundle of the trust domain (PEM CA certificates)")
	fl.StringVar(&f.workloadAPI, "workload-api", "", "SPIFFE Workload API address for the SVID and bundles (e.g. unix:///run/spire/agent.sock)")
	fl.StringVar(&f.jwtAudience, "jwt-audience", "", "accept JWT-SVID bearer tokens for this audience (TLS without client certificates)")
	fl.StringVar(&f.jwtBundle, "jwt-bundle", "", "JWKS file of the trust domain's JWT-SVID keys (with --svid-cert)")
	fl.BoolVar(&f.insecureDev, "insecure-dev-identity", false, "INSECURE: trust the "+gateway.DevAgentHeader+" header as the caller's identity (development only)")
	fl.StringVar(&f.onDrift, "on-drift", gateway.DriftRefuse, "a server whose tools drifted from their pins: refuse or warn")
	fl.StringVar(&f.signingKey, "signing-key", "", "EC P-256 private key (PEM) signing task records; replicas share it (default: generated, records die with the process)")
	fl.DurationVar(&f.recordTTL, "record-ttl", 24*time.Hour, "how long a task record is accepted")
	fl.IntVar(&f.maxSessions, "max-sessions", 100000, "tasks whose state is kept; the least recently used is dropped first")
	fl.DurationVar(&f.sessionTTL, "session-ttl", 24*time.Hour, "drop a task's state after this long unused")
	fl.DurationVar(&f.startTimeout, "start-timeout", time.Minute, "give up starting when embedded OPA has activated no bundle, or the Workload API has given no SVID, after this long")
	fl.DurationVar(&f.decisionTimeout, "decision-timeout", 2*time.Second, "deny when OPA has not answered after this long")
	fl.DurationVar(&f.upstreamTimeout, "upstream-timeout", 60*time.Second, "fail a call the upstream has not answered after this long")
	fl.IntVar(&f.maxOutput, "max-output", 4<<20, "largest upstream message in bytes; a larger answer fails the call, a larger tool list fails the connection")
	fl.StringVar(&f.otlpEndpoint, "otlp-endpoint", "", "export OTel GenAI spans over OTLP/HTTP to this URL (e.g. http://127.0.0.1:4318/v1/traces)")
	fl.StringVar(&f.traceFile, "trace-file", "", "append OTel GenAI spans to this file as OTLP JSON lines (agentctl replay reads it)")
	fl.BoolVar(&f.traceArguments, "trace-arguments", false, "record tool-call arguments in spans (gen_ai.tool.call.arguments)")
	return cmd
}

func (f *gatewayFlags) validate() error {
	switch {
	case len(f.upstreams) == 0:
		return errors.New("name at least one --upstream TOOL=stdio:COMMAND or TOOL=URL")
	case f.onDrift != gateway.DriftRefuse && f.onDrift != gateway.DriftWarn:
		return fmt.Errorf("--on-drift %q: want refuse or warn", f.onDrift)
	case f.opaURL != "" && (f.opaConfig != "" || f.bundle != ""):
		return errors.New("--opa-url asks a remote OPA: --opa-config and --bundle configure the embedded one")
	case f.opaConfig != "" && f.bundle != "":
		return errors.New("--bundle and --opa-config exclude each other (name the bundle in the configuration)")
	case (f.svidCert != "" || f.svidKey != "" || f.svidTrust != "") && (f.svidCert == "" || f.svidKey == "" || f.svidTrust == ""):
		return errors.New("--svid-cert, --svid-key and --trust-bundle go together")
	case f.svidCert != "" && f.workloadAPI != "":
		return errors.New("--svid-cert and --workload-api exclude each other")
	case f.jwtBundle != "" && f.svidCert == "":
		return errors.New("--jwt-bundle needs --svid-cert (the Workload API provides JWT bundles itself)")
	case f.jwtAudience != "" && f.svidCert == "" && f.workloadAPI == "":
		return errors.New("--jwt-audience needs the gateway's SVID for TLS: --svid-cert ... or --workload-api")
	case f.jwtAudience == "" && f.jwtBundle != "":
		return errors.New("--jwt-bundle needs --jwt-audience")
	case !f.insecureDev && f.svidCert == "" && f.workloadAPI == "":
		return errors.New("no way to authenticate agents: give --svid-cert/--svid-key/--trust-bundle or --workload-api (or, for development only, --insecure-dev-identity)")
	case f.adminTokenFile == "":
		return errors.New("--admin-token-file is required: the admin endpoint starts tasks (POST /v1/tasks)")
	case f.maxSessions < 1 || f.maxOutput < 1:
		return errors.New("--max-sessions and --max-output must be positive")
	case f.startTimeout <= 0:
		return errors.New("--start-timeout must be positive")
	}
	return nil
}

func (f *gatewayFlags) run(cmd *cobra.Command, args []string) error {
	if err := f.validate(); err != nil {
		return inputError(err)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gateway.GCPercent)
	}
	stderr := cmd.ErrOrStderr()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var ups []gateway.Upstream
	for _, s := range f.upstreams {
		u, err := gateway.ParseUpstream(s)
		if err != nil {
			return inputError(err)
		}
		ups = append(ups, u)
	}
	dir, err := policyDir(cmd, args)
	if err != nil {
		return err
	}
	p, err := loadOne(cmd, dir)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(f.adminTokenFile)
	if err != nil {
		return inputError(fmt.Errorf("--admin-token-file: %w", err))
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return inputError(fmt.Errorf("--admin-token-file %s is empty", f.adminTokenFile))
	}

	pdp, err := f.pdp(ctx, p, stderr)
	if f.tempBundle != "" {
		defer os.Remove(f.tempBundle)
	}
	if err != nil {
		return inputError(err)
	}
	defer pdp.Close(context.Background())

	id := gateway.NewIdentity(p)
	var tlsCfg *tls.Config
	var svids *gateway.SVIDs
	switch {
	case f.svidCert != "":
		svids, err = gateway.SVIDFiles(f.svidCert, f.svidKey, f.svidTrust, f.jwtBundle)
	case f.workloadAPI != "":
		svids, err = gateway.WorkloadAPI(ctx, f.workloadAPI, f.jwtAudience != "", f.startTimeout)
	}
	if err != nil {
		return inputError(err)
	}
	if svids != nil {
		defer svids.Close()
		tlsCfg, id.X509 = svids.MTLS(), svids.Bundles
		if f.jwtAudience != "" {
			if svids.JWT == nil {
				return inputError(errors.New("--jwt-audience: no JWT bundle (--jwt-bundle FILE)"))
			}
			id.JWT, id.Audience, id.X509, tlsCfg = svids.JWT, f.jwtAudience, nil, svids.TLS()
		}
	}
	if f.insecureDev {
		id.InsecureDev = true
		log.Warn("INSECURE DEVELOPMENT IDENTITY: any client that reaches " + f.listen + " is whichever agent the " + gateway.DevAgentHeader + " header names; never use --insecure-dev-identity in a deployment")
	}

	signer, err := f.signer()
	if err != nil {
		return inputError(err)
	}
	tel, err := gateway.NewTelemetry(ctx, gateway.TelemetryConfig{Endpoint: f.otlpEndpoint, File: f.traceFile, Arguments: f.traceArguments, Log: log})
	if err != nil {
		return inputError(err)
	}
	defer tel.Shutdown(context.Background())

	gw, err := gateway.New(ctx, gateway.Config{Policy: p, PDP: pdp, Upstreams: ups, OnDrift: f.onDrift, Identity: id,
		Signer: signer, Sessions: gateway.NewSessions(f.maxSessions, f.sessionTTL), DecisionTimeout: f.decisionTimeout,
		UpstreamTimeout: f.upstreamTimeout, MaxOutput: f.maxOutput, Log: log, Telemetry: tel, Stderr: stderr})
	if err != nil {
		return inputError(err)
	}
	defer gw.Close()
	return serveGateway(ctx, log, gw, f.listen, tlsCfg, f.adminListen, token)
}

// pdp starts embedded OPA or connects to the remote one.
func (f *gatewayFlags) pdp(ctx context.Context, p *policy.Policy, stderr io.Writer) (gateway.PDP, error) {
	if f.opaURL != "" {
		return gateway.NewRemote(f.opaURL)
	}
	var config []byte
	switch {
	case f.opaConfig != "":
		raw, err := os.ReadFile(f.opaConfig)
		if err != nil {
			return nil, fmt.Errorf("--opa-config: %w", err)
		}
		config = raw
	case f.bundle != "":
		abs, err := filepath.Abs(f.bundle)
		if err != nil {
			return nil, err
		}
		config = gateway.EmbeddedConfig(abs)
	default:
		path, err := compiledBundle(p)
		if err != nil {
			return nil, err
		}
		f.tempBundle = path
		config = gateway.EmbeddedConfig(path)
	}
	logger := logging.New()
	logger.SetOutput(stderr)
	ctx, cancel := context.WithTimeout(ctx, f.startTimeout)
	defer cancel()
	return gateway.NewEmbedded(ctx, config, logger, logger)
}

// compiledBundle compiles the policy to a bundle archive in a temporary file.
func compiledBundle(p *policy.Policy) (string, error) {
	b, err := compile.Bundle(p)
	if err != nil {
		return "", fmt.Errorf("compile %s: %w", p.Dir, err)
	}
	archive, err := compile.Archive(b)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "agentctl-gateway-*.tar.gz")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(archive); err != nil {
		return "", err
	}
	return f.Name(), nil
}

func (f *gatewayFlags) signer() (*gateway.Signer, error) {
	if f.signingKey != "" {
		return gateway.LoadSigner(f.signingKey, f.recordTTL)
	}
	return gateway.NewSigner(f.recordTTL)
}

// serveGateway serves agents and the admin endpoint until ctx ends.
func serveGateway(ctx context.Context, log *slog.Logger, gw *gateway.Gateway, listen string, tlsCfg *tls.Config, adminListen, token string) error {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return inputError(fmt.Errorf("--listen: %w", err))
	}
	if tlsCfg != nil {
		l = tls.NewListener(l, tlsCfg)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", gw.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(l) }()
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	log.Info("gateway serving agents", "url", scheme+"://"+l.Addr().String()+"/mcp")
	al, err := net.Listen("tcp", adminListen)
	if err != nil {
		srv.Close()
		return inputError(fmt.Errorf("--admin-listen: %w", err))
	}
	admin := &http.Server{Handler: gw.AdminHandler(token), ReadHeaderTimeout: 10 * time.Second}
	servers = append(servers, admin)
	go func() { errc <- admin.Serve(al) }()
	log.Info("admin endpoint", "url", "http://"+al.Addr().String())
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(shut)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
