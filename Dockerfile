# syntax=docker/dockerfile:1
#
# Gatehouse container image.
#
#   make image       # tags gatehouse:$(cat cmd/gatehouse/VERSION), e.g. gatehouse:v0.2.0
#
# or by hand:
#
#   docker build --build-arg VERSION=$(cat cmd/gatehouse/VERSION) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t gatehouse:$(cat cmd/gatehouse/VERSION) .
#
# The binary always reports the version in cmd/gatehouse/VERSION (it is
# embedded); VERSION only sets the image's version label, and the build
# refuses a VERSION that differs from the file. The image tag, the
# manifests' newTag and that file carry the same string (deploy/version_test.go
# checks the manifests).
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
# Empty, or the version in cmd/gatehouse/VERSION (checked below).
ARG VERSION=
ARG COMMIT=unknown
WORKDIR /src
# Dependencies first, so that source edits do not invalidate this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    file="$(cat cmd/gatehouse/VERSION)" && \
    if [ -n "${VERSION}" ] && [ "${VERSION}" != "$file" ]; then \
      echo "VERSION=${VERSION}, but cmd/gatehouse/VERSION holds $file, which the binary reports; pass that, or change the file" >&2; \
      exit 1; \
    fi && \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w -X main.commit=${COMMIT}" \
      -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=
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
