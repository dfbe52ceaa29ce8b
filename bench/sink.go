package main

import (
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// traceSink stands in for an OTLP/HTTP collector in the tracing scenario:
// it accepts POST /v1/traces (another path too, reported), reads the body
// and answers 200 with an empty ExportTraceServiceResponse (no bytes in
// protobuf, {} in JSON). It does not decode: the bench measures Gatehouse's cost of exporting, and
// the tracing tests check what arrives. It runs in the driver (the load
// CPU), as a collector runs on another machine; it counts what it got, so
// the report can say whether spans arrived at all.
type traceSink struct {
	url            string
	exports, bytes atomic.Int64
	srv            *http.Server
	mu             sync.Mutex
	otherPath      string // a path other than /v1/traces that was posted to
}

func startTraceSink() (*traceSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &traceSink{url: "http://" + l.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "want POST /v1/traces", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path != "/v1/traces" {
			// Accepted all the same, so the run measures tracing; the
			// report names the path (otlp_endpoint is a base URL).
			s.mu.Lock()
			s.otherPath = r.URL.Path
			s.mu.Unlock()
		}
		n, _ := io.Copy(io.Discard, r.Body)
		s.exports.Add(1)
		s.bytes.Add(n)
		if r.Header.Get("Content-Type") == "application/json" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "{}")
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// strayPath is a path other than /v1/traces that spans were posted to.
func (s *traceSink) strayPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.otherPath
}

func (s *traceSink) close() { _ = s.srv.Close() }
