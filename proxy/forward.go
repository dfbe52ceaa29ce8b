package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/gatehouse-proxy/gatehouse/tracing"
)

// DefaultUpstreamTimeout is Options.UpstreamTimeout's zero value: the wait
// for the upstream's response headers.
const DefaultUpstreamTimeout = 60 * time.Second

// forwarder is the ReverseProxy and its hooks.
type forwarder struct {
	h     *Handler
	proxy *httputil.ReverseProxy
}

func newForwarder(h *Handler, transport http.RoundTripper, upstreamTimeout time.Duration) *forwarder {
	if upstreamTimeout <= 0 {
		upstreamTimeout = DefaultUpstreamTimeout
	}
	if transport == nil {
		transport = NewTransport(upstreamTimeout)
	}
	f := &forwarder{h: h}
	f.proxy = &httputil.ReverseProxy{
		Rewrite:        f.rewrite,
		Transport:      transport,
		BufferPool:     bufferPool{},
		ModifyResponse: f.modifyResponse,
		ErrorHandler:   f.errorHandler,
		ErrorLog:       nil,
		// Zero: responses of unknown length and server-sent events are
		// still flushed at every write (ReverseProxy recognises them);
		// others go out as the server's buffer fills, without a write
		// system call per chunk.
		FlushInterval: 0,
	}
	return f
}

// NewTransport returns the upstream transport: a connection pool sized for a
// sidecar's concurrency (Go's default keeps two idle connections per host,
// which under load means a new TCP connection for most requests).
func NewTransport(upstreamTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy: nil, // never send upstream traffic through an environment proxy
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: upstreamTimeout,
		ExpectContinueTimeout: 1 * time.Second,
		DisableCompression:    true, // pass the upstream's encoding through untouched
	}
}

// rewrite builds the upstream request. ReverseProxy has already removed
// hop-by-hop headers (including any named in Connection) and X-Forwarded-*
// from pr.Out, so what is set here cannot be dropped by a client.
func (f *forwarder) rewrite(pr *httputil.ProxyRequest) {
	x := exchangeOf(pr.In.Context())
	h := f.h
	pr.SetURL(x.route.upstream)
	pr.Out.Host = pr.In.Host
	out := pr.Out.Header
	h.strip.strip(out)
	// ServeHTTP's dropUpgrade left at most "Upgrade: websocket", which
	// ReverseProxy re-added after removing hop-by-hop headers; make sure.
	out.Del("Http2-Settings")
	if up := out.Get("Upgrade"); up != "" && !strings.EqualFold(up, "websocket") {
		out.Del("Upgrade")
		out.Del("Connection")
	}
	if !x.route.ForwardAuthorization {
		out.Del("Authorization")
	}
	stripCookies(out, h.ownCookies)
	f.setForwarded(pr)
	out[httpx.RequestIDHeader] = x.idValue[:] // shared with the response: neither is changed in place
	if h.traced {
		tracing.Inject(pr.In.Context(), out) // the server span's traceparent, on the copy ReverseProxy made
	}
	if x.id != nil {
		h.headers.setIdentity(out, x.id)
		if h.assert != nil && h.headers.Assertion != "" {
			if a, err := h.assert.Assert(x.id, x.route.Name); err == nil {
				out.Set(h.headers.Assertion, a)
			} else {
				h.log.ErrorContext(pr.In.Context(), "sign identity assertion", "request_id", x.requestID, "error", err)
			}
		}
	}
	x.upStart = time.Now()
}

// setForwarded sets X-Forwarded-For/-Proto/-Host: replaced from a peer we do
// not trust, extended from a trusted proxy.
func (f *forwarder) setForwarded(pr *httputil.ProxyRequest) {
	in := pr.In.Header
	trusted := isTrusted(httpx.PeerAddr(pr.In.RemoteAddr), f.h.trusted)
	if trusted {
		if prior := in.Values("X-Forwarded-For"); len(prior) > 0 {
			pr.Out.Header["X-Forwarded-For"] = append([]string(nil), prior...)
		}
	}
	pr.SetXForwarded()
	if trusted {
		if v := in.Get("X-Forwarded-Proto"); v != "" {
			pr.Out.Header.Set("X-Forwarded-Proto", v)
		}
		if v := in.Get("X-Forwarded-Host"); v != "" {
			pr.Out.Header.Set("X-Forwarded-Host", v)
		}
	}
}

func (f *forwarder) modifyResponse(resp *http.Response) error {
	x := exchangeOf(resp.Request.Context())
	x.route.upDur.Observe(time.Since(x.upStart).Seconds())
	if c := resp.StatusCode / 100; c >= 1 && c <= 5 {
		x.route.upCodes[c].Inc()
	}
	if f.dropProtectedCookies(resp.Header) {
		f.h.log.WarnContext(resp.Request.Context(), "upstream Set-Cookie for a Gatehouse cookie removed",
			"request_id", x.requestID, "route", x.route.Name)
	}
	return nil
}

// dropProtectedCookies removes the Set-Cookie lines that would set one of
// Gatehouse's own cookies (session, CSRF) in the client, so that an
// upstream cannot fix a victim's session. It reports whether it removed any.
func (f *forwarder) dropProtectedCookies(h http.Header) bool {
	lines := h["Set-Cookie"]
	if len(lines) == 0 || len(f.h.cookies) == 0 {
		return false
	}
	kept := make([]string, 0, len(lines))
	for _, line := range lines {
		name, _, _ := strings.Cut(line, "=")
		if _, ours := f.h.cookies[strings.ToLower(strings.TrimSpace(name))]; !ours {
			kept = append(kept, line)
		}
	}
	if len(kept) == len(lines) {
		return false
	}
	if len(kept) == 0 {
		delete(h, "Set-Cookie")
	} else {
		h["Set-Cookie"] = kept
	}
	return true
}

// cookieSet folds cookie names for dropProtectedCookies. Names are compared
// ignoring case: a lenient cookie parser must not be the way around it.
func cookieSet(names []string) map[string]struct{} {
	s := make(map[string]struct{}, len(names))
	for _, n := range names {
		if n != "" {
			s[strings.ToLower(n)] = struct{}{}
		}
	}
	return s
}

// errorHandler answers when the round trip failed: 408 for a request body
// that stalled past server.body_timeout, nothing for a client that left,
// 400 for a malformed body (bad chunking), and for the upstream's own
// failures 504 on a timeout, 502 otherwise.
func (f *forwarder) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeOf(r.Context())
	berr := x.body.readErr()
	var ne net.Error
	if berr != nil && errors.As(berr, &ne) && ne.Timeout() {
		// A stall past server.body_timeout: the client's fault, not the
		// upstream's (the server has cancelled the context by now).
		f.h.log.InfoContext(r.Context(), "request body timed out", "request_id", x.requestID, "route", x.route.Name)
		httpx.WriteError(w, r, http.StatusRequestTimeout, "request_timeout", "the request body sent nothing for too long")
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		if sw, ok := w.(*statusWriter); ok {
			sw.status = 499 // client closed the request; nothing to send
		}
		return
	}
	if berr != nil {
		// The client's body broke (bad chunking, cut short).
		f.h.log.InfoContext(r.Context(), "request body error", "request_id", x.requestID, "route", x.route.Name, "error", berr)
		httpx.WriteError(w, r, http.StatusBadRequest, "bad_request", "the request body is malformed or was cut short")
		return
	}
	status, code, desc := http.StatusBadGateway, "bad_gateway", "the upstream could not be reached"
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		status, code, desc = http.StatusGatewayTimeout, "gateway_timeout", "the upstream did not answer in time"
	}
	x.route.upCodes[5].Inc()
	f.h.log.ErrorContext(r.Context(), "upstream error", "request_id", x.requestID, "route", x.route.Name, "error", err)
	httpx.WriteError(w, r, status, code, desc)
}

// bufferPool recycles the 32 KiB copy buffers ReverseProxy uses per response.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

func (bufferPool) Get() []byte  { return *(buffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
