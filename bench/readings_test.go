package main

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestTraceSink(t *testing.T) {
	s, err := startTraceSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	post := func(path, ctype string) *http.Response {
		t.Helper()
		resp, err := http.Post(s.url+path, ctype, strings.NewReader("spans"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post("/v1/traces", "application/x-protobuf"); r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/x-protobuf" {
		t.Errorf("protobuf export: %s %q", r.Status, r.Header.Get("Content-Type"))
	}
	if r := post("/v1/traces", "application/json"); r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("JSON export: %s %q", r.Status, r.Header.Get("Content-Type"))
	}
	if s.exports.Load() != 2 || s.bytes.Load() != 10 || s.strayPath() != "" {
		t.Errorf("exports, bytes, stray = %d, %d, %q; want 2, 10, none", s.exports.Load(), s.bytes.Load(), s.strayPath())
	}
	if post("/", "application/x-protobuf"); s.strayPath() != "/" {
		t.Errorf("stray path = %q, want /", s.strayPath())
	}
	resp, err := http.Get(s.url + "/v1/traces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %s, want 405", resp.Status)
	}
}

// The /proc readings the table's CPU/req and peak RSS columns come from.
func TestProcStats(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pids := withChildren(os.Getpid())
	found := false
	for _, p := range pids {
		found = found || p == cmd.Process.Pid
	}
	if !found || pids[0] != os.Getpid() {
		t.Errorf("withChildren = %v, want this process first and the child %d", pids, cmd.Process.Pid)
	}
	self := []int{os.Getpid()}
	if err := resetPeak(self); err != nil {
		t.Skip("clear_refs not writable here:", err)
	}
	rss, err := peakRSS(self)
	if err != nil || rss < 1<<20 {
		t.Errorf("peakRSS = %v, %v; want at least 1 MiB", rss, err)
	}
	before, err := cpuTime(self)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		now, err := cpuTime(self)
		if err != nil {
			t.Fatal(err)
		}
		if now > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cpuTime stayed at %v while spinning", now)
		}
		for i := 0; i < 1e6; i++ {
			_ = strings.Repeat("x", i%3)
		}
	}
}

func TestReadCounters(t *testing.T) {
	body := "# HELP go_memstats_mallocs_total x\ngo_memstats_mallocs_total 1.5e+06\n" +
		`gatehouse_store_operations_total{op="exists",result="ok"} 7` + "\n" +
		`gatehouse_store_operations_total{op="get",result="ok"} 5` + "\n" +
		`gatehouse_store_duration_seconds_count{op="get"} 99` + "\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bare" {
			fmt.Fprintln(w, "go_memstats_mallocs_total 42")
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	c, err := readCounters(srv.URL + "/metrics")
	if err != nil || c.mallocs != 1.5e6 || c.storeOps != 12 {
		t.Errorf("gatehouse: %+v, %v; want 1.5e6 mallocs, 12 store ops", c, err)
	}
	c, err = readCounters(srv.URL + "/bare")
	if err != nil || c.mallocs != 42 || !math.IsNaN(c.storeOps) {
		t.Errorf("bare proxy: %+v, %v; want 42 mallocs, no store ops", c, err)
	}
}
