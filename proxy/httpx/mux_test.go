package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMux(t *testing.T) {
	var refused []int
	plain := new(Mux)
	custom := &Mux{Refuse: func(w http.ResponseWriter, r *http.Request, status int) {
		refused = append(refused, status)
		WriteError(w, r, status, "custom", "refused")
	}}
	for _, m := range []*Mux{plain, custom} {
		m.HandleFunc("GET /a", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("a")) })
		m.HandleFunc("POST /a", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("posted")) })
		m.HandleFunc("DELETE /s/{id}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(r.PathValue("id"))) })
	}
	tests := []struct {
		method, path string
		status       int
		allow, code  string // code: the JSON error of plain; "" for a match
		body         string // the body of a match
	}{
		{"GET", "/a", 200, "", "", "a"},
		{"HEAD", "/a", 200, "", "", "a"}, // the GET handler (the server drops the body)
		{"POST", "/a", 200, "", "", "posted"},
		{"DELETE", "/s/x1", 200, "", "", "x1"},
		{"PUT", "/a", 405, "GET, HEAD, POST", "method_not_allowed", ""},
		{"GET", "/s/x1", 405, "DELETE", "method_not_allowed", ""},
		{"GET", "/b", 404, "", "not_found", ""},
		{"DELETE", "/s/", 404, "", "not_found", ""},
		{"DELETE", "/s/x/y", 404, "", "not_found", ""},
	}
	for _, tt := range tests {
		for _, m := range []*Mux{plain, custom} {
			refused = nil
			w := httptest.NewRecorder()
			m.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
			if w.Code != tt.status || w.Header().Get("Allow") != tt.allow {
				t.Errorf("%s %s = %d Allow %q, want %d Allow %q", tt.method, tt.path, w.Code, w.Header().Get("Allow"), tt.status, tt.allow)
			}
			if tt.code == "" {
				if w.Body.String() != tt.body || len(refused) != 0 {
					t.Errorf("%s %s: body %q, refused %v; want %q served", tt.method, tt.path, w.Body, refused, tt.body)
				}
				continue
			}
			var b ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: body %q (%s): %v; want the JSON error body", tt.method, tt.path, w.Body, w.Header().Get("Content-Type"), err)
				continue
			}
			want := tt.code
			if m == custom {
				want = "custom"
				if len(refused) != 1 || refused[0] != tt.status {
					t.Errorf("%s %s: Refuse called with %v, want [%d]", tt.method, tt.path, refused, tt.status)
				}
			}
			if b.Error != want || b.ErrorDescription == "" || b.RequestID == "" {
				t.Errorf("%s %s: body %+v, want error %q with a description and request_id", tt.method, tt.path, b, want)
			}
		}
	}
}
