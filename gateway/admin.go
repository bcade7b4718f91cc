package gateway

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Roots of OPA's data the admin endpoint may write in embedded mode: operators' documents
// beside the bundle, never the bundle's own roots.
var adminRoots = []string{"agentctl_revocations", ApprovalsRoot, "agentctl_lists"}

// AdminHandler serves the operator's endpoint, for the platform and operators, never for
// agents: it is authenticated by its own bearer token and belongs on its own listener.
//
//	POST   /v1/tasks             {"agent": NAME}  -> {"task", "record"}: start a task
//	PUT    /v1/data/ROOT/PATH    JSON document    (embedded OPA only: OPA's Data API shape)
//	DELETE /v1/data/ROOT/PATH
//
// ROOT is agentctl_revocations, agentctl_approvals or agentctl_lists. With a remote OPA,
// operators push to that OPA's Data API instead.
func (g *Gateway) AdminHandler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/tasks", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Agent string `json:"agent"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			http.Error(w, "want {\"agent\": NAME}: "+err.Error(), http.StatusBadRequest)
			return
		}
		rec, tok, err := g.StartTask(body.Agent)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]any{"task": rec.Task, "record": tok})
	})
	data := func(w http.ResponseWriter, r *http.Request) {
		e, ok := g.cfg.PDP.(*Embedded)
		if !ok {
			http.Error(w, "the gateway uses a remote OPA: push data through that OPA's Data API", http.StatusNotFound)
			return
		}
		path := strings.Trim(r.PathValue("path"), "/")
		root, _, _ := strings.Cut(path, "/")
		if !slices.Contains(adminRoots, root) {
			http.Error(w, fmt.Sprintf("only %s may be written here", strings.Join(adminRoots, ", ")), http.StatusForbidden)
			return
		}
		var value any
		if r.Method == http.MethodPut {
			if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&value); err != nil || value == nil {
				http.Error(w, "want a JSON document", http.StatusBadRequest)
				return
			}
		}
		if err := e.Put(r.Context(), path, value); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	mux.HandleFunc("PUT /v1/data/{path...}", data)
	mux.HandleFunc("DELETE /v1/data/{path...}", data)
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "admin endpoint: bearer token required", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
