# syntax=docker/dockerfile:1
# One image for every role of baedal; the arguments pick the role, as the manifests do:
#   docker run IMAGE api --role order | worker | payment | notify | migrate | reconcile
#
# Stages: `chef` (the toolchain and cargo-chef), `planner` (the dependency recipe, from the
# manifests only), `builder` (dependencies built in their own layer, cached until Cargo.toml or
# Cargo.lock change; then baedal), `runtime` (a slim Debian with CA certificates, the binary and
# a non-root user; no compiler, no shell tools beyond Debian's base).
# No HEALTHCHECK: Kubernetes probes /healthz and /readyz (deploy/k8s).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --package baedal
COPY . .
RUN cargo build --release --locked --package baedal --bin baedal \
    && install -D -m 0755 target/release/baedal /out/baedal

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 baedal \
    && useradd --system --uid 10001 --gid baedal --no-create-home --shell /usr/sbin/nologin baedal
COPY --from=builder /out/baedal /usr/local/bin/baedal
# Listen on every interface in a pod; the data dir only matters to SQLite, which a deployment
# does not use (DATABASE_URL and friends point at PostgreSQL).
ENV BAEDAL_API_ADDR=0.0.0.0:8080 \
    BAEDAL_PAYMENT_ADDR=0.0.0.0:8081 \
    BAEDAL_NOTIFY_ADDR=0.0.0.0:8082 \
    BAEDAL_METRICS_ADDR=0.0.0.0:9090 \
    BAEDAL_DATA_DIR=/tmp/baedal \
    RUST_LOG=info
USER 10001:10001
EXPOSE 8080 8081 8082 9090
ENTRYPOINT ["/usr/local/bin/baedal"]
CMD ["--help"]
