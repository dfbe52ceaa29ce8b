package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"
)

// family is one registered metric: its type and label names.
type family struct {
	typ    dto.MetricType
	labels map[string]bool
}

// recorder is a Registerer that keeps what it registers, so that every
// vector can be given one child and so show up in Gather with its labels.
type recorder struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registry.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// touch creates one child of a metric vector, trying label counts until the
// vector accepts one.
func touch(c prometheus.Collector) error {
	for n := 0; n <= 8; n++ {
		lv := make([]string, n)
		var err error
		switch v := c.(type) {
		case *prometheus.CounterVec:
			_, err = v.GetMetricWithLabelValues(lv...)
		case *prometheus.GaugeVec:
			_, err = v.GetMetricWithLabelValues(lv...)
		case *prometheus.HistogramVec:
			_, err = v.GetMetricWithLabelValues(lv...)
		case *prometheus.SummaryVec:
			_, err = v.GetMetricWithLabelValues(lv...)
		case *metrics.FuncGauge:
			v.Set(func() float64 { return 1 }) // exported once it has a source
			return nil
		default:
			return nil // not a vector: always collected
		}
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("%T: no label count accepted", c)
}

// registered returns every metric metrics.New registers, by name.
func registered(t *testing.T) map[string]family {
	t.Helper()
	rec := &recorder{Registry: prometheus.NewRegistry()}
	metrics.New(rec, "test")
	for _, c := range rec.collectors {
		if err := touch(c); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := rec.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]family{}
	for _, mf := range mfs {
		f := family{typ: mf.GetType(), labels: map[string]bool{}}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				f.labels[lp.GetName()] = true
			}
		}
		out[mf.GetName()] = f
	}
	if _, ok := out["gatehouse_requests_total"]; !ok {
		t.Fatalf("gatehouse_requests_total is not among the %d gathered families", len(out))
	}
	return out
}

// targetLabels are attached by Prometheus or the Prometheus Operator at
// scrape time, to every series.
var targetLabels = map[string]bool{"job": true, "instance": true, "namespace": true, "pod": true, "service": true, "container": true, "endpoint": true}

// fixedValues are the label values README "Metrics" fixes, by "metric label"
// or, for every metric, by "label".
var fixedValues = map[string][]string{
	"outcome": {"allowed", "unauthenticated", "forbidden", "revoked", "bad_request", "unavailable", "error"},
	"auth":    {"none", "session", "jwt", "any"},
	"code":    {"1xx", "2xx", "3xx", "4xx", "5xx"},
	"kind":    {"jti", "subject", "session", "family"},
	"gatehouse_store_operations_total result": {"ok", "error"},
	"gatehouse_logins_total result":           {"success", "failure", "rate_limited", "error"},
	"gatehouse_jwks_refreshes_total result":   {"ok", "error"},
	"gatehouse_config_reloads_total result":   {"success", "error"},
}

var (
	seriesRE  = regexp.MustCompile(`\b(gatehouse_[a-zA-Z0-9_]+)(\{[^}]*\})?`)
	matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	groupRE   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	plainAlts = regexp.MustCompile(`^[a-z0-9_]+(\|[a-z0-9_]+)*$`)
)

// checkPromQL checks one expression against the registered metrics: every
// gatehouse_* name (a histogram's _bucket, _sum, _count included) exists,
// selectors use its labels and the fixed values, and grouping labels exist.
// It returns the base metric names used.
func checkPromQL(fams map[string]family, expr string) ([]string, []error) {
	var used []string
	var errs []error
	labelsSeen := map[string]bool{}
	for _, m := range seriesRE.FindAllStringSubmatch(expr, -1) {
		name, base := m[1], m[1]
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suf); ok {
				if f, ok := fams[b]; ok && f.typ == dto.MetricType_HISTOGRAM {
					base = b
				}
			}
		}
		f, ok := fams[base]
		if !ok {
			errs = append(errs, fmt.Errorf("metric %s is not registered by metrics.New", name))
			continue
		}
		used = append(used, base)
		for l := range f.labels {
			labelsSeen[l] = true
		}
		if strings.HasSuffix(name, "_bucket") {
			labelsSeen["le"] = true
		}
		for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			label, op, value := mm[1], mm[2], mm[3]
			if !f.labels[label] && !targetLabels[label] {
				errs = append(errs, fmt.Errorf("%s has no label %q", base, label))
				continue
			}
			allowed, fixed := fixedValues[base+" "+label]
			if !fixed {
				allowed, fixed = fixedValues[label]
			}
			if !fixed || strings.HasPrefix(op, "!") || !plainAlts.MatchString(value) {
				continue
			}
			for _, v := range strings.Split(value, "|") {
				if !contains(allowed, v) {
					errs = append(errs, fmt.Errorf("%s{%s%s%q}: %q is not one of %v", base, label, op, value, v, allowed))
				}
			}
		}
	}
	for _, g := range groupRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !labelsSeen[l] && !targetLabels[l] {
				errs = append(errs, fmt.Errorf("grouping label %q is on none of the metrics of %q", l, expr))
			}
		}
	}
	if strings.Count(expr, "(") != strings.Count(expr, ")") || strings.Count(expr, "{") != strings.Count(expr, "}") {
		errs = append(errs, fmt.Errorf("unbalanced brackets in %q", expr))
	}
	return used, errs
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int                       `json:"id"`
	Type       string                    `json:"type"`
	Title      string                    `json:"title"`
	Datasource *datasourceRef            `json:"datasource"`
	GridPos    *struct{ H, W, X, Y int } `json:"gridPos"`
	Panels     []panel                   `json:"panels"`
	Targets    []struct {
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
}

// dashboardMetrics are the metrics the dashboard must chart.
var dashboardMetrics = []string{
	"gatehouse_requests_total", "gatehouse_request_duration_seconds", "gatehouse_upstream_duration_seconds",
	"gatehouse_upstream_responses_total", "gatehouse_store_operations_total", "gatehouse_store_duration_seconds",
	"gatehouse_logins_total", "gatehouse_jwks_refreshes_total", "gatehouse_config_reloads_total",
	"gatehouse_revocations_total", "gatehouse_auth_duration_seconds",
	"gatehouse_inflight_requests", "gatehouse_store_up", "gatehouse_revocation_subscription_up",
	"gatehouse_config_last_reload_success", "gatehouse_config_last_reload_timestamp_seconds",
}

// subtractedQuantiles finds a difference of two quantiles, which is not the
// quantile of anything (p99 of the total minus p99 of the upstream is not
// what Gatehouse adds to any request).
var subtractedQuantiles = regexp.MustCompile(`histogram_quantile\(.*\)\s*-\s*histogram_quantile\(`)

// TestDashboard checks the Grafana dashboard: it parses, takes its data
// source from the ${datasource} variable, and queries only registered
// metrics, labels and label values, covering every metric it must chart.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/gatehouse.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("parse dashboard: %v", err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want both set and schemaVersion >= 36", d.UID, d.Title, d.SchemaVersion)
	}
	fams := registered(t)
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && string(v.Query) == `"prometheus"` {
			hasDS = true
		}
		if v.Definition != "" {
			if _, errs := checkPromQL(fams, v.Definition); len(errs) > 0 {
				t.Errorf("variable %s: %v", v.Name, errs)
			}
		}
	}
	if !hasDS {
		t.Error(`no "datasource" variable of type datasource with query "prometheus"`)
	}
	charted := map[string]bool{}
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("panel %q: no gridPos", p.Title)
			}
			if len(p.Targets) > 0 && (p.Datasource == nil || p.Datasource.UID != "${datasource}") {
				t.Errorf("panel %q: datasource %+v, want uid ${datasource}", p.Title, p.Datasource)
			}
			for _, tg := range p.Targets {
				used, errs := checkPromQL(fams, tg.Expr)
				for _, err := range errs {
					t.Errorf("panel %q: %v", p.Title, err)
				}
				if subtractedQuantiles.MatchString(tg.Expr) {
					t.Errorf("panel %q: %q subtracts quantiles", p.Title, tg.Expr)
				}
				if len(used) == 0 {
					t.Errorf("panel %q: %q queries no Gatehouse metric", p.Title, tg.Expr)
				}
				for _, u := range used {
					charted[u] = true
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, m := range dashboardMetrics {
		if !charted[m] {
			t.Errorf("no panel charts %s", m)
		}
	}
}

// ruleFile is Prometheus's rule file format.
type ruleFile struct {
	Groups []struct {
		Name     string      `json:"name"`
		Interval string      `json:"interval,omitempty"`
		Rules    []alertRule `json:"rules"`
	} `json:"groups"`
}

// alertRule is one alerting or recording rule.
type alertRule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// requiredAlerts are the alerts the Operations and Adoption issues ask for.
var requiredAlerts = []string{
	"GatehouseUpstream5xxRatioHigh", "GatehouseAuthFailureSpike", "GatehouseStoreErrors",
	"GatehouseStoreUnavailable", "GatehouseJWKSRefreshFailing", "GatehouseNoTraffic",
	"GatehouseDown", "GatehouseConfigReloadFailing",
	"GatehouseInstanceDown", "GatehouseLatencyHigh", "GatehouseRequestErrors",
	"GatehouseStoreDown", "GatehouseRevocationSubscriptionDown",
}

// scrapeJob is the job label of Gatehouse's scrape target: the ServiceMonitors
// take it from the metrics Service's app.kubernetes.io/name (jobLabel).
const scrapeJob = "gatehouse"

// upRE matches Prometheus's own up series of Gatehouse's scrape job.
var upRE = regexp.MustCompile(`\bup\{job="` + scrapeJob + `"\}`)

// promTemplateFuncs stand in for Prometheus's template functions, so that
// annotations can be parsed.
var promTemplateFuncs = template.FuncMap{
	"humanize": fmt.Sprint, "humanize1024": fmt.Sprint, "humanizeDuration": fmt.Sprint,
	"humanizePercentage": fmt.Sprint, "humanizeTimestamp": fmt.Sprint, "query": fmt.Sprint,
	"first": fmt.Sprint, "value": fmt.Sprint, "label": fmt.Sprint, "printf": fmt.Sprintf,
}

// readAlerts parses the rule file strictly.
func readAlerts(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(b, &rf); err != nil {
		t.Fatalf("parse alerts: %v", err)
	}
	return rf
}

// TestAlerts checks the alerting rules: strict format, for/severity/summary/
// description/runbook on each, annotations that parse as templates, runbook
// anchors that exist in deploy/README.md, and registered metrics only.
func TestAlerts(t *testing.T) {
	rf := readAlerts(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	fams := registered(t)
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if seen[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			seen[r.Alert] = true
			checkAlert(t, fams, readme, r)
		}
	}
	var missing []string
	for _, a := range requiredAlerts {
		if !seen[a] {
			missing = append(missing, a)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("missing alerts %v", missing)
	}
}

// checkAlert checks one alerting rule: for, severity, annotations, runbook
// and the metrics of its expression.
func checkAlert(t *testing.T, fams map[string]family, readme []byte, r alertRule) {
	t.Helper()
	if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
		t.Errorf("alert %s: for %q, want a positive duration", r.Alert, r.For)
	}
	if s := r.Labels["severity"]; !contains([]string{"critical", "warning", "info"}, s) {
		t.Errorf("alert %s: severity %q, want critical, warning or info", r.Alert, s)
	}
	for _, a := range []string{"summary", "description", "runbook_url"} {
		if r.Annotations[a] == "" {
			t.Errorf("alert %s: no %s annotation", r.Alert, a)
		}
	}
	for k, v := range r.Annotations {
		checkAnnotation(t, r.Alert, k, v, r.Expr)
	}
	anchor := "/deploy/README.md#" + strings.ToLower(r.Alert)
	if !strings.HasSuffix(r.Annotations["runbook_url"], anchor) {
		t.Errorf("alert %s: runbook_url %q, want one ending in %q", r.Alert, r.Annotations["runbook_url"], anchor)
	}
	if !regexp.MustCompile(`(?m)^#+ ` + r.Alert + `$`).Match(readme) {
		t.Errorf("alert %s: no runbook heading %q in deploy/README.md", r.Alert, r.Alert)
	}
	used, errs := checkPromQL(fams, r.Expr)
	for _, err := range errs {
		t.Errorf("alert %s: %v", r.Alert, err)
	}
	if len(used) == 0 && !upRE.MatchString(r.Expr) {
		t.Errorf("alert %s: %q queries no Gatehouse metric", r.Alert, r.Expr)
	}
}

// checkAnnotation parses an annotation as Prometheus does (with $labels,
// $externalLabels and $value defined), expands it, and checks that every
// $labels.X it uses is a label the expression groups by.
func checkAnnotation(t *testing.T, alert, key, text, expr string) {
	t.Helper()
	const defs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$value := .Value}}"
	tmpl, err := template.New(key).Funcs(promTemplateFuncs).Option("missingkey=zero").Parse(defs + text)
	if err != nil {
		t.Errorf("alert %s: annotation %s: %v", alert, key, err)
		return
	}
	data := struct {
		Labels, ExternalLabels map[string]string
		Value                  float64
	}{map[string]string{}, map[string]string{}, 0.5}
	if err := tmpl.Execute(io.Discard, data); err != nil {
		t.Errorf("alert %s: annotation %s: %v", alert, key, err)
	}
	if !aggregationRE.MatchString(expr) {
		return // no aggregation: the series keep every label
	}
	kept := map[string]bool{}
	for _, g := range groupRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			kept[strings.TrimSpace(l)] = true
		}
	}
	for _, m := range labelRefRE.FindAllStringSubmatch(text, -1) {
		if !kept[m[1]] {
			t.Errorf("alert %s: annotation %s uses $labels.%s, which the expression does not keep", alert, key, m[1])
		}
	}
}

// TestAlertSemantics checks what the Adoption issue asks of particular
// alerts: a per-instance down alert on the scrape job's up series, a reload
// alert on the state gauge (an increase over a window would resolve by
// itself while the bad config is still in place), an alert on
// outcome="error", and a latency alert on the request histogram.
func TestAlertSemantics(t *testing.T) {
	rules := map[string]alertRule{}
	for _, g := range readAlerts(t).Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = r
		}
	}
	tests := []struct {
		alert       string
		must, never *regexp.Regexp
	}{
		{"GatehouseInstanceDown", regexp.MustCompile(`^up\{job="` + scrapeJob + `"\} == 0$`), nil},
		{"GatehouseConfigReloadFailing", regexp.MustCompile(`\(gatehouse_config_last_reload_success\) == 0$`), regexp.MustCompile(`\[|increase|rate|changes`)},
		{"GatehouseRequestErrors", regexp.MustCompile(`gatehouse_requests_total\{outcome="error"\}`), nil},
		{"GatehouseLatencyHigh", regexp.MustCompile(`histogram_quantile\(0\.99, sum by \([^)]*\ble\b[^)]*\) \(rate\(gatehouse_request_duration_seconds_bucket`), nil},
		{"GatehouseStoreDown", regexp.MustCompile(`\(gatehouse_store_up\) == 0$`), regexp.MustCompile(`\[`)},
		{"GatehouseRevocationSubscriptionDown", regexp.MustCompile(`\(gatehouse_revocation_subscription_up\) == 0$`), regexp.MustCompile(`\[`)},
	}
	for _, tt := range tests {
		r, ok := rules[tt.alert]
		if !ok {
			t.Errorf("no alert %s", tt.alert)
			continue
		}
		expr := strings.TrimSpace(r.Expr)
		if !tt.must.MatchString(expr) {
			t.Errorf("alert %s: %q does not match %s", tt.alert, expr, tt.must)
		}
		if tt.never != nil && tt.never.MatchString(expr) {
			t.Errorf("alert %s: %q matches %s", tt.alert, expr, tt.never)
		}
	}
}

var aggregationRE = regexp.MustCompile(`\b(?:sum|min|max|avg|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)\s*(?:by|without|\()`)

var labelRefRE = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)

// TestCheckPromQL checks the checker itself on expressions it must refuse.
func TestCheckPromQL(t *testing.T) {
	fams := registered(t)
	tests := []struct {
		expr string
		bad  bool
	}{
		{`sum by (route) (rate(gatehouse_requests_total{outcome="allowed"}[5m]))`, false},
		{`histogram_quantile(0.99, sum by (le) (rate(gatehouse_request_duration_seconds_bucket[5m])))`, false},
		{`rate(gatehouse_request_total[5m])`, true},
		{`rate(gatehouse_requests_total_bucket[5m])`, true},
		{`rate(gatehouse_requests_total{outcome="unauthorized"}[5m])`, true},
		{`rate(gatehouse_requests_total{result="ok"}[5m])`, true},
		{`rate(gatehouse_logins_total{result=~"failure|denied"}[5m])`, true},
		{`sum by (op) (rate(gatehouse_requests_total[5m]))`, true},
		{`sum(rate(gatehouse_requests_total[5m])`, true},
	}
	for _, tt := range tests {
		_, errs := checkPromQL(fams, tt.expr)
		if got := len(errs) > 0; got != tt.bad {
			t.Errorf("checkPromQL(%q): got errors %v, want errors %v", tt.expr, errs, tt.bad)
		}
	}
}
