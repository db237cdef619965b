# syntax=docker/dockerfile:1
# NEO's container image, as UID 1000: `neo run` (every role in one process) by default,
# or one role per container with `serve --role gateway|desk|notify` as the command.
#
#   docker build -t neo:local .
#   docker run --rm -p 127.0.0.1:8001:8001 -v neo-data:/var/lib/neo \
#     -e NEO_API__KEYS='[{name="ops", role="admin", sha256="<from neo keys new>"}]' neo:local
#
# docs/DEPLOY.md has the rest (compose with NATS, PostgreSQL, Prometheus and Grafana;
# Kubernetes). The release build below is CI's build of the binary (.ci/run:
# `cargo build --quiet --locked -p neo`) with --release; CI checks that both keep
# `--locked -p neo`.

ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------
# skeleton: the workspace's manifests with every target root replaced by `fn main() {}`.
# This stage reruns on any source change, but what it produces only changes when a
# Cargo.toml, Cargo.lock or the set of target roots does, so the `deps` layer below
# (the slow part: every crates.io dependency compiled) stays cached across source edits.
# The cargo-chef pattern, without a tool to install.
# ---------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS skeleton
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# Target roots kept as stubs: the library and binary roots, build scripts, benches (a
# [[bench]] named in Cargo.toml must exist for the manifest to load) and any file a
# manifest names with `path = "...rs"` (e.g. neo-stage's test-only binary).
RUN set -eu; \
    for manifest in crates/*/Cargo.toml; do \
      dir="${manifest%/Cargo.toml}"; \
      roots="$( \
        for f in "$dir"/src/lib.rs "$dir"/src/main.rs "$dir"/build.rs "$dir"/src/bin/*.rs "$dir"/benches/*.rs; do \
          if [ -f "$f" ]; then echo "${f#"$dir"/}"; fi; \
        done; \
        sed -n 's/^path *= *"\([^"]*\.rs\)".*/\1/p' "$manifest")"; \
      find "$dir" -mindepth 1 -maxdepth 1 ! -name Cargo.toml -exec rm -rf {} +; \
      for f in $roots; do \
        mkdir -p "$dir/$(dirname "$f")"; \
        printf 'fn main() {}\n' > "$dir/$f"; \
      done; \
    done

# ---------------------------------------------------------------------------------------
# builder: dependencies first (cached), then NEO itself.
# ---------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
COPY --from=skeleton /src ./
# deps: compiles every dependency of the neo binary against the stubs.
RUN cargo build --release --locked -p neo
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# crates/neo embeds a contract fixture at build time (include_str!).
COPY fixtures ./fixtures
# The real sources may be older than the stubs' build: touch them so cargo rebuilds
# NEO's own crates (and only those) before the release build CI also runs.
RUN find crates -type f -exec touch {} + \
    && cargo build --release --locked -p neo \
    && ./target/release/neo version

# ---------------------------------------------------------------------------------------
# runtime: Debian slim (glibc, as the builder) with CA certificates for HTTPS (Slack,
# Telegram, LLM providers, exchanges) and curl for the HEALTHCHECK. Distroless would have
# no shell and no client for /ready; `neo doctor` is not a healthcheck (it checks every
# dependency, the notification channels and LLM providers included).
# ---------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# Versions are not pinned (DL3008): the image takes bookworm's current security updates of
# these two packages at build time; a pinned version disappears from the archive when Debian
# updates it, and the build breaks.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 1000 neo \
    && useradd --uid 1000 --gid 1000 --home-dir /var/lib/neo --no-create-home \
       --shell /usr/sbin/nologin neo \
    && mkdir -p /etc/neo /var/lib/neo \
    && chown 1000:1000 /var/lib/neo
COPY --from=builder /src/target/release/neo /usr/local/bin/neo
COPY deploy/neo.container.toml /etc/neo/neo.toml

LABEL org.opencontainers.image.title="neo" \
      org.opencontainers.image.description="NEO trading platform: neo run (every role in one process) or neo serve --role (one role per container)" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV NEO_LOG=info
WORKDIR /var/lib/neo
# The data directory: the generated passphrase (when none is configured), the SQLite store
# (when no PostgreSQL URL is), the market archive (Parquet). Mount a volume here.
VOLUME ["/var/lib/neo"]
USER 1000:1000
EXPOSE 8001

# Ready = the store and the bus answer (503 otherwise). The port follows NEO_SERVER__PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS -o /dev/null --max-time 4 \"http://127.0.0.1:${NEO_SERVER__PORT:-8001}/ready\""]

ENTRYPOINT ["neo"]
CMD ["run", "--config", "/etc/neo/neo.toml", "--data-dir", "/var/lib/neo"]
