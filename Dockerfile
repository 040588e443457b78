# Multi-stage build: compile in the Rust image, run in a small Debian image as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release -p contacts-api --bin contacts-api \
    && cp target/release/contacts-api /usr/local/bin/contacts-api

FROM debian:bookworm-slim
# Unpinned on purpose: the image should pick up Debian's security updates when rebuilt.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app contacts \
    && mkdir -p /app/media && chown contacts /app/media
COPY --from=build /usr/local/bin/contacts-api /usr/local/bin/contacts-api
WORKDIR /app
USER 10001
ENV HOST=0.0.0.0 PORT=8000 AVATAR_DIR=/app/media
# 9100: the metrics listener, when METRICS_ADDR is set (say 0.0.0.0:9100).
EXPOSE 8000 9100
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD ["curl", "-fsS", "http://127.0.0.1:8000/healthz"]
ENTRYPOINT ["contacts-api"]
CMD ["serve"]
