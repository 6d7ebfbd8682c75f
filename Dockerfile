# syntax=docker/dockerfile:1
#
# scope-namespaces: a Weave Scope probe plugin showing every Linux namespace of the host.
#
#   docker build -t scope-namespaces .
#   docker run -d --name scope-namespaces --pid=host --net=host --privileged \
#     -v /var/run/scope/plugins:/var/run/scope/plugins -e SCOPE_HOSTNAME="$(hostname)" scope-namespaces
#
# Least privilege (the capabilities are explained in native-notes/capabilities.md) and the
# Kubernetes DaemonSet (manifests/) are in the README's "Deployment" section.
#
# Stages: `build` compiles TypeScript and bundles the CLI (dist/cli/) with every dependency; `deps` installs the production
# dependencies only (koffi + its prebuilt platform package, pino, zod); the runtime stage is
# distroless Node 20 on Debian 12: no shell, no package manager and no util-linux (so no lsns) —
# the plugin reads /proc itself. Node itself links libstdc++ and libgcc_s, so the image carries
# what koffi's binary needs at run time, and both stages use Debian 12's glibc, matching the
# glibc flavour of the koffi binary npm picks in `deps`.

ARG BUILD_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12

# EXTRA_CA_CERTS (optional, empty by default): PEM text of CA certificates npm must trust as well,
# for a build behind a TLS-inspecting proxy (the engine tests pass it). Declared and used only in
# the build and deps stages, so neither the file nor the argument reaches the runtime image.
FROM ${BUILD_IMAGE} AS build
ARG EXTRA_CA_CERTS=
WORKDIR /src
COPY package.json package-lock.json ./
RUN if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" > /tmp/extra-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi; npm ci --no-audit --no-fund && rm -f /tmp/extra-ca.pem
COPY tsconfig.json esbuild.config.mjs ./
COPY src ./src
RUN npm run build

FROM ${BUILD_IMAGE} AS deps
ARG EXTRA_CA_CERTS=
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only. NOT --omit=optional: koffi's platform binary
# (@koromix/koffi-linux-<arch>) is an optional dependency.
RUN if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" > /tmp/extra-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi; npm ci --omit=dev --no-audit --no-fund && npm cache clean --force && rm -f /tmp/extra-ca.pem
# Fail the build when koffi's platform binary is missing or cannot bind libc.
RUN node --input-type=module -e "import koffi from 'koffi'; koffi.load('libc.so.6').func('int getpid(void)');"

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="scope-namespaces" \
      org.opencontainers.image.description="Weave Scope probe plugin: every Linux namespace of the host, read from /proc" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
# Only the bundled CLI and its workers run; tsc's per-module build (dist/lib/) is for the tests.
COPY --from=build /src/dist/cli ./dist/cli
# Self-checks at build time, in the runtime image itself (exec form: there is no shell):
# koffi loads here (its libstdc++/libgcc_s needs are met) and util-linux's lsns is absent.
RUN ["/nodejs/bin/node", "--input-type=module", "-e", "import koffi from 'koffi'; koffi.load('libc.so.6').func('int getpid(void)');"]
RUN ["/nodejs/bin/node", "-e", "for (const p of ['/usr/bin/lsns', '/bin/lsns', '/usr/sbin/lsns']) if (require('fs').existsSync(p)) { console.error(p + ' must not be in the image'); process.exit(1); }"]
# uid 0 on purpose: the capabilities the plugin needs (CAP_SYS_PTRACE, CAP_SYS_ADMIN) reach a
# process through exec only as root; Docker and Kubernetes have no ambient capabilities for other
# users. Restrict it with --cap-drop=ALL --cap-add=... / the DaemonSet's securityContext instead.
USER 0:0
ENV NODE_ENV=production
VOLUME ["/var/run/scope/plugins"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/nodejs/bin/node", "/app/dist/cli/main.js", "check", "--max-age", "1m"]
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "/app/dist/cli/main.js", "serve"]
