# syntax=docker/dockerfile:1
# keygate image: `docker build -t keygate .`
# test/integration/image-recipe.test.ts replays the runtime stage's steps (it reads
# this file), so a change here that breaks the image fails `npm test`.

# ---- build: compile TypeScript with the dev dependencies ----
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# `prepare` runs tsc, and src/ is not here yet: compile explicitly below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# ---- runtime: production dependencies, compiled code, nothing else ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
# glibc malloc: a fixed mmap threshold and two arenas. By default glibc raises the threshold
# after freeing a large block (up to 32 MiB), so each config load's buffers (a 20 MB keys
# file, the key store's arrays) land in per-thread arenas and stay there: with 100,000 keys,
# RSS after 5 reloads measured 253 MiB by default, 143 MiB with these (docs/keys-at-scale.md).
ENV MALLOC_MMAP_THRESHOLD_=131072
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (tsc) is a dev-time step; no runtime dependency needs a script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY config ./config
COPY proto ./proto
RUN ln -s /app/bin/keygate.js /usr/local/bin/keygate
# The image's `node` user, by number so Kubernetes can verify runAsNonRoot.
# Nothing is written at run time (logs go to stdout), so a read-only root filesystem works.
USER 1000:1000
# proxy, admin (/metrics /healthz /readyz), decision API (listen.check)
EXPOSE 8080 9090 9191 9192
# Slim images have no curl; node's fetch probes the admin port (listen.admin).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["keygate"]
# Mount your config at /etc/keygate (config/ holds the demo: `docker run … serve -c config/keygate.yaml`).
CMD ["serve", "-c", "/etc/keygate/keygate.yaml"]
