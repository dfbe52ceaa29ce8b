package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// pinning is the taskset prefix for server processes; empty without taskset.
var pinning []string

// serverCPU and loadCPU are the cores servers and the load generator run on.
const serverCPU, loadCPU = "0", "1"

// proc is a server the driver started; stop ends it.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{} // closed when the process has exited
}

// start runs argv (pinned to the server core) with its output to logFile
// ("" keeps it in memory for error messages).
func start(name, logFile string, argv ...string) (*proc, error) {
	argv = append(append([]string(nil), pinning...), argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	p := &proc{name: name, cmd: cmd, out: &bytes.Buffer{}, done: make(chan struct{})}
	var w io.Writer = p.out
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			return nil, err
		}
		w = f
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		if f, ok := w.(*os.File); ok {
			f.Close()
		}
		close(p.done)
	}()
	return p, nil
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitUp is waitHTTP that gives up as soon as p exits.
func waitUp(p *proc, url string) error {
	var exited <-chan struct{} // nil: never ready
	if p != nil {
		exited = p.done
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited (%v) before %s answered", p.name, p.cmd.ProcessState, url)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not up: %w", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr returns a free loopback address.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHTTP waits until url answers (any status), for at most 10 s.
func waitHTTP(url string) error { return waitUp(nil, url) }

// waitTCP waits until addr accepts connections, for at most 10 s.
func waitTCP(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not up: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// buildGatehouse builds the gatehouse binary into dir.
func buildGatehouse(dir string) (string, error) {
	bin := filepath.Join(dir, "gatehouse")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/gatehouse (run from the repository root): %w\n%s", err, out)
	}
	return bin, nil
}

// startRedis starts redis-server without persistence, or returns "" when
// it is not installed.
func startRedis(dir string) (*proc, string, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", nil
	}
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	p, err := start("redis", "", path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err != nil {
		return nil, "", err
	}
	return p, addr, waitTCP(addr)
}

// startNginx starts nginx as a plain keep-alive reverse proxy to upstream,
// or returns nil when nginx is not installed.
func startNginx(dir, upstream string) (*proc, string, error) {
	path, err := exec.LookPath("nginx")
	if err != nil {
		return nil, "", nil
	}
	addr := freeAddr()
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/nginx-body;
  proxy_temp_path %[1]s/nginx-proxy;
  upstream app { server %[2]s; keepalive 64; }
  server {
    listen %[3]s;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`, dir, strings.TrimPrefix(upstream, "http://"), addr)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	p, err := start("nginx", "", path, "-p", dir, "-c", cf)
	if err != nil {
		return nil, "", err
	}
	return p, "http://" + addr, waitHTTP("http://" + addr + "/")
}

// startNginxAuth starts nginx with the shipped forward-auth server block
// (deploy/forward-auth/nginx.conf), asking gatehouse with auth_request in
// front of upstream, or returns nil when nginx is not installed.
func startNginxAuth(dir, upstream, gatehouse string) (*proc, string, error) {
	path, err := exec.LookPath("nginx")
	if err != nil {
		return nil, "", nil
	}
	site, err := os.ReadFile(filepath.Join("deploy", "forward-auth", "nginx.conf"))
	if err != nil {
		return nil, "", err
	}
	addr := freeAddr()
	r := strings.NewReplacer("listen 80;", "listen "+addr+";",
		"server 127.0.0.1:8080;", "server "+strings.TrimPrefix(gatehouse, "http://")+";",
		"server 127.0.0.1:3000;", "server "+strings.TrimPrefix(upstream, "http://")+";",
		"keepalive 32;", "keepalive 64;")
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx-auth.pid;
error_log %[1]s/nginx-auth-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/nginx-body;
  proxy_temp_path %[1]s/nginx-proxy;
%[2]s
}
`, dir, r.Replace(string(site)))
	cf := filepath.Join(dir, "nginx-auth.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	p, err := start("nginx-auth", "", path, "-p", dir, "-c", cf)
	if err != nil {
		return nil, "", err
	}
	return p, "http://" + addr, waitHTTP("http://" + addr + "/public-check")
}
