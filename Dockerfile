# syntax=docker/dockerfile:1
# keygate image: `docker build -t keygate .`
# test/integration/image-recipe.test.ts replays the runtime stage's steps (it reads
# this file), so a change here that breaks the image fails `npm test`.

# ---- build: compile TypeScript with the dev dependencies ----
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# `prepare` runs tsc, and src/ is not here yet: compile explicitly below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY tools ./tools
RUN npm run build

# ---- runtime: production dependencies, compiled code, nothing else ----
# Node 24 (LTS): .ci/run runs the tests on it. No config/ here: the demo's keys are public,
# so the image carries none; mount yours at /etc/keygate.
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
# glibc malloc: a fixed mmap threshold and two arenas. By default glibc raises the threshold
# after freeing a large block (up to 32 MiB), so each config load's buffers (a 20 MB keys
# file, the key store's arrays) land in per-thread arenas and stay there: with 100,000 keys,
# RSS after 5 reloads measured 253 MiB by default, 143 MiB with these (docs/keys-at-scale.md).
ENV MALLOC_MMAP_THRESHOLD_=131072
ENV MALLOC_ARENA_MAX=2
# Those large blocks on transparent huge pages where the kernel allows them (THP "madvise"
# or "always"): a 100,000-key load touches ~80 MB of fresh memory, and on a virtual
# machine each 4 KiB page fault cost ~8 us; loads were ~15% faster (docs/keys-at-scale.md).
ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1
# One V8 helper thread instead of node's default four. The helpers run garbage collection
# and compilation for every thread of the process, at normal priority, the reload worker's
# too (it lowers only its own priority): during a 100,000-key reload, four of them took the
# CPUs from the request path (request p99 during reloads 4.1x the p99 without, max 95 ms)
# where one leaves a core to it (2.6x, max 16 ms); CPU per request is unchanged
# (docs/keys-at-scale.md). Anything you put in NODE_OPTIONS replaces this: keep it there.
ENV NODE_OPTIONS=--v8-pool-size=1
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (tsc) is a dev-time step; no runtime dependency needs a script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY proto ./proto
RUN ln -s /app/bin/keygate.js /usr/local/bin/keygate
# The image's `node` user, by number so Kubernetes can verify runAsNonRoot.
# Nothing is written at run time (logs go to stdout), so a read-only root filesystem works.
USER 1000:1000
# proxy, admin (/metrics /healthz /readyz), decision API (listen.check)
EXPOSE 8080 9090 9191 9192
# Slim images have no curl; node's fetch probes the admin port. The probe cannot read the
# config, so it takes the port from KEYGATE_ADMIN_PORT (default 9090, the listen.admin port
# of the examples): if your listen.admin uses another port, set KEYGATE_ADMIN_PORT to it.
ENV KEYGATE_ADMIN_PORT=9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.KEYGATE_ADMIN_PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["keygate"]
# Mount your config at /etc/keygate (docker run -v "$PWD/myconfig:/etc/keygate:ro" …).
CMD ["serve", "-c", "/etc/keygate/keygate.yaml"]
