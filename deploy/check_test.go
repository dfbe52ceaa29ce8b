package deploy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
)

// placeholder marks every shipped secret value that must be replaced.
const placeholder = "REPLACE_ME"

// shipped are the kustomizations a user deploys, as rendered for the tests:
// the base, the overlays and the sidecar Component applied to a third-party
// app.
var shipped = []string{
	filepath.Join(kubeDir, "base"),
	filepath.Join(kubeDir, "overlays", "sidecar"),
	filepath.Join(kubeDir, "overlays", "redis"),
	sidecarTestdata,
}

// fillers make a real value for each secret key the manifests ship with a
// placeholder, as the comments in secret.yaml tell the user to.
var fillers = map[string]func(t *testing.T) []byte{
	"signing-key.pem": func(t *testing.T) []byte {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	},
	// The identity provider's key: RSA, as most IdPs sign with RS256.
	"idp-public-key.pem": func(t *testing.T) []byte {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	},
	"admin-token":    randomHex,
	"redis-password": randomHex,
	"users.yaml": func(t *testing.T) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return []byte("- username: alice\n  password_hash: \"" + string(h) + "\"\n  email: alice@example.com\n  groups: [staff]\n")
	},
}

func randomHex(t *testing.T) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return []byte(hex.EncodeToString(b) + "\n")
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// gatehouseBinary builds ./cmd/gatehouse once for the package's tests.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "gatehouse-deploy-test-"); binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "gatehouse"), "../cmd/gatehouse").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ../cmd/gatehouse: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "gatehouse")
}

// serviceLinks returns the variables Kubernetes injects for the rendered
// Services into a Pod whose enableServiceLinks is not false (headless
// Services have none), with made-up cluster IPs.
func serviceLinks(o *objects, pod *corev1.PodSpec) []string {
	if pod.EnableServiceLinks != nil && !*pod.EnableServiceLinks {
		return nil
	}
	names := make([]string, 0, len(o.services))
	for n := range o.services {
		names = append(names, n)
	}
	sort.Strings(names)
	var env []string
	for i, n := range names {
		s := o.services[n]
		if s.Spec.ClusterIP == corev1.ClusterIPNone || len(s.Spec.Ports) == 0 {
			continue
		}
		ip := fmt.Sprintf("10.96.0.%d", i+10)
		prefix := strings.ToUpper(strings.ReplaceAll(n, "-", "_"))
		first := s.Spec.Ports[0]
		env = append(env,
			prefix+"_SERVICE_HOST="+ip,
			fmt.Sprintf("%s_SERVICE_PORT=%d", prefix, first.Port),
			fmt.Sprintf("%s_PORT=tcp://%s:%d", prefix, ip, first.Port))
		for _, p := range s.Spec.Ports {
			proto := strings.ToUpper(string(p.Protocol))
			if proto == "" {
				proto = "TCP"
			}
			if p.Name != "" {
				env = append(env, fmt.Sprintf("%s_SERVICE_PORT_%s=%d", prefix, strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), p.Port))
			}
			pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, proto)
			env = append(env,
				fmt.Sprintf("%s=%s://%s:%d", pp, strings.ToLower(proto), ip, p.Port),
				pp+"_PROTO="+strings.ToLower(proto),
				fmt.Sprintf("%s_PORT=%d", pp, p.Port),
				pp+"_ADDR="+ip)
		}
	}
	return env
}

// writeRoot writes the files the gatehouse container sees under a temporary
// root, with the config's /etc/gatehouse paths pointed there, and returns
// the root and the environment Kubernetes would give the container: its
// literal env (GATEHOUSE_CONFIG aside) and the service links. fill replaces
// the placeholders first.
func writeRoot(t *testing.T, o *objects, g *gatehousePod, fill bool) (root string, env []string) {
	t.Helper()
	root = t.TempDir()
	for p, content := range g.files {
		if p == configFile {
			content = bytes.ReplaceAll(content, []byte(configDir+"/"), []byte(root+configDir+"/"))
		} else if fill && bytes.Contains(content, []byte(placeholder)) {
			f, ok := fillers[filepath.Base(p)]
			if !ok {
				t.Fatalf("%s holds %s and the test has no real value for it", p, placeholder)
			}
			content = f(t)
		}
		if fill && p != configFile && bytes.Contains(content, []byte(placeholder)) {
			t.Fatalf("%s still holds %s", p, placeholder)
		}
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root}
	for _, e := range g.container.Env {
		if e.ValueFrom == nil && e.Name != "GATEHOUSE_CONFIG" {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	return root, append(env, serviceLinks(o, &g.dep.Spec.Template.Spec)...)
}

// runCheck runs `gatehouse check` on what writeRoot wrote.
func runCheck(t *testing.T, o *objects, g *gatehousePod, fill bool) (string, error) {
	t.Helper()
	root, env := writeRoot(t, o, g, fill)
	cmd := exec.Command(gatehouseBinary(t), "check", "-config", filepath.Join(root, configFile))
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestShippedConfigsPassCheck renders what a user deploys, fills every
// placeholder as secret.yaml's comments say (an RSA IdP key, an EC signing
// key, a random admin token, a bcrypt users file, a Redis password) and runs
// `gatehouse check` on the mounted files, with the service-link variables
// Kubernetes injects: it must pass. With the placeholders left in, it must
// not, and it names every file that still holds one.
func TestShippedConfigsPassCheck(t *testing.T) {
	for _, dir := range shipped {
		t.Run(strings.TrimPrefix(filepath.ToSlash(dir), kubeDir+"/"), func(t *testing.T) {
			o := render(t, dir)
			g := findGatehouse(t, o)
			g.files = mountedFiles(t, o, &g.dep.Spec.Template.Spec, g.container)
			if out, err := runCheck(t, o, g, true); err != nil {
				t.Errorf("gatehouse check with the placeholders filled: %v\n%s", err, out)
			} else if !strings.Contains(out, "OK") {
				t.Errorf("gatehouse check output %q, want OK", out)
			}
			// Unfilled, check names every file that holds a placeholder.
			out, err := runCheck(t, o, g, false)
			if err == nil {
				t.Errorf("gatehouse check passes with the placeholders in place:\n%s", out)
			}
			for p, content := range g.files {
				if p == configFile || !bytes.Contains(content, []byte(placeholder)) {
					continue
				}
				if want := p + ": still holds the shipped placeholder (REPLACE_ME); put the real "; !strings.Contains(out, want) {
					t.Errorf("gatehouse check with the placeholders in place does not say %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestPlaceholdersUniform: every value of every shipped Secret is a
// placeholder holding REPLACE_ME (and nothing else marks one), so that users
// can grep for it and `check` can refuse it.
func TestPlaceholdersUniform(t *testing.T) {
	secrets := 0
	for _, dir := range shipped {
		o := render(t, dir)
		for name, s := range o.secrets {
			secrets++
			data := map[string][]byte{}
			for k, v := range s.Data {
				data[k] = v
			}
			for k, v := range s.StringData {
				data[k] = []byte(v)
			}
			for k, v := range data {
				if !bytes.Contains(v, []byte(placeholder)) {
					t.Errorf("%s: Secret %s key %s holds no %s", dir, name, k, placeholder)
				}
				if bytes.Contains(bytes.ToUpper(v), []byte("PLACEHOLDER")) {
					t.Errorf("%s: Secret %s key %s says PLACEHOLDER; mark placeholders with %s only", dir, name, k, placeholder)
				}
				if _, ok := fillers[k]; !ok {
					t.Errorf("%s: Secret %s key %s: no filler in this test", dir, name, k)
				}
			}
		}
	}
	if secrets == 0 {
		t.Fatal("no Secret rendered")
	}
}
