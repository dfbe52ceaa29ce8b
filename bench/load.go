package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadResult is what one load run measured.
type loadResult struct {
	Requests  int // successful requests in the measured window
	Errors    int // failed ones in the window
	Elapsed   time.Duration
	P50, P99  time.Duration
	FirstErr  string // the first failure seen, for the notes
	Exhausted bool   // the header source ran out (cold tokens)
}

// RPS is successful requests per second.
func (r loadResult) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// headerSource gives each request its headers; ok false means it has run
// out and the worker stops. A source is called from every worker at once.
type headerSource func() (h http.Header, ok bool)

// fixedHeader sends h (nil: none) on every request.
func fixedHeader(h http.Header) headerSource {
	return func() (http.Header, bool) { return h, true }
}

// rotate cycles through hs, one after the other across all workers.
func rotate(hs []http.Header) headerSource {
	var n atomic.Uint64
	return func() (http.Header, bool) {
		return hs[(n.Add(1)-1)%uint64(len(hs))], true
	}
}

// once hands out each Authorization value once, then reports ok false.
func once(values []string) headerSource {
	var n atomic.Uint64
	return func() (http.Header, bool) {
		i := n.Add(1) - 1
		if i >= uint64(len(values)) {
			return nil, false
		}
		return http.Header{"Authorization": {values[i]}}, true
	}
}

// loadSpec is one load run: GET url from conc keep-alive connections for
// warmup (not measured), then for duration. mark, if set, runs when the
// measured window opens (it reads the server's counters).
type loadSpec struct {
	url              string
	headers          headerSource
	conc             int
	warmup, duration time.Duration
	mark             func()
}

// runLoad runs s and reports throughput and latency of the measured
// window. Answers other than 200 count as errors.
func runLoad(s loadSpec) loadResult {
	tr := &http.Transport{
		MaxIdleConnsPerHost: s.conc, MaxConnsPerHost: s.conc, DisableCompression: true, Proxy: nil,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), s.warmup+s.duration)
	defer cancel()
	measureFrom := time.Now().Add(s.warmup)
	marked := make(chan struct{})
	time.AfterFunc(s.warmup, func() {
		if s.mark != nil {
			s.mark()
		}
		close(marked)
	})
	lat := make([][]time.Duration, s.conc)
	errs := make([]int, s.conc)
	first := make([]string, s.conc)
	var exhausted atomic.Bool
	var wg sync.WaitGroup
	for i := range s.conc {
		lat[i] = make([]time.Duration, 0, 1<<16)
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", s.url, nil)
			for ctx.Err() == nil {
				h, ok := s.headers()
				if !ok {
					exhausted.Store(true)
					return
				}
				req.Header = h
				start := time.Now()
				resp, err := client.Do(req)
				ok = err == nil && resp.StatusCode == 200
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if start.Before(measureFrom) || ctx.Err() != nil {
					continue
				}
				if !ok {
					if errs[i] == 0 {
						first[i] = describe(resp, err)
					}
					errs[i]++
					continue
				}
				lat[i] = append(lat[i], time.Since(start))
			}
		})
	}
	wg.Wait()
	<-ctx.Done()
	<-marked
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := loadResult{Requests: len(all), Elapsed: s.duration, Exhausted: exhausted.Load()}
	for i, e := range errs {
		r.Errors += e
		if r.FirstErr == "" {
			r.FirstErr = first[i]
		}
	}
	if len(all) > 0 {
		r.P50, r.P99 = all[len(all)/2], all[len(all)*99/100]
	}
	return r
}

func describe(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// prime sends n requests from conc connections, unmeasured, before a
// load: the rotation scenario's first pass, so that its measurement sees
// every token for at least the second time. It returns the failures.
func prime(url string, headers headerSource, conc, n int) (errs int) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var left, failed atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", url, nil)
			for left.Add(-1) >= 0 {
				h, ok := headers()
				if !ok {
					return
				}
				req.Header = h
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(failed.Load())
}
