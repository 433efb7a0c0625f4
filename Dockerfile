# Berth in a container, for docker-compose.yml trials. better-sqlite3 compiles from source, so
# the build stage uses the full image (python3, make, g++); the runtime stage only needs Node.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --fetch-timeout=60000
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production BERTH_HOST=0.0.0.0 BERTH_DATA_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The data directory belongs to the unprivileged user that runs Berth.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
EXPOSE 8080
USER node
CMD ["node", "--enable-source-maps", "dist/main.js"]
