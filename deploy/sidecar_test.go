package deploy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	// sidecarTestdata applies the Component to a third-party app.
	sidecarTestdata = "testdata/sidecar"
	// The gatehouse container's port names in the Component.
	sidecarHTTPPort  = "gatehouse"
	sidecarAdminPort = "gatehouse-admin"
	// monitoringNamespace may reach the admin port.
	monitoringNamespace = "monitoring"
)

// readVendorDeployment decodes the app's Deployment as its vendor ships it.
func readVendorDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sidecarTestdata, "webshop", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d := new(appsv1.Deployment)
	if err := yaml.UnmarshalStrict(b, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSidecarComponent applies the Component to a plain third-party
// Deployment and Service and checks the result: a hardened gatehouse
// container with probes on its admin port and a config that loads, every
// file the config names mounted, the app's own container, volumes and
// settings untouched, the Service switched to Gatehouse's port, metrics
// scraped, and a NetworkPolicy that admits Gatehouse's port only (the admin
// port from the monitoring namespace only).
func TestSidecarComponent(t *testing.T) {
	o := render(t, sidecarTestdata)
	g := findGatehouse(t, o)
	if g.httpPortName != sidecarHTTPPort {
		t.Fatalf("gatehouse container ports %v, want one named %q", g.container.Ports, sidecarHTTPPort)
	}
	g.files = mountedFiles(t, o, &g.dep.Spec.Template.Spec, g.container)
	loadConfig(t, g)
	pod := &g.dep.Spec.Template.Spec
	checkHardened(t, pod, g.container, nonrootUID)
	checkGatehouseContainer(t, g)
	checkRoutes(t, g.cfg)
	checkServices(t, o, g)

	// The vendor's container, volumes and Pod settings are untouched.
	vendor := readVendorDeployment(t)
	if g.dep.Name != vendor.Name {
		t.Errorf("Gatehouse runs in Deployment %s, want the app's %s", g.dep.Name, vendor.Name)
	}
	var app *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name != gatehouseContainer {
			if app != nil {
				t.Fatalf("two app containers: %s and %s", app.Name, pod.Containers[i].Name)
			}
			app = &pod.Containers[i]
		}
	}
	if app == nil || !reflect.DeepEqual(*app, vendor.Spec.Template.Spec.Containers[0]) {
		t.Errorf("app container changed:\ngot  %+v\nwant %+v", app, vendor.Spec.Template.Spec.Containers[0])
	}
	for _, v := range vendor.Spec.Template.Spec.Volumes {
		found := false
		for _, got := range pod.Volumes {
			found = found || reflect.DeepEqual(got, v)
		}
		if !found {
			t.Errorf("the app's volume %s is gone or changed", v.Name)
		}
	}
	if !reflect.DeepEqual(g.dep.Spec.Selector, vendor.Spec.Selector) {
		t.Errorf("selector changed to %v: the Deployment could not be updated in place", g.dep.Spec.Selector)
	}
	if !reflect.DeepEqual(pod.TerminationGracePeriodSeconds, vendor.Spec.Template.Spec.TerminationGracePeriodSeconds) {
		t.Errorf("terminationGracePeriodSeconds changed to %v", pod.TerminationGracePeriodSeconds)
	}
	for _, v := range pod.Volumes {
		if v.Projected != nil && v.Projected.DefaultMode != nil && *v.Projected.DefaultMode&0o004 == 0 && pod.SecurityContext == nil {
			t.Errorf("volume %s: mode %o is not readable by Gatehouse's user without an fsGroup", v.Name, *v.Projected.DefaultMode)
		}
	}

	// The app's own probes still reach it, or go through a `none` route.
	for _, p := range []*corev1.Probe{app.LivenessProbe, app.ReadinessProbe, app.StartupProbe} {
		if p != nil && p.HTTPGet != nil && !probeReaches(g, app, p.HTTPGet) {
			t.Errorf("app probe on %s %s reaches neither the app nor an auth: none route", p.HTTPGet.Port.String(), p.HTTPGet.Path)
		}
	}
	// The probe deploy/README.md documents for an app bound to 127.0.0.1
	// goes through the Component's open health route; one on a session
	// route would be refused.
	if !probeReaches(g, &corev1.Container{}, &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString(sidecarHTTPPort)}) ||
		probeReaches(g, &corev1.Container{}, &corev1.HTTPGetAction{Path: "/cart", Port: intstr.FromString(sidecarHTTPPort)}) {
		t.Error("the documented probe through Gatehouse (/healthz on port gatehouse) does not reach an auth: none route, or /cart does")
	}

	// The app's Service now leads to Gatehouse.
	svc, ok := o.services[vendor.Name]
	if !ok {
		t.Fatalf("no Service %s", vendor.Name)
	}
	if got := svc.Spec.Ports[0].TargetPort; containerPort(g.container, got) != listenPort(g.cfg.Listen) {
		t.Errorf("Service %s targets %q, want Gatehouse's port", svc.Name, got.String())
	}
	checkNetworkPolicy(t, o, g, app)
}

// probeReaches reports whether an httpGet probe reaches the app: on one of
// its ports, or on Gatehouse's proxy port at a path whose route is open.
func probeReaches(g *gatehousePod, app *corev1.Container, h *corev1.HTTPGetAction) bool {
	if containerPort(app, h.Port) != 0 {
		return true
	}
	return containerPort(g.container, h.Port) == listenPort(g.cfg.Listen) && openRoute(g.cfg, h.Path)
}

// openRoute reports whether the first route matching path is auth: none.
func openRoute(cfg *config.Config, path string) bool {
	for _, r := range cfg.Routes {
		if r.Match.Path == path || (r.Match.PathPrefix != "" && strings.HasPrefix(path, r.Match.PathPrefix)) {
			return r.Auth == "none"
		}
	}
	return false
}

// checkNetworkPolicy checks that exactly one NetworkPolicy selects the Pod,
// that it restricts ingress, and that what it admits is Gatehouse's proxy
// port from anywhere and its admin port from the monitoring namespace only:
// never the app's ports.
func checkNetworkPolicy(t *testing.T, o *objects, g *gatehousePod, app *corev1.Container) {
	t.Helper()
	if app == nil {
		app = &corev1.Container{}
	}
	podLabels := labels.Set(g.dep.Spec.Template.Labels)
	var np *networkingv1.NetworkPolicy
	for name, p := range o.networkPolicies {
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			t.Fatalf("NetworkPolicy %s: %v", name, err)
		}
		if len(p.Spec.PodSelector.MatchLabels)+len(p.Spec.PodSelector.MatchExpressions) == 0 || !sel.Matches(podLabels) {
			continue
		}
		if np != nil {
			t.Errorf("NetworkPolicies %s and %s both select the Pod", np.Name, name)
		}
		np = p
	}
	if np == nil {
		t.Fatal("no NetworkPolicy selects the Pod")
	}
	if !reflect.DeepEqual(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policyTypes %v, want [Ingress]", np.Spec.PolicyTypes)
	}
	proxyPort, adminPort := listenPort(g.cfg.Listen), listenPort(g.cfg.Admin.Listen)
	admitted := map[int32]string{}
	for i, rule := range np.Spec.Ingress {
		if len(rule.Ports) == 0 {
			t.Errorf("ingress rule %d admits every port", i)
			continue
		}
		for _, p := range rule.Ports {
			if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
				t.Errorf("ingress rule %d: protocol %s", i, *p.Protocol)
			}
			if p.Port == nil || p.EndPort != nil {
				t.Errorf("ingress rule %d: a port range or every port", i)
				continue
			}
			n := containerPort(g.container, *p.Port)
			if n == 0 && p.Port.Type == intstr.Int {
				n = p.Port.IntVal
			}
			switch n {
			case proxyPort:
				admitted[n] = "anyone"
			case adminPort:
				if !onlyNamespace(rule.From, monitoringNamespace) {
					t.Errorf("ingress rule %d admits the admin port from %+v, want the %s namespace only", i, rule.From, monitoringNamespace)
				}
				admitted[n] = monitoringNamespace
			default:
				t.Errorf("ingress rule %d admits port %s, which is not Gatehouse's proxy or admin port", i, p.Port.String())
			}
			if containerPort(app, *p.Port) != 0 {
				t.Errorf("ingress rule %d admits the app's port %s", i, p.Port.String())
			}
		}
	}
	if admitted[proxyPort] == "" || admitted[adminPort] == "" {
		t.Errorf("admitted %v, want the proxy port %d and the admin port %d", admitted, proxyPort, adminPort)
	}
	if host, _, _ := net.SplitHostPort(g.cfg.Admin.Listen); host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("admin.listen %q: Prometheus in %s cannot reach it", g.cfg.Admin.Listen, monitoringNamespace)
	}
}

// onlyNamespace reports whether peers admit exactly the namespace ns (by
// its kubernetes.io/metadata.name label) and nothing else.
func onlyNamespace(peers []networkingv1.NetworkPolicyPeer, ns string) bool {
	if len(peers) != 1 {
		return false
	}
	p := peers[0]
	return p.IPBlock == nil && p.PodSelector == nil && p.NamespaceSelector != nil &&
		len(p.NamespaceSelector.MatchExpressions) == 0 &&
		reflect.DeepEqual(p.NamespaceSelector.MatchLabels, map[string]string{"kubernetes.io/metadata.name": ns})
}

// TestSidecarComponentServes runs `gatehouse serve` on what the Component
// mounts, with the placeholders filled and Kubernetes' service links in the
// environment, the listeners moved to free loopback ports and the upstream
// to a stand-in app: it becomes ready, serves the open health route from the
// app, and asks for credentials on the others.
func TestSidecarComponentServes(t *testing.T) {
	o := render(t, sidecarTestdata)
	g := findGatehouse(t, o)
	g.files = mountedFiles(t, o, &g.dep.Spec.Template.Spec, g.container)
	root, env := writeRoot(t, o, g, true)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App", "webshop")
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(app.Close)
	listen, admin := freeAddr(t), freeAddr(t)
	cmd := exec.Command(gatehouseBinary(t), "serve", "-config", filepath.Join(root, configFile))
	cmd.Env = append(env, "GATEHOUSE_LISTEN="+listen, "GATEHOUSE_ADMIN__LISTEN="+admin, "GATEHOUSE_UPSTREAM="+app.URL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("gatehouse output:\n%s", out.String())
		}
	})
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("gatehouse serve exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tt := range []struct {
		path   string
		accept string
		want   int
		app    bool
	}{
		{"/healthz", "", http.StatusOK, true},
		{"/api/orders", "", http.StatusUnauthorized, false},
		{"/cart", "text/html", http.StatusFound, false},
	} {
		req, _ := http.NewRequest("GET", "http://"+listen+tt.path, nil)
		if tt.accept != "" {
			req.Header.Set("Accept", tt.accept)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want || (resp.Header.Get("X-App") == "webshop") != tt.app {
			t.Errorf("GET %s: %d from the app %v, want %d from the app %v", tt.path, resp.StatusCode, resp.Header.Get("X-App") != "", tt.want, tt.app)
		}
	}
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
