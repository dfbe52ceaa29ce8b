package pages

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// errorText is the heading and sentence a person reads for a status.
var errorText = map[int][2]string{
	http.StatusBadRequest:          {"Bad request", "The address of this page is not valid."},
	http.StatusUnauthorized:        {"Sign-in required", "This page needs credentials that were not sent or are not valid."},
	http.StatusForbidden:           {"Access denied", "You are signed in, but you do not have access to this page."},
	http.StatusNotFound:            {"Page not found", "There is nothing at this address."},
	http.StatusMethodNotAllowed:    {"Not allowed", "This page cannot be used this way."},
	http.StatusTooManyRequests:     {"Too many requests", "Please wait a moment and try again."},
	http.StatusInternalServerError: {"Something went wrong", "Gatehouse could not complete this request."},
	http.StatusBadGateway:          {"Application unavailable", "The application behind the sign-in could not be reached. Please try again in a moment."},
	http.StatusServiceUnavailable:  {"Temporarily unavailable", "Sign-in is temporarily unavailable. Please try again in a moment."},
	http.StatusGatewayTimeout:      {"The application did not answer", "The application behind the sign-in took too long to answer. Please try again."},
}

// errorPage is the data of the error page for status.
func errorPage(status int, code, description, requestID string, retry bool) Page {
	t, ok := errorText[status]
	if !ok {
		t = [2]string{http.StatusText(status), fmt.Sprintf("The request could not be completed (%s).", code)}
		if t[0] == "" {
			t[0] = "Error"
		}
	}
	p := Page{Status: status, Heading: t[0], Message: t[1], RequestID: requestID, Retry: retry}
	if status < 500 { // a 5xx description only repeats the message
		p.Detail = sentence(description)
	}
	return p
}

// sentence capitalises s and ends it with a full stop: the JSON bodies'
// descriptions are lower-case phrases.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// WriteError answers with status and the error page; it is the
// httpx.ErrorPageFunc that httpx.WriteError calls for browser navigations.
// The page shows a sentence for the status, description (which, as for
// the JSON body, never holds a credential) and the request ID.
func (s *Set) WriteError(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	retry := status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
	_ = s.Render(w, status, Error, errorPage(status, code, description, httpx.RequestID(r), retry))
}

// WriteSignInError is WriteError for a failed sign-in at an identity
// provider: the page also links to again (a local URL that starts the
// sign-in again).
func (s *Set) WriteSignInError(w http.ResponseWriter, r *http.Request, status int, code, description, again string) {
	retry := status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
	p := errorPage(status, code, description, httpx.RequestID(r), retry)
	if IsLocalPath(again) {
		p.Again = again
	}
	_ = s.Render(w, status, Error, p)
}
