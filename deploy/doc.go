// Package deploy holds no Go code: it owns the files that run Gatehouse in
// production — the Kubernetes manifests (kubernetes/, a kustomize base and the
// sidecar and redis overlays), the Grafana dashboard (grafana/) and the
// Prometheus alerting rules (prometheus/) — together with the repository's
// Dockerfile and .dockerignore, and the tests that check them: every manifest
// decodes strictly into its Kubernetes type, every overlay renders with
// kustomize into hardened Pods whose Gatehouse config passes config.Load, and
// every metric the dashboard and alerts query is one package metrics
// registers.
package deploy
