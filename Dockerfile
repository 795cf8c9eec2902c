# syntax=docker/dockerfile:1
# authd: a static binary on a distroless base, run as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t authd .
#   (make image does the same)
#
# Both bases are pinned by digest, with the tag they were taken from beside
# it: a rebuild gets the same bytes until someone moves the pin on purpose.
# To update a pin, look up the tag's current index digest, e.g.
#   docker buildx imagetools inspect golang:1.26-bookworm --format '{{json .Manifest.Digest}}'
#   docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot --format '{{json .Manifest.Digest}}'
# and replace the sha256 below (the build then tells whether it works).
ARG GO_IMAGE=golang:1.26-bookworm@sha256:18aedc16aa19b3fd7ded7245fc14b109e054d65d22ed53c355c899582bbb2113
ARG RUN_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags="-s -w \
        -X github.com/authd/authd/internal/buildinfo.version=${VERSION} \
        -X github.com/authd/authd/internal/buildinfo.commit=${COMMIT} \
        -X github.com/authd/authd/internal/buildinfo.date=${DATE}" \
      -o /out/authd ./cmd/authd

FROM ${RUN_IMAGE}
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
LABEL org.opencontainers.image.title="authd" \
      org.opencontainers.image.description="A self-contained authentication server: PostgreSQL, Valkey, Argon2id, SMTP." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/authd/authd" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}"
COPY --from=build /out/authd /authd
# Every interface inside the container (DEV_MODE alone would listen on
# loopback only); METRICS_ADDR keeps /metrics off the port clients reach.
ENV HTTP_ADDR=:8080 \
    METRICS_ADDR=:9090
EXPOSE 8080 9090
USER nonroot:nonroot
# `authd healthcheck` asks this container's authd for /ready: the image has
# no shell and no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/authd", "healthcheck"]
ENTRYPOINT ["/authd"]
CMD ["serve"]
