package deploy

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Names every overlay keeps.
const (
	gatehouseContainer = "gatehouse"
	nonrootUID         = 65532
	configDir          = "/etc/gatehouse"
	configFile         = configDir + "/gatehouse.yaml"
)

// gatehousePod is the Deployment that runs Gatehouse in a rendered overlay,
// with its container and its loaded config.
type gatehousePod struct {
	dep       *appsv1.Deployment
	container *corev1.Container
	cfg       *config.Config
	files     map[string][]byte // mounted file path → content
	// The names of the container's proxy and admin ports: http and admin
	// in the overlays, gatehouse and gatehouse-admin in the sidecar
	// Component (beside an app that may use http).
	httpPortName, adminPortName string
}

// findGatehouse returns the one Deployment with a "gatehouse" container.
func findGatehouse(t *testing.T, o *objects) *gatehousePod {
	t.Helper()
	var found *gatehousePod
	for _, d := range o.deployments {
		for i := range d.Spec.Template.Spec.Containers {
			if c := &d.Spec.Template.Spec.Containers[i]; c.Name == gatehouseContainer {
				if found != nil {
					t.Fatalf("two Deployments run Gatehouse: %s and %s", found.dep.Name, d.Name)
				}
				found = &gatehousePod{dep: d, container: c, httpPortName: "http", adminPortName: "admin"}
				if containerPort(c, intstr.FromString(sidecarHTTPPort)) != 0 {
					found.httpPortName, found.adminPortName = sidecarHTTPPort, sidecarAdminPort
				}
			}
		}
	}
	if found == nil {
		t.Fatal("no Deployment has a container named gatehouse")
	}
	return found
}

// mountedFiles returns the files the container sees under its volume
// mounts, with their content from the rendered ConfigMaps and Secrets.
func mountedFiles(t *testing.T, o *objects, pod *corev1.PodSpec, c *corev1.Container) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != m.Name {
				continue
			}
			var sources []corev1.VolumeProjection
			switch {
			case v.Projected != nil:
				sources = v.Projected.Sources
			case v.ConfigMap != nil:
				sources = []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: v.ConfigMap.LocalObjectReference, Items: v.ConfigMap.Items}}}
			case v.Secret != nil:
				sources = []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: v.Secret.SecretName}, Items: v.Secret.Items}}}
			}
			for _, s := range sources {
				data, items, ok := sourceData(o, s)
				if !ok {
					t.Errorf("volume %s: a ConfigMap or Secret it names is not in the overlay", v.Name)
					continue
				}
				if items == nil {
					for k := range data {
						items = append(items, corev1.KeyToPath{Key: k, Path: k})
					}
				}
				for _, it := range items {
					b, ok := data[it.Key]
					if !ok {
						t.Errorf("volume %s: key %q is not in its source", v.Name, it.Key)
					}
					files[path.Join(m.MountPath, it.Path)] = b
				}
			}
		}
	}
	return files
}

// sourceData returns the data of the ConfigMap or Secret a projection
// names and the items it selects; ok is false when the object is missing.
func sourceData(o *objects, s corev1.VolumeProjection) (data map[string][]byte, items []corev1.KeyToPath, ok bool) {
	data = map[string][]byte{}
	switch {
	case s.ConfigMap != nil:
		cm, found := o.configMaps[s.ConfigMap.Name]
		if !found {
			return nil, nil, false
		}
		for k, v := range cm.Data {
			data[k] = []byte(v)
		}
		return data, s.ConfigMap.Items, true
	case s.Secret != nil:
		sec, found := o.secrets[s.Secret.Name]
		if !found {
			return nil, nil, false
		}
		for k, v := range sec.Data {
			data[k] = v
		}
		for k, v := range sec.StringData {
			data[k] = []byte(v)
		}
		return data, s.Secret.Items, true
	}
	return data, nil, true
}

// loadConfig loads the mounted config with the container's literal
// environment, as `gatehouse serve` would, and validates it.
func loadConfig(t *testing.T, g *gatehousePod) {
	t.Helper()
	var environ []string
	confPath := ""
	for _, e := range g.container.Env {
		if e.ValueFrom == nil {
			environ = append(environ, e.Name+"="+e.Value)
		}
		if e.Name == config.EnvConfig {
			confPath = e.Value
		}
	}
	if confPath != configFile {
		t.Fatalf("container env %s = %q, want %q", config.EnvConfig, confPath, configFile)
	}
	b, ok := g.files[confPath]
	if !ok {
		t.Fatalf("%s is not mounted in the gatehouse container", confPath)
	}
	tmp := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(tmp, environ)
	if err != nil {
		t.Fatalf("config.Load of the mounted gatehouse.yaml: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate of the mounted gatehouse.yaml: %v", err)
	}
	g.cfg = cfg
}

// checkHardened checks one container's effective security context: the
// container's own, falling back to the Pod's where Kubernetes does.
func checkHardened(t *testing.T, pod *corev1.PodSpec, c *corev1.Container, wantUID int64) {
	t.Helper()
	sc, psc := c.SecurityContext, pod.SecurityContext
	if sc == nil {
		t.Errorf("container %s: no securityContext", c.Name)
		return
	}
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	nonRoot, uid, seccomp := sc.RunAsNonRoot, sc.RunAsUser, sc.SeccompProfile
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	if uid == nil {
		uid = psc.RunAsUser
	}
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if nonRoot == nil || !*nonRoot {
		t.Errorf("container %s: runAsNonRoot is not true", c.Name)
	}
	switch {
	case uid == nil || *uid == 0:
		t.Errorf("container %s: runAsUser unset or root", c.Name)
	case wantUID != 0 && *uid != wantUID:
		t.Errorf("container %s: runAsUser %d, want %d", c.Name, *uid, wantUID)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container %s: privileged", c.Name)
	}
	if caps := sc.Capabilities; caps == nil || len(caps.Add) > 0 || len(caps.Drop) != 1 || caps.Drop[0] != "ALL" {
		t.Errorf("container %s: capabilities %+v, want drop [ALL] and no add", c.Name, caps)
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container %s: seccompProfile %+v, want RuntimeDefault", c.Name, seccomp)
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[res]; !ok || q.IsZero() {
			t.Errorf("container %s: no %s request", c.Name, res)
		}
		if q, ok := c.Resources.Limits[res]; !ok || q.IsZero() {
			t.Errorf("container %s: no %s limit", c.Name, res)
		}
	}
}

// containerPort returns the port number a Service targetPort or probe port
// means in container c, or 0.
func containerPort(c *corev1.Container, p intstr.IntOrString) int32 {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	return 0
}

// listenPort is the port of a "host:port" listen address, or -1.
func listenPort(addr string) int32 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return -1
	}
	return int32(n)
}

// checkGatehouseContainer checks ports, probes, the config mount and the
// drain time against the loaded config.
func checkGatehouseContainer(t *testing.T, g *gatehousePod) {
	t.Helper()
	c := g.container
	httpPort := containerPort(c, intstr.FromString(g.httpPortName))
	adminPort := containerPort(c, intstr.FromString(g.adminPortName))
	if got := listenPort(g.cfg.Listen); got != httpPort || got <= 0 {
		t.Errorf("listen %q, want the port of container port http (%d)", g.cfg.Listen, httpPort)
	}
	if host, _, _ := net.SplitHostPort(g.cfg.Admin.Listen); host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("admin.listen %q is not reachable by the kubelet's probes; want \":%d\"", g.cfg.Admin.Listen, adminPort)
	}
	if got := listenPort(g.cfg.Admin.Listen); got != adminPort || got <= 0 {
		t.Errorf("admin.listen %q, want the port of container port admin (%d)", g.cfg.Admin.Listen, adminPort)
	}
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("%s probe: none or not httpGet", pr.name)
			continue
		}
		if got := pr.probe.HTTPGet.Path; got != pr.path {
			t.Errorf("%s probe path %q, want %q", pr.name, got, pr.path)
		}
		if got := pr.probe.HTTPGet.Port; got.String() != g.adminPortName {
			t.Errorf("%s probe port %q, want %q", pr.name, got.String(), g.adminPortName)
		}
	}
	checkMountsAndDrain(t, g)
}

// checkMountsAndDrain checks the read-only config mount, that every file the
// config names is mounted, the drain time and the security-relevant keys.
func checkMountsAndDrain(t *testing.T, g *gatehousePod) {
	t.Helper()
	c, pod := g.container, &g.dep.Spec.Template.Spec
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == configDir {
			mounted = m.ReadOnly
		}
	}
	if !mounted {
		t.Errorf("no read-only volume mount at %s", configDir)
	}
	for key, f := range configFiles(g.cfg) {
		if !strings.HasPrefix(f, configDir+"/secrets/") {
			t.Errorf("%s: %q is not under %s/secrets/", key, f, configDir)
		}
		if b, ok := g.files[f]; !ok || len(b) == 0 {
			t.Errorf("%s: %q is not mounted from a ConfigMap or Secret key with content", key, f)
		}
	}
	var preStop int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = c.Lifecycle.PreStop.Sleep.Seconds
	}
	drain := int64(g.cfg.Server.ShutdownTimeout.Seconds()) + preStop
	grace := int64(30) // the Kubernetes default
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	if grace <= drain {
		t.Errorf("terminationGracePeriodSeconds %d, want more than preStop %ds + shutdown_timeout %s", grace, preStop, g.cfg.Server.ShutdownTimeout)
	}
	if !g.cfg.Session.Secure {
		t.Error("session.secure is false")
	}
	if g.cfg.Admin.TokenFile == "" {
		t.Error("admin.token_file is empty: the admin API is off")
	}
}

// configFiles lists the files the config names, by key path.
func configFiles(c *config.Config) map[string]string {
	out := map[string]string{}
	add := func(key, f string) {
		if f != "" {
			out[key] = f
		}
	}
	add("users.file", c.Users.File)
	add("users.htpasswd_file", c.Users.HtpasswdFile)
	add("admin.token_file", c.Admin.TokenFile)
	add("store.redis.password_file", c.Store.Redis.PasswordFile)
	for i, is := range c.JWT.Issuers {
		for j, f := range is.PublicKeyFiles {
			add("jwt.issuers["+strconv.Itoa(i)+"].public_key_files["+strconv.Itoa(j)+"]", f)
		}
		add("jwt.issuers["+strconv.Itoa(i)+"].hmac_secret_file", is.HMACSecretFile)
	}
	add("jwt.issue.signing_key_file", c.JWT.Issue.SigningKeyFile)
	for j, f := range c.JWT.Issue.PreviousKeyFiles {
		add("jwt.issue.previous_key_files["+strconv.Itoa(j)+"]", f)
	}
	return out
}

// checkRoutes checks the routes the contract asks of a deployed config: a
// public health route, a jwt route for /api/ and a session route for /.
func checkRoutes(t *testing.T, cfg *config.Config) {
	t.Helper()
	want := map[string]bool{"none": false, "jwt /api/": false, "session /": false}
	for _, r := range cfg.Routes {
		switch {
		case r.Auth == "none":
			want["none"] = true
		case r.Auth == "jwt" && r.Match.PathPrefix == "/api/":
			want["jwt /api/"] = true
		case r.Auth == "session" && r.Match.PathPrefix == "/":
			want["session /"] = true
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("no %s route", k)
		}
	}
}

// checkPodSecurity checks the Pod of every rendered Deployment.
func checkPodSecurity(t *testing.T, o *objects) {
	t.Helper()
	for name, d := range o.deployments {
		pod := &d.Spec.Template.Spec
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("Deployment %s: automountServiceAccountToken is not false", name)
		}
		for i := range pod.Containers {
			c := &pod.Containers[i]
			var uid int64
			if strings.Contains(c.Image, "gatehouse") {
				uid = nonrootUID
			}
			checkHardened(t, pod, c, uid)
		}
	}
	for name, sa := range o.serviceAccounts {
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount %s: automountServiceAccountToken is not false", name)
		}
	}
}

// checkServices checks that every Service selecting Gatehouse's Pods targets
// a port of the gatehouse container, never the app's, and that the
// ServiceMonitor scrapes /metrics on the admin port.
func checkServices(t *testing.T, o *objects, g *gatehousePod) {
	t.Helper()
	podLabels := labels.Set(g.dep.Spec.Template.Labels)
	adminPort := containerPort(g.container, intstr.FromString(g.adminPortName))
	selecting := 0
	for name, s := range o.services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			continue
		}
		selecting++
		for _, p := range s.Spec.Ports {
			if containerPort(g.container, p.TargetPort) == 0 {
				t.Errorf("Service %s port %s targets %q, not a port of the gatehouse container", name, p.Name, p.TargetPort.String())
			}
		}
	}
	if selecting == 0 {
		t.Error("no Service selects Gatehouse's Pods")
	}
	if len(o.serviceMonitors) == 0 {
		t.Error("no ServiceMonitor")
	}
	for name, sm := range o.serviceMonitors {
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			t.Fatalf("ServiceMonitor %s: %v", name, err)
		}
		for _, ep := range sm.Spec.Endpoints {
			if ep.Path != "/metrics" {
				t.Errorf("ServiceMonitor %s: path %q, want /metrics", name, ep.Path)
			}
			found := false
			for _, s := range o.services {
				if !sel.Matches(labels.Set(s.Labels)) {
					continue
				}
				for _, p := range s.Spec.Ports {
					if p.Name == ep.Port && containerPort(g.container, p.TargetPort) == adminPort {
						found = true
					}
				}
				if job := s.Labels[sm.Spec.JobLabel]; sm.Spec.JobLabel == "" || job != scrapeJob {
					t.Errorf("ServiceMonitor %s: jobLabel %q gives Service %s the job %q, want %q (the alerts' up{job=...})", name, sm.Spec.JobLabel, s.Name, job, scrapeJob)
				}
			}
			if !found {
				t.Errorf("ServiceMonitor %s: port %q is no Service port leading to the admin port", name, ep.Port)
			}
		}
	}
}

// checkSidecarApps checks every other container in Gatehouse's Pod: it
// declares no ports and listens on loopback only, and the upstreams point at
// loopback.
func checkSidecarApps(t *testing.T, g *gatehousePod) {
	t.Helper()
	apps := 0
	for _, c := range g.dep.Spec.Template.Spec.Containers {
		if c.Name == gatehouseContainer {
			continue
		}
		apps++
		if len(c.Ports) > 0 {
			t.Errorf("app container %s declares ports %v", c.Name, c.Ports)
		}
		listen := ""
		for i, a := range c.Args {
			if a == "-listen" && i+1 < len(c.Args) {
				listen = c.Args[i+1]
			}
		}
		ap, err := netip.ParseAddrPort(listen)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("app container %s listens on %q, want a loopback address", c.Name, listen)
		}
	}
	if apps == 0 {
		t.Error("no app container beside Gatehouse")
	}
	ups := []string{g.cfg.Upstream}
	for _, r := range g.cfg.Routes {
		if r.Upstream != "" {
			ups = append(ups, r.Upstream)
		}
	}
	for _, u := range ups {
		pu, err := url.Parse(u)
		if err != nil {
			t.Errorf("upstream %q: %v", u, err)
			continue
		}
		if a, err := netip.ParseAddr(pu.Hostname()); err != nil || !a.IsLoopback() {
			t.Errorf("upstream %q is not the app on loopback", u)
		}
	}
}
