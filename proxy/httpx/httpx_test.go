package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestWriteErrorHasAllMembers: every error body carries error,
// error_description and request_id, even when a caller gave no description
// or the request has no ID yet (README "How a request is handled").
func TestWriteErrorHasAllMembers(t *testing.T) {
	withID := httptest.NewRequest("GET", "/x", nil)
	withID = withID.WithContext(WithRequestInfo(withID.Context(), "rid-1", netip.Addr{}))
	for _, tc := range []struct {
		name   string
		r      *http.Request
		status int
		desc   string
	}{
		{"no description", withID, http.StatusNotFound, ""},
		{"no request id", httptest.NewRequest("GET", "/x", nil), http.StatusMethodNotAllowed, ""},
		{"odd status", httptest.NewRequest("GET", "/x", nil), 599, ""},
		{"given", withID, http.StatusBadRequest, "bad thing"},
	} {
		w := httptest.NewRecorder()
		WriteError(w, tc.r, tc.status, "some_code", tc.desc)
		var b map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, k := range []string{"error", "error_description", "request_id"} {
			if s, ok := b[k].(string); !ok || s == "" {
				t.Errorf("%s: member %q missing or empty in %s", tc.name, k, w.Body.String())
			}
		}
		if b["request_id"] != w.Header().Get(RequestIDHeader) && tc.r != withID {
			t.Errorf("%s: request_id %v, header %q", tc.name, b["request_id"], w.Header().Get(RequestIDHeader))
		}
		if tc.desc != "" && b["error_description"] != tc.desc {
			t.Errorf("%s: description %v, want %q", tc.name, b["error_description"], tc.desc)
		}
	}
}
