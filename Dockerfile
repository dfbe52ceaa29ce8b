# syntax=docker/dockerfile:1
#
# Gatehouse container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t gatehouse:dev .
#
# The final image is distroless (no shell, no package manager) and runs as
# the unprivileged "nonroot" user (65532). There is deliberately no
# HEALTHCHECK: distroless has no shell or curl to run one, and health is
# checked by Kubernetes liveness (/healthz) and readiness (/readyz) probes on
# the admin port (see deploy/kubernetes).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
# Dependencies first, so that source edits do not invalidate this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="gatehouse" \
      org.opencontainers.image.description="Authenticating reverse proxy: sessions, JWTs, Redis revocation, identity headers" \
      org.opencontainers.image.source="https://github.com/gatehouse-proxy/gatehouse" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/gatehouse /gatehouse
# nonroot:nonroot, numeric so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# 8080: proxy listener (listen); 9090: admin listener (admin.listen, which
# must be ":9090" rather than the default "127.0.0.1:9090" for probes to reach it).
EXPOSE 8080 9090
ENTRYPOINT ["/gatehouse"]
CMD ["serve", "-config", "/etc/gatehouse/gatehouse.yaml"]
