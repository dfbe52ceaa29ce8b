package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// loadResult is what one load run measured.
type loadResult struct {
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
	FirstErr string // the first failure seen, for the notes
}

// RPS is successful requests per second.
func (r loadResult) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// runLoad sends GET url with header from conc keep-alive connections for
// warmup (not measured) and then d, and reports throughput and latency.
// Answers other than 200 count as errors.
func runLoad(url string, header http.Header, conc int, warmup, d time.Duration) loadResult {
	tr := &http.Transport{
		MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true, Proxy: nil,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), warmup+d)
	defer cancel()
	measureFrom := time.Now().Add(warmup)
	lat := make([][]time.Duration, conc)
	errs := make([]int, conc)
	first := make([]string, conc)
	var wg sync.WaitGroup
	for i := range conc {
		lat[i] = make([]time.Duration, 0, 1<<16)
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			req.Header = header
			for ctx.Err() == nil {
				start := time.Now()
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode == 200
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
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := loadResult{Requests: len(all), Elapsed: d}
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
