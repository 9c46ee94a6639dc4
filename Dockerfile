# modeld: server and replica runner in one image (the Kubernetes runtime starts replica pods from
# this same image: /app/src/runner/pod-main.ts and its init container
# /app/src/runner/fetch-artifact-main.ts). Runs as a non-root user and works with a read-only root
# filesystem: only /tmp, the data directory and the replica pods' emptyDirs are written.
#
#   docker build -t registry.example.com/modeld:0.1.0 .
#
# No registry is reachable from modeld's development machines, so this image is not built in CI;
# test/deploy/manifests.test.ts checks that every path it names exists.
FROM node:20.20-bookworm-slim

ENV NODE_ENV=production \
    MODELD_HOST=0.0.0.0 \
    MODELD_PORT=8080 \
    MODELD_DATA_DIR=/var/lib/modeld \
    MODELD_LOG_FORMAT=json

WORKDIR /app
# Dependencies first (a layer that changes only with the lock). npm 11 honours package.json
# "allowScripts": onnxruntime-node's install script (a CUDA download) does not run; its CPU
# binaries ship in the package. better-sqlite3's prebuilt binary is fetched by its own script.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY bin ./bin
COPY src ./src
COPY tsconfig.json ./
# The web console (/console), bundled by esbuild (a dependency) into web/dist at build time.
COPY web ./web
COPY scripts/build-console.mjs ./scripts/build-console.mjs
RUN node scripts/build-console.mjs

RUN groupadd --system --gid 10001 modeld \
 && useradd --system --uid 10001 --gid modeld --home-dir /var/lib/modeld --shell /usr/sbin/nologin modeld \
 && mkdir -p /var/lib/modeld && chown modeld:modeld /var/lib/modeld
USER 10001:10001

EXPOSE 8080
ENTRYPOINT ["node", "/app/bin/modeld.js"]
CMD ["serve"]
