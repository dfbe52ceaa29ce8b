package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"time"
)

// serveBare is the baseline: httputil.ReverseProxy with Rewrite and a
// connection pool tuned like Gatehouse's, nothing else. statsAddr serves
// the process's malloc count for allocs/request.
func serveBare(listen, upstream, statsAddr string) error {
	u, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.Out.Host = pr.In.Host; pr.SetXForwarded() },
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
	go func() { _ = http.ListenAndServe(statsAddr, http.HandlerFunc(mallocs)) }()
	return http.ListenAndServe(listen, rp)
}

func mallocs(w http.ResponseWriter, _ *http.Request) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Fprintf(w, "go_memstats_mallocs_total %d\n", m.Mallocs)
}
