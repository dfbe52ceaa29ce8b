package config

import (
	"slices"
	"strings"
	"testing"
)

// serviceLinks is what Kubernetes injects for Services named gatehouse
// (ports http 80 and admin 9090) and gatehouse-metrics in the namespace.
var serviceLinks = []string{
	"GATEHOUSE_SERVICE_HOST=10.96.0.12",
	"GATEHOUSE_SERVICE_PORT=80",
	"GATEHOUSE_SERVICE_PORT_HTTP=80",
	"GATEHOUSE_SERVICE_PORT_ADMIN_API=9090",
	"GATEHOUSE_PORT=tcp://10.96.0.12:80",
	"GATEHOUSE_PORT_80_TCP=tcp://10.96.0.12:80",
	"GATEHOUSE_PORT_80_TCP_PROTO=tcp",
	"GATEHOUSE_PORT_80_TCP_PORT=80",
	"GATEHOUSE_PORT_80_TCP_ADDR=10.96.0.12",
	"GATEHOUSE_PORT_9090_UDP_ADDR=fd00::12",
	"GATEHOUSE_METRICS_SERVICE_HOST=10.96.0.13",
	"GATEHOUSE_METRICS_PORT=tcp://10.96.0.13:9090",
	"GATEHOUSE_METRICS_PORT_9090_TCP_PROTO=tcp",
}

// TestLoadIgnoresServiceLinks: the variables Kubernetes injects for a
// Service named gatehouse are not config and do not stop the start; they are
// reported by IgnoredEnv for a debug line, and real overrides still apply.
func TestLoadIgnoresServiceLinks(t *testing.T) {
	env := append([]string{"GATEHOUSE_LISTEN=:9999"}, serviceLinks...)
	c, err := Load("testdata/full.yaml", env)
	if err != nil {
		t.Fatalf("Load with service links: %v", err)
	}
	if c.Listen != ":9999" {
		t.Errorf("listen %q, want the override :9999", c.Listen)
	}
	var want []string
	for _, kv := range serviceLinks {
		name, _, _ := strings.Cut(kv, "=")
		want = append(want, name)
	}
	slices.Sort(want)
	if got := IgnoredEnv(env); !slices.Equal(got, want) {
		t.Errorf("IgnoredEnv:\ngot  %q\nwant %q", got, want)
	}
}

// TestLoadRefusesNearServiceLinks: anything that is not exactly a service
// link stays an unknown-key error, including link names with a value of the
// wrong shape (GATEHOUSE_PORT=8080 is someone trying to set the port).
func TestLoadRefusesNearServiceLinks(t *testing.T) {
	tests := []struct{ env, want string }{
		{"GATEHOUSE_PORT=8080", `port: unknown key (from GATEHOUSE_PORT)`},
		{"GATEHOUSE_PORT=:8080", `port: unknown key (from GATEHOUSE_PORT)`},
		{"GATEHOUSE_SERVICE_HOST=gatehouse.example.com", `service_host: unknown key (from GATEHOUSE_SERVICE_HOST)`},
		{"GATEHOUSE_SERVICE_PORT=http", `service_port: unknown key (from GATEHOUSE_SERVICE_PORT)`},
		{"GATEHOUSE_SERVICE_NAME=x", `service_name: unknown key (from GATEHOUSE_SERVICE_NAME)`},
		{"GATEHOUSE_PORT_80_TCP_PROTO=http", `port_80_tcp_proto: unknown key (from GATEHOUSE_PORT_80_TCP_PROTO)`},
		{"GATEHOUSE_PORT_80_HTTP=tcp://10.0.0.1:80", `port_80_http: unknown key (from GATEHOUSE_PORT_80_HTTP)`},
		{"GATEHOUSE_PORT_80_TCP_HOST=10.0.0.1", `port_80_tcp_host: unknown key (from GATEHOUSE_PORT_80_TCP_HOST)`},
		{"GATEHOUSE_ADMIN__SERVICE_HOST=10.0.0.1", `admin.service_host: unknown key (from GATEHOUSE_ADMIN__SERVICE_HOST)`},
		{"GATEHOUSE_LISTEN_PORT=8080", `listen_port: unknown key (from GATEHOUSE_LISTEN_PORT)`},
		{"GATEHOUSE_NOPE=1", `nope: unknown key (from GATEHOUSE_NOPE)`},
	}
	for _, tt := range tests {
		env := append([]string{tt.env}, serviceLinks...)
		_, err := Load("testdata/full.yaml", env)
		assertProblems(t, "Load with "+tt.env, err, []string{tt.want})
		if got := IgnoredEnv([]string{tt.env}); len(got) != 0 {
			t.Errorf("IgnoredEnv(%s) = %q, want none", tt.env, got)
		}
	}
}
