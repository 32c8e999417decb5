# syntax=docker/dockerfile:1
# Slotscaler's image: `slotscaler serve`, as the Helm chart (charts/slotscaler) runs it.
#   docker build -t ghcr.io/slotscaler/slotscaler:0.1.0 .
# Consistent with the chart (test/integration/dockerfile.test.ts checks it): user 10001, ports 6443
# (external metrics API, HTTPS) and 9090 (Prometheus), a read-only root filesystem (nothing is written
# to disk; the chart mounts an emptyDir at /tmp all the same).
#
# One Node.js major for every stage: an LTS line in support (24: until April 2028). The package
# itself runs on any Node.js its `engines` allows (development and CI use 20.19 or newer).
ARG NODE_MAJOR=24

# Build: every dependency, compile TypeScript to dist/.
FROM node:${NODE_MAJOR}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` builds, and the sources are not here yet.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only.
FROM node:${NODE_MAJOR}-bookworm-slim AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# Runtime: Node.js and nothing else (no shell, no package manager), as a non-root user; the same
# Debian release as the build stages (bookworm = debian12), so native parts built there run here.
FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
USER 10001:10001
EXPOSE 6443 9090 6444
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/slotscaler.js", "serve"]
