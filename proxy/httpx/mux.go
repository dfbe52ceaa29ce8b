package httpx

import "net/http"

// Mux routes Gatehouse's own endpoints with http.ServeMux patterns
// ("GET /.gatehouse/login", "DELETE /admin/sessions/{id}"); a GET pattern
// also serves HEAD. What ServeMux itself would answer in plain text goes to
// Refuse instead: 404 when no pattern has the request's path, 405 when
// none has its method (the Allow header, which ServeMux derives from the
// patterns, is set first). Its zero value is ready to use; register with
// the embedded ServeMux's Handle and HandleFunc. Safe for concurrent use
// once registered.
type Mux struct {
	http.ServeMux
	// Refuse answers a request that no pattern matches, with status 404
	// or 405. If nil, WriteError answers with the code "not_found" or
	// "method_not_allowed" and the status text.
	Refuse func(w http.ResponseWriter, r *http.Request, status int)
}

// ServeHTTP serves r with the pattern that matches it, or refuses it.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := m.ServeMux.Handler(r)
	if pattern != "" { // a match, or ServeMux's redirect to the clean path
		m.ServeMux.ServeHTTP(w, r)
		return
	}
	// h is ServeMux's own refusal: let it set its status and Allow header
	// on a scratch response, then answer in JSON.
	var scratch refusal
	h.ServeHTTP(&scratch, r)
	status := http.StatusNotFound
	if scratch.status == http.StatusMethodNotAllowed {
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", scratch.header.Get("Allow"))
	}
	if m.Refuse != nil {
		m.Refuse(w, r, status)
		return
	}
	code := "not_found"
	if status == http.StatusMethodNotAllowed {
		code = "method_not_allowed"
	}
	WriteError(w, r, status, code, "")
}

// refusal records the status and headers of ServeMux's plain-text answer
// and drops its body.
type refusal struct {
	header http.Header
	status int
}

func (f *refusal) Header() http.Header {
	if f.header == nil {
		f.header = make(http.Header)
	}
	return f.header
}

func (f *refusal) Write(b []byte) (int, error) { return len(b), nil }

func (f *refusal) WriteHeader(status int) { f.status = status }
