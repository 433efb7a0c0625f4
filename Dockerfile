# Berth in a container, for docker-compose.yml trials. better-sqlite3 compiles from source, so
# the build stage uses the full image (python3, make, g++); the runtime stage only needs Node.
# No Docker engine runs on the development machine: this file is checked by test/unit/container-files.test.ts
# (every input of `npm run build` is copied and not ignored, the health check names a real endpoint).
FROM node:20-bookworm AS build
WORKDIR /app
# Dependencies first, in their own layer. `npm ci` runs `prepare`, whose build script finds no
# sources yet and builds nothing; the build proper runs once the sources are in.
COPY package.json package-lock.json ./
COPY scripts/build-if-stale.mjs ./scripts/
RUN npm ci --fetch-timeout=60000
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY src ./src
# The web console (vite build): Berth serves it from dist/web.
COPY clients ./clients
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production BERTH_HOST=0.0.0.0 BERTH_PORT=8080 BERTH_DATA_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The data directory belongs to the unprivileged user that runs Berth.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
EXPOSE 8080
USER node
# Ready = serving and its store answering. The slim image has no curl: Node's own fetch asks. (With
# BERTH_TLS_CERT_FILE set the port speaks HTTPS only; override the check in that deployment.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.BERTH_PORT}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/main.js"]
