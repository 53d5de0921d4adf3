# syntax=docker/dockerfile:1
# Keyward: one binary, the web app inside it. Build: docker build -t keyward .
#
# The binary is built by scripts/build-dist.sh, the script `make test` runs too (make
# dist-check, in debug): it builds, then starts the binary alone from an empty directory and
# checks the embedded app, `keyward healthcheck` and SIGTERM. So what this image builds is
# tested where no container engine is available.

# --- 1. The web app (Vite 8 needs Node.js 20.19 or newer) --------------------------------------------
FROM node:20-bookworm-slim AS spa
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
# The typed GraphQL operations are generated from the server's schema.
COPY schema.graphql /src/schema.graphql
RUN npm run build

# --- 2. The binary, with the web app embedded -------------------------------------------------------
FROM rust:1.95-bookworm AS binary
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY crates/ crates/
COPY migrations/ migrations/
COPY vendor/ vendor/
COPY scripts/ scripts/
COPY --from=spa /src/frontend/dist/ frontend/dist/
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    scripts/build-dist.sh --release --out /out

# --- 3. What runs: the binary, a user, nothing else ---------------------------------------------------
FROM debian:bookworm-slim
# TLS (SSO, webhooks) uses rustls with built-in web PKI roots: no OpenSSL, no CA package needed.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/keyward --create-home --shell /usr/sbin/nologin keyward
COPY --from=binary /out/keyward /usr/local/bin/keyward
USER keyward:keyward
WORKDIR /var/lib/keyward
# Configuration is KEYWARD_* variables; secrets as KEYWARD_*_FILE naming a mounted file
# (KEYWARD_SECRETS_KEY_FILE=/run/secrets/keyward_secrets_key). Set at least KEYWARD_PUBLIC_URL,
# and KEYWARD_DATABASE_URL(_FILE) and KEYWARD_REDIS_URL(_FILE) to run more than one instance.
# The management listener (/metrics, detailed /readyz) stays on loopback inside the container;
# set KEYWARD_MANAGEMENT_LISTEN=0.0.0.0:9000 only on a private network, to scrape it.
ENV KEYWARD_LISTEN=0.0.0.0:8080 \
    KEYWARD_DATABASE_URL=sqlite:///var/lib/keyward/keyward.db?mode=rwc \
    KEYWARD_LOG__FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/keyward"]
# /healthz on the management listener (bare liveness); no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["keyward", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["keyward"]
CMD ["serve"]
