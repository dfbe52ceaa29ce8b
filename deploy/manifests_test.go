package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kubeDir holds the kustomize base and overlays.
const kubeDir = "kubernetes"

// kustomization is the part of kustomize's Kustomization these manifests use;
// decoding into it strictly catches misspelt or unsupported fields.
type kustomization struct {
	APIVersion         string      `json:"apiVersion"`
	Kind               string      `json:"kind"`
	Namespace          string      `json:"namespace,omitempty"`
	Labels             []labelSet  `json:"labels,omitempty"`
	Resources          []string    `json:"resources,omitempty"`
	Components         []string    `json:"components,omitempty"`
	ConfigMapGenerator []generator `json:"configMapGenerator,omitempty"`
	SecretGenerator    []generator `json:"secretGenerator,omitempty"`
	Patches            []patch     `json:"patches,omitempty"`
	Images             []image     `json:"images,omitempty"`
}

type labelSet struct {
	Pairs            map[string]string `json:"pairs"`
	IncludeSelectors bool              `json:"includeSelectors,omitempty"`
	IncludeTemplates bool              `json:"includeTemplates,omitempty"`
}

type generator struct {
	Name     string   `json:"name"`
	Behavior string   `json:"behavior,omitempty"`
	Files    []string `json:"files,omitempty"`
	Literals []string `json:"literals,omitempty"`
}

type patch struct {
	Path   string `json:"path,omitempty"`
	Patch  string `json:"patch,omitempty"`
	Target *struct {
		Kind          string `json:"kind,omitempty"`
		Name          string `json:"name,omitempty"`
		LabelSelector string `json:"labelSelector,omitempty"`
	} `json:"target,omitempty"`
}

type image struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// serviceMonitor is the Prometheus Operator's CRD, reduced to what is used.
type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		JobLabel  string               `json:"jobLabel,omitempty"`
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path,omitempty"`
			Interval string `json:"interval,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// objects is a set of decoded manifests, by kind and name.
type objects struct {
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	serviceAccounts map[string]*corev1.ServiceAccount
	pdbs            map[string]*policyv1.PodDisruptionBudget
	networkPolicies map[string]*networkingv1.NetworkPolicy
	serviceMonitors map[string]*serviceMonitor
	kustomizations  []*kustomization // and Components
}

func newObjects() *objects {
	return &objects{
		deployments:     map[string]*appsv1.Deployment{},
		services:        map[string]*corev1.Service{},
		configMaps:      map[string]*corev1.ConfigMap{},
		secrets:         map[string]*corev1.Secret{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		pdbs:            map[string]*policyv1.PodDisruptionBudget{},
		networkPolicies: map[string]*networkingv1.NetworkPolicy{},
		serviceMonitors: map[string]*serviceMonitor{},
	}
}

// wantAPIVersion is the apiVersion each kind must be written with.
var wantAPIVersion = map[string]string{
	"Deployment":          "apps/v1",
	"Service":             "v1",
	"ConfigMap":           "v1",
	"Secret":              "v1",
	"ServiceAccount":      "v1",
	"PodDisruptionBudget": "policy/v1",
	"NetworkPolicy":       "networking.k8s.io/v1",
	"ServiceMonitor":      "monitoring.coreos.com/v1",
	"Kustomization":       "kustomize.config.k8s.io/v1beta1",
	"Component":           "kustomize.config.k8s.io/v1alpha1",
}

// add decodes one YAML document strictly (unknown or duplicate fields are
// errors) into the type its kind names, and files it.
func (o *objects) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("read kind: %w", err)
	}
	if want, ok := wantAPIVersion[tm.Kind]; !ok {
		return fmt.Errorf("kind %q is not one these manifests may use", tm.Kind)
	} else if tm.APIVersion != want {
		return fmt.Errorf("%s has apiVersion %q, want %q", tm.Kind, tm.APIVersion, want)
	}
	switch tm.Kind {
	case "Deployment":
		return decodeInto(doc, o.deployments, func(d *appsv1.Deployment) string { return d.Name })
	case "Service":
		return decodeInto(doc, o.services, func(s *corev1.Service) string { return s.Name })
	case "ConfigMap":
		return decodeInto(doc, o.configMaps, func(c *corev1.ConfigMap) string { return c.Name })
	case "Secret":
		return decodeInto(doc, o.secrets, func(s *corev1.Secret) string { return s.Name })
	case "ServiceAccount":
		return decodeInto(doc, o.serviceAccounts, func(s *corev1.ServiceAccount) string { return s.Name })
	case "PodDisruptionBudget":
		return decodeInto(doc, o.pdbs, func(p *policyv1.PodDisruptionBudget) string { return p.Name })
	case "NetworkPolicy":
		return decodeInto(doc, o.networkPolicies, func(n *networkingv1.NetworkPolicy) string { return n.Name })
	case "ServiceMonitor":
		return decodeInto(doc, o.serviceMonitors, func(s *serviceMonitor) string { return s.Metadata.Name })
	default: // Kustomization or Component
		k := new(kustomization)
		if err := yaml.UnmarshalStrict(doc, k); err != nil {
			return fmt.Errorf("decode %s: %w", tm.Kind, err)
		}
		o.kustomizations = append(o.kustomizations, k)
		return nil
	}
}

func decodeInto[T any](doc []byte, into map[string]*T, name func(*T) string) error {
	v := new(T)
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	n := name(v)
	if n == "" {
		return fmt.Errorf("%T has no metadata.name", v)
	}
	if _, dup := into[n]; dup {
		return fmt.Errorf("two %T named %q", v, n)
	}
	into[n] = v
	return nil
}

// splitYAML returns the non-empty documents of a multi-document YAML stream.
func splitYAML(b []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var v any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			return nil, err
		}
		if v != nil { // not only comments
			docs = append(docs, doc)
		}
	}
}

// render builds a kustomization directory as `kubectl apply -k` would and
// decodes the result strictly.
func render(t *testing.T, dir string) *objects {
	t.Helper()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := resources.AsYaml()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	docs, err := splitYAML(out)
	if err != nil {
		t.Fatalf("split rendered %s: %v", dir, err)
	}
	o := newObjects()
	for i, doc := range docs {
		if err := o.add(doc); err != nil {
			t.Errorf("rendered %s, document %d: %v", dir, i, err)
		}
	}
	return o
}

// yamlFiles lists the .yaml files under dir, sorted.
func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// readKustomizations decodes every kustomization.yaml under kubeDir, by
// directory.
func readKustomizations(t *testing.T) map[string]*kustomization {
	t.Helper()
	out := map[string]*kustomization{}
	for _, f := range yamlFiles(t, kubeDir) {
		if filepath.Base(f) != "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o := newObjects()
		if err := o.add(b); err != nil || len(o.kustomizations) != 1 {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Dir(f)] = o.kustomizations[0]
	}
	return out
}

// TestKustomizationReferences checks that every file or directory a
// kustomization names exists, and that every YAML file is named by one.
func TestKustomizationReferences(t *testing.T) {
	named := map[string]bool{}
	for dir, k := range readKustomizations(t) {
		var refs []string
		refs = append(refs, k.Resources...)
		refs = append(refs, k.Components...)
		for _, g := range append(k.ConfigMapGenerator, k.SecretGenerator...) {
			refs = append(refs, g.Files...)
		}
		for _, p := range k.Patches {
			if p.Path != "" {
				refs = append(refs, p.Path)
			}
			if (p.Path == "") == (p.Patch == "") {
				t.Errorf("%s: a patch needs exactly one of path and patch", dir)
			}
		}
		for _, ref := range refs {
			p := filepath.Join(dir, ref)
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s/kustomization.yaml names %q: %v", dir, ref, err)
			}
			named[p] = true
		}
	}
	for _, f := range yamlFiles(t, kubeDir) {
		if filepath.Base(f) != "kustomization.yaml" && !named[f] {
			t.Errorf("%s is not named by any kustomization.yaml", f)
		}
	}
}

// TestManifestsDecodeStrictly decodes every document of every manifest and
// patch under kubernetes/ into its Kubernetes type, refusing unknown fields.
// Config files (named by a configMapGenerator) are checked by TestConfigs.
func TestManifestsDecodeStrictly(t *testing.T) {
	configs := generatedFiles(t)
	n := 0
	for _, f := range yamlFiles(t, kubeDir) {
		if configs[f] {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := splitYAML(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for i, doc := range docs {
			n++
			if err := newObjects().add(doc); err != nil {
				t.Errorf("%s, document %d: %v", f, i, err)
			}
		}
	}
	if n < 10 {
		t.Errorf("decoded %d documents under %s, want at least 10", n, kubeDir)
	}
}

// generatedFiles is the set of files kustomizations turn into ConfigMaps or
// Secrets.
func generatedFiles(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for dir, k := range readKustomizations(t) {
		for _, g := range append(k.ConfigMapGenerator, k.SecretGenerator...) {
			for _, f := range g.Files {
				out[filepath.Join(dir, f)] = true
			}
		}
	}
	return out
}
