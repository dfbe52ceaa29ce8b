package deploy

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// overlays are the deployable kustomizations.
var overlays = []string{"sidecar", "redis"}

// renderGatehouse renders an overlay and returns it with its Gatehouse Pod,
// config loaded.
func renderGatehouse(t *testing.T, overlay string) (*objects, *gatehousePod) {
	t.Helper()
	o := render(t, filepath.Join(kubeDir, "overlays", overlay))
	g := findGatehouse(t, o)
	g.files = mountedFiles(t, o, &g.dep.Spec.Template.Spec, g.container)
	loadConfig(t, g)
	return o, g
}

// TestOverlays checks what every overlay must have: hardened Pods, probes on
// the admin port, a valid config whose files are all mounted, Services that
// reach Gatehouse only, and an app that listens on loopback.
func TestOverlays(t *testing.T) {
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			o, g := renderGatehouse(t, overlay)
			checkPodSecurity(t, o)
			checkGatehouseContainer(t, g)
			checkRoutes(t, g.cfg)
			checkServices(t, o, g)
			checkSidecarApps(t, g)
			var app *corev1.Container
			for i, c := range g.dep.Spec.Template.Spec.Containers {
				if c.Name != gatehouseContainer {
					app = &g.dep.Spec.Template.Spec.Containers[i]
				}
			}
			checkNetworkPolicy(t, o, g, app)
			replicas := int32(1)
			if r := g.dep.Spec.Replicas; r != nil {
				replicas = *r
			}
			if g.cfg.Store.Type == "memory" && replicas != 1 {
				t.Errorf("memory store with %d replicas: sessions would not be shared", replicas)
			}
		})
	}
}

// TestSidecarOverlay checks the single-Pod setup.
func TestSidecarOverlay(t *testing.T) {
	_, g := renderGatehouse(t, "sidecar")
	if got := g.cfg.Store.Type; got != "memory" {
		t.Errorf("store.type %q, want %q", got, "memory")
	}
	if got := g.cfg.Upstream; got != "http://127.0.0.1:3000" {
		t.Errorf("upstream %q, want %q", got, "http://127.0.0.1:3000")
	}
}

// TestRedisOverlay checks the scaled-out setup: several replicas on a shared
// Redis that the overlay provides, a PodDisruptionBudget that selects
// Gatehouse's Pods, and spreading.
func TestRedisOverlay(t *testing.T) {
	o, g := renderGatehouse(t, "redis")
	if got := g.cfg.Store.Type; got != "redis" {
		t.Errorf("store.type %q, want %q", got, "redis")
	}
	for _, addr := range g.cfg.Store.Redis.Addrs {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Errorf("store.redis.addrs %q: %v", addr, err)
			continue
		}
		s, ok := o.services[host]
		if !ok {
			t.Errorf("store.redis.addrs %q: no Service %q in the overlay", addr, host)
			continue
		}
		if len(s.Spec.Ports) != 1 || strconv.Itoa(int(s.Spec.Ports[0].Port)) != port {
			t.Errorf("store.redis.addrs %q: Service %s ports %v", addr, host, s.Spec.Ports)
		}
	}
	replicas := g.dep.Spec.Replicas
	if replicas == nil || *replicas < 2 {
		t.Fatalf("replicas %v, want at least 2", replicas)
	}
	podLabels := labels.Set(g.dep.Spec.Template.Labels)
	pdbs := 0
	for name, p := range o.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil {
			t.Fatalf("PodDisruptionBudget %s: %v", name, err)
		}
		if !sel.Matches(podLabels) {
			continue
		}
		pdbs++
		for dname, d := range o.deployments {
			if d != g.dep && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("PodDisruptionBudget %s also selects Deployment %s", name, dname)
			}
		}
		switch {
		case p.Spec.MaxUnavailable != nil:
			if v := p.Spec.MaxUnavailable.IntValue(); v < 1 || int32(v) >= *replicas {
				t.Errorf("PodDisruptionBudget %s: maxUnavailable %s with %d replicas", name, p.Spec.MaxUnavailable, *replicas)
			}
		case p.Spec.MinAvailable != nil:
			if v := p.Spec.MinAvailable.IntValue(); v < 1 || int32(v) >= *replicas {
				t.Errorf("PodDisruptionBudget %s: minAvailable %s with %d replicas blocks every drain or protects nothing", name, p.Spec.MinAvailable, *replicas)
			}
		default:
			t.Errorf("PodDisruptionBudget %s: neither maxUnavailable nor minAvailable", name)
		}
	}
	if pdbs != 1 {
		t.Errorf("%d PodDisruptionBudgets select Gatehouse's Pods, want 1", pdbs)
	}
	checkSpread(t, g)
}

// checkSpread checks that Gatehouse's Pods are spread over nodes, by
// topology spread constraints or Pod anti-affinity that select them.
func checkSpread(t *testing.T, g *gatehousePod) {
	t.Helper()
	pod := g.dep.Spec.Template.Spec
	podLabels := labels.Set(g.dep.Spec.Template.Labels)
	var selectors []*metav1.LabelSelector
	for _, c := range pod.TopologySpreadConstraints {
		if c.TopologyKey == "kubernetes.io/hostname" {
			selectors = append(selectors, c.LabelSelector)
		}
	}
	if a := pod.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			selectors = append(selectors, term.LabelSelector)
		}
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			selectors = append(selectors, w.PodAffinityTerm.LabelSelector)
		}
	}
	spread := false
	for _, ls := range selectors {
		sel, err := metav1.LabelSelectorAsSelector(ls)
		if err == nil && ls != nil && sel.Matches(podLabels) {
			spread = true
		}
	}
	if !spread {
		t.Error("no topology spread over kubernetes.io/hostname or Pod anti-affinity selects Gatehouse's Pods")
	}
}
