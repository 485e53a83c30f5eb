# syntax=docker/dockerfile:1.7
# Build: librdkafka is compiled from source by rdkafka-sys (no cmake needed).
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libssl-dev zlib1g-dev python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY schema ./schema
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin eventrelay \
 && cp target/release/eventrelay /eventrelay

# Run: small image, non-root, read-only root filesystem friendly.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --no-create-home --shell /usr/sbin/nologin eventrelay \
 && mkdir -p /var/lib/eventrelay /etc/eventrelay \
 && chown 65532:65532 /var/lib/eventrelay
COPY --from=build /eventrelay /usr/local/bin/eventrelay
USER 65532:65532
VOLUME ["/var/lib/eventrelay"]
# Admin: /healthz /readyz /metrics /v1/...
EXPOSE 9464
ENTRYPOINT ["eventrelay"]
CMD ["run", "-c", "/etc/eventrelay/config.toml"]
