# syntax=docker/dockerfile:1
# Tessera CPU image. `tessera` is the entrypoint; Kubernetes passes the role as args
# (deploy/k8s: `args: [ps, --etcd, ...]`). Workers use tfjs-node's native CPU kernels
# (`tensorflow` backend), falling back to wasm if it cannot load.
#
#   docker build -t tessera:0.1.0 .
#   docker run --rm tessera:0.1.0 --help
#
# The GPU image is Dockerfile.gpu. Neither can be built in Tessera's CI machines (no Docker,
# no network for libtensorflow); README "Container images".
ARG NODE_IMAGE=node:22-bookworm-slim

# --- build: compile the TypeScript sources ---------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The native tfjs packages are optional and not needed to compile.
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
RUN npx tsc -p tsconfig.build.json
# The native addons: OpenBLAS matMul kernels (ADR 0014; the fallback when tfjs-node cannot load)
# and the data plane's probe/gather/dedup/stitch kernels (ADR 0041; gcc alone).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libopenblas-dev \
 && rm -rf /var/lib/apt/lists/*
COPY native native
COPY scripts/build-native.sh scripts/
RUN bash scripts/build-native.sh

# --- deps: production node_modules, with @tensorflow/tfjs-node and without the GPU build -----
FROM ${NODE_IMAGE} AS deps
WORKDIR /opt/tessera
COPY package.json package-lock.json ./
# tfjs-node downloads libtensorflow in its install script. It is an optional dependency, which
# npm drops silently when the download fails, so the last step fails the build instead.
RUN node -e "const fs=require('fs');const p=JSON.parse(fs.readFileSync('package.json','utf8'));delete p.optionalDependencies['@tensorflow/tfjs-node-gpu'];fs.writeFileSync('package.json',JSON.stringify(p,null,2))" \
 && npm install --omit=dev --no-audit --no-fund \
 && node -e "require('@tensorflow/tfjs-node')" \
 && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /opt/tessera
COPY --from=deps /opt/tessera/node_modules node_modules
COPY --from=deps /opt/tessera/package.json package.json
COPY --from=build /src/dist/src dist/src
COPY --from=build /src/native/build native/build
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas0 && rm -rf /var/lib/apt/lists/*
COPY bin bin
COPY protos protos
COPY ui ui
RUN chmod 755 bin/tessera.js && ln -s /opt/tessera/bin/tessera.js /usr/local/bin/tessera
# The UID the manifests run as (runAsUser: 10001); the root filesystem is read-only there.
USER 10001:10001
ENTRYPOINT ["tessera"]
CMD ["--help"]
