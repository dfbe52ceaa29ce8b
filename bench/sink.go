package main

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
)

// traceSink stands in for an OTLP/HTTP collector in the tracing scenario:
// it accepts POST /v1/traces, reads the body and answers 200 with an empty
// ExportTraceServiceResponse (no bytes in protobuf, {} in JSON).
// It does not decode: the bench measures Gatehouse's cost of exporting, and
// the tracing tests check what arrives. It runs in the driver (the load
// CPU), as a collector runs on another machine; it counts what it got, so
// the report can say whether spans arrived at all.
type traceSink struct {
	url            string
	exports, bytes atomic.Int64
	srv            *http.Server
}

func startTraceSink() (*traceSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &traceSink{url: "http://" + l.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.Error(w, "want POST /v1/traces", http.StatusNotFound)
			return
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

func (s *traceSink) close() { _ = s.srv.Close() }
