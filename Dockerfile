# syntax=docker/dockerfile:1
# One image for the three services (log, witness, monitor); docker-compose.yml picks the command.
#
# Reproducible: the base image is pinned by digest; dependencies come from package-lock.json with `npm ci`;
# no apt-get at all (nothing from a moving Debian mirror); files are copied with fixed ownership; the
# build bakes in no clock (SOURCE_DATE_EPOCH, and BuildKit's rewrite-timestamp clamps file times):
#   docker buildx build --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) \
#     --output type=docker,name=rebuild-ledger,rewrite-timestamp=true .
#
# NODE_IMAGE: the official node:20-bookworm-slim image by digest. This digest was NOT pulled here (no Docker
# engine): it is the one pinned for node:20-bookworm-slim by several public Dockerfiles found by code search.
# Check it before trusting it, and bump it deliberately:
#   docker buildx imagetools inspect node:20-bookworm-slim
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

FROM ${NODE_IMAGE} AS build
ARG SOURCE_DATE_EPOCH=0
ENV SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH} \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /app
# The manifests first, so the dependency layer is cached until the lock file changes.
COPY --chown=node:node package.json package-lock.json ./
COPY --chown=node:node schemas/package.json schemas/
COPY --chown=node:node packages/durable-file/package.json packages/durable-file/
COPY --chown=node:node packages/service/package.json packages/service/
COPY --chown=node:node packages/tlog/package.json packages/tlog/
COPY --chown=node:node packages/vindex/package.json packages/vindex/
COPY --chown=node:node packages/attestation/package.json packages/attestation/
COPY --chown=node:node packages/client/package.json packages/client/
COPY --chown=node:node packages/cli/package.json packages/cli/
COPY --chown=node:node packages/monitor/package.json packages/monitor/
COPY --chown=node:node services/log/package.json services/log/
COPY --chown=node:node services/witness/package.json services/witness/
COPY --chown=node:node services/monitor/package.json services/monitor/
# No install scripts: classic-level (LevelDB) loads its prebuilt binding at run time.
RUN npm ci --ignore-scripts
COPY --chown=node:node . .
RUN npx tsc -b && npm prune --omit=dev --ignore-scripts

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
# Mount points owned by `node`, so that fresh named volumes are writable by it.
RUN mkdir -p /data/log /data/witness /data/monitor /shared \
    && chown node:node /data/log /data/witness /data/monitor /shared
USER node
EXPOSE 8080 8081 8082
CMD ["node", "services/log/dist/main.js", "--help"]
