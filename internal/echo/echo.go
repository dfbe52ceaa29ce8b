// Package echo is the demo upstream (`gatehouse demo-upstream`): an app that
// answers every request with the method, path, query and headers it received,
// as JSON. Tests use it as a real upstream to see exactly what Gatehouse
// forwarded.
package echo

import (
	"encoding/json"
	"io"
	"net/http"
)

// Request is the JSON an echo server answers with.
type Request struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	RawPath string              `json:"raw_path,omitempty"`
	Query   string              `json:"query,omitempty"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body,omitempty"`
}

// Handler echoes requests. Bodies up to 64 KiB are echoed too.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(Request{
			Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, Query: r.URL.RawQuery,
			Host: r.Host, Headers: r.Header, Body: string(body),
		})
	})
}
