// Package deploy holds no Go code: it owns the files that run Gatehouse in
// production — the Kubernetes manifests (kubernetes/: a kustomize base, the
// sidecar and redis overlays, and the sidecar Component that adds Gatehouse
// to an existing Deployment), the Grafana dashboard (grafana/) and the
// Prometheus alerting rules (prometheus/), documented in README.md —
// together with the repository's Dockerfile and .dockerignore, and the tests
// that check them: every manifest decodes strictly into its Kubernetes type;
// every overlay, and the Component applied to a third-party app
// (testdata/sidecar), renders with kustomize into hardened Pods whose
// Gatehouse config passes `gatehouse check` once the REPLACE_ME
// placeholders are filled with real keys; every NetworkPolicy admits only
// Gatehouse's ports; and every metric the dashboard and alerts query is one
// package metrics registers, with a runbook for every alert.
package deploy
