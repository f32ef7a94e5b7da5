# syngate enforcer image: `docker build -t syngate .`
# Stage 1 builds the TypeScript and the native addons (cap -> libpcap, nfqueue -> libnetfilter-queue,
# raw-socket) against the -dev headers; stage 2 carries only the runtime libraries.
# The daemon needs CAP_NET_ADMIN (nftables/iptables rules, NFQUEUE, connmark) and CAP_NET_RAW
# (pcap capture and injection, RST sending). The entrypoint starts as root only to drop at once to
# the unprivileged `syngate` user (uid 10001) with exactly those two capabilities as ambient
# capabilities, so the iptables helpers it runs inherit them (docs/deploy.md).

FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libpcap-dev libnetfilter-queue-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts keeps `prepare` (the build) from running before the sources are copied;
# the native addons are then built explicitly.
RUN npm ci --ignore-scripts && npm rebuild cap raw-socket nfqueue
COPY tsconfig.json tsconfig.build.json ./
COPY enforcer ./enforcer
COPY bench ./bench
COPY scripts ./scripts
COPY proto ./proto
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 libnetfilter-queue1 nftables iptables iproute2 conntrack curl ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && ln -sf "$(ls /usr/lib/*/libpcap.so.0.8 | head -n1)" "$(dirname "$(ls /usr/lib/*/libpcap.so.0.8 | head -n1)")/libpcap.so" \
 && groupadd --system --gid 10001 syngate \
 && useradd --system --uid 10001 --gid syngate --home-dir /nonexistent --shell /usr/sbin/nologin syngate \
 && mkdir -p /etc/syngate /var/log/syngate && chown syngate:syngate /var/log/syngate
WORKDIR /opt/syngate
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/proto ./proto
COPY package.json ./
COPY bin ./bin
COPY examples ./examples
COPY docs ./docs
COPY deploy/docker/entrypoint.sh /usr/local/bin/syngate-entrypoint
COPY deploy/docker-compose/pod-server.mjs deploy/docker-compose/node-entry.sh deploy/docker-compose/pod-entry.sh ./deploy/docker-compose/
ENV NODE_ENV=production
EXPOSE 9901
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS "http://${SYNGATE_ADMIN:-127.0.0.1:9901}/healthz" || exit 1
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/syngate-entrypoint"]
CMD ["run", "--config", "/etc/syngate/syngate.yaml"]
