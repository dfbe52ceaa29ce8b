package tokens

import (
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// formValues is a request body's parameters, each present at most once.
type formValues url.Values

// Get returns the parameter's value, or "".
func (f formValues) Get(name string) string { return url.Values(f).Get(name) }

// readForm reads a form-encoded body of at most MaxBodyBytes. Anything else
// is answered (400 invalid_request, 413) and ok is false. Parameters in the
// query string are ignored; a parameter sent twice is refused (RFC 6749
// §3.2).
func readForm(w http.ResponseWriter, r *http.Request) (form formValues, ok bool) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpx.WriteError(w, r, http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large")
			return nil, false
		}
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "malformed form body")
		return nil, false
	}
	for _, vs := range r.PostForm {
		if len(vs) > 1 {
			httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "a parameter was sent more than once")
			return nil, false
		}
	}
	return formValues(r.PostForm), true
}
