# syntax=docker/dockerfile:1
# Multi-stage build: cargo-chef caches the dependency layer so code changes rebuild only icebroker.
FROM rust:1.95-slim-bookworm AS chef
RUN apt-get update && apt-get install -y --no-install-recommends cmake clang pkg-config \
    && rm -rf /var/lib/apt/lists/* \
    && cargo install --locked cargo-chef
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin icebroker

FROM debian:bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin icebroker \
    && mkdir -p /data && chown icebroker:icebroker /data
COPY --from=builder /src/target/release/icebroker /usr/local/bin/icebroker
COPY templates/ /app/templates/
COPY static/ /app/static/
COPY sql/ /app/sql/
WORKDIR /app
USER icebroker
VOLUME ["/data"]
# Secrets come only from the environment or *_FILE mounts, e.g.
#   -e ICEBROKER_MASTER_KEY_FILE=/run/secrets/master.key
ENV ICEBROKER_STORAGE__DATA_DIR=/data \
    ICEBROKER_SERVER__LISTEN=0.0.0.0:8080 \
    ICEBROKER_LOG__FORMAT=json \
    ICEBROKER_VAULT__GENERATE_MASTER_KEY=false
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/icebroker"]
CMD ["serve"]
