# kubemetrics-agent container image.
#
#   docker build -t kubemetrics-agent:0.1.0 .
#   docker run --rm -p 9464:9464 -e CLUSTER_NAME=dev kubemetrics-agent:0.1.0
#
# Two stages on Debian 12: the build stage installs the same packages as CI
# (scripts/setup.sh) and builds only the agent; the runtime stage is
# debian:12-slim plus the Debian packages that own the shared libraries the
# binary links, and nothing else.

# ---- build ------------------------------------------------------------------
FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# setup.sh alone first, so the package layer is cached across source edits.
# (Without tests/manifests/package-lock.json in the context of this step it
# skips the npm packages of the manifest tests, which the image does not need.)
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DKM_BUILD_TESTS=OFF -DKM_BUILD_BENCH=OFF \
 && ninja -C build kubemetrics-agent \
 && strip build/agent/kubemetrics-agent
# The runtime packages: for every shared library `ldd` resolves for the
# binary, the Debian package that owns it (`dpkg -S`). On a merged-/usr system
# dpkg knows a file under the path its package shipped it at (/lib/... or
# /usr/lib/...), so each library is looked up under the path ldd prints, its
# resolved path, and both with and without the /usr prefix. A library no
# package owns stops the build.
#
# How this was checked: the same ldd + dpkg -S mapping was run on the agent
# built on the CI machine (Debian 12, same packages), which gave
#   libc6 libgcc-s1 libprometheus-cpp-core1.0 libre2-9 libstdc++6
#   libyaml-cpp0.7 zlib1g
# and the components being added (kubelet, EC2, push exporters) bring more
# (OpenSSL, zstd, snappy, protobuf, ...), which is why the list is computed
# here rather than written down. The runtime stage re-runs ldd and fails on
# any "not found".
RUN set -eu; : > /runtime-packages; \
    for lib in $(ldd build/agent/kubemetrics-agent | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do \
      real=$(readlink -f "$lib"); pkg=""; \
      for path in "$lib" "$real" "/usr$lib" "/usr$real" "${lib#/usr}" "${real#/usr}"; do \
        pkg=$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1); \
        if [ -n "$pkg" ]; then break; fi; \
      done; \
      if [ -z "$pkg" ]; then echo "no Debian package owns $lib" >&2; exit 1; fi; \
      echo "$pkg" >> /runtime-packages; \
    done; \
    sort -u -o /runtime-packages /runtime-packages; \
    echo "runtime packages:"; cat /runtime-packages

# ---- runtime ----------------------------------------------------------------
FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /runtime-packages /tmp/runtime-packages
# ca-certificates is not a library: it is the system CA bundle that verifies
# HTTPS backends (remote write, Wavefront direct ingestion) whose
# configuration gives no CA file of its own.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates $(cat /tmp/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages
COPY --from=build /src/build/agent/kubemetrics-agent /usr/local/bin/kubemetrics-agent
RUN if ldd /usr/local/bin/kubemetrics-agent | grep 'not found'; then exit 1; fi
# The non-root user the Kubernetes manifests run as (runAsUser 65532), and
# the default spool directory it owns (exporters.spool.dir; in Kubernetes a
# volume is mounted over /var/lib/kubemetrics).
RUN groupadd --system --gid 65532 kubemetrics \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin kubemetrics \
 && mkdir -p /var/lib/kubemetrics/spool \
 && chown -R 65532:65532 /var/lib/kubemetrics
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/kubemetrics-agent"]
