# Tarmac's container image (docs/deployment.md).
#
#   deploy/build-image.sh       # makes the Debian base if missing, then this
#   docker run -p 443:8443 -v ./certs:/certs -v ./module:/module tarmac
#
# The base is Debian bookworm made locally from Debian packages
# (deploy/build-image.sh: mmdebstrap | podman import); any
# debian:bookworm-slim works: --build-arg BASE=debian:bookworm-slim.
#
# Stages: `runtime` (what serving needs), `build` (runtime + the build
# packages, builds tarmac), and the image (runtime + the binary). The build
# stage starts from runtime so gcc, libc6-dev, wabt and the libraries are
# installed once; packages come before the source, so a source change
# re-runs only the compile.
ARG BASE=localhost/debian:bookworm-slim

# -------------------------------------------------------------- runtime ---
FROM ${BASE} AS runtime
# Serving compiles each function once: wasm2c (wabt) translates it to C and
# gcc builds a shared object (binutils, libc6-dev for crt files, libm and
# headers). Only wabt's wasm2c and wasm-rt.h are kept; left out are gcc's
# LTO compiler and dumper and sanitizer runtimes, binutils' gold, dwp and
# profilers, and libc's static archives (the engine links a shared object
# without LTO or sanitizers; the linker plugin stays: gcc refuses to link
# without it). dpkg honours these exclusions for the packages below. The
# libraries are the runtime packages of what `ldd tarmac` shows;
# ca-certificates lets functions call out over HTTPS (tarmac/httpclient);
# curl (its library is here anyway) is for health checks run inside the
# container (compose).
RUN printf '%s\n' \
      'path-exclude=/usr/bin/wasm-*' 'path-exclude=/usr/bin/wasm2wat' \
      'path-exclude=/usr/bin/wat*' 'path-exclude=/usr/bin/wast2json' \
      'path-exclude=/usr/bin/spectest-interp' 'path-exclude=/usr/include/wabt/*' \
      'path-exclude=/usr/lib/x86_64-linux-gnu/libwabt.a' \
      'path-exclude=/usr/lib/x86_64-linux-gnu/libwasm-rt-impl.a' \
      'path-exclude=/usr/lib/x86_64-linux-gnu/cmake/wabt/*' \
      'path-exclude=/usr/src/wasm2c/*' 'path-exclude=/usr/share/wabt/*' \
      'path-exclude=/usr/lib/gcc/x86_64-linux-gnu/12/lto1' \
      'path-exclude=/usr/lib/gcc/x86_64-linux-gnu/12/lto-wrapper' \
      'path-exclude=/usr/lib/x86_64-linux-gnu/lib*san.so*' \
      'path-exclude=/usr/lib/gcc/x86_64-linux-gnu/12/lib*san*' \
      'path-exclude=/usr/bin/x86_64-linux-gnu-lto-dump*' \
      'path-exclude=/usr/bin/x86_64-linux-gnu-*gold' \
      'path-exclude=/usr/bin/x86_64-linux-gnu-dwp' \
      'path-exclude=/usr/bin/x86_64-linux-gnu-gp*' \
      'path-exclude=/usr/lib/x86_64-linux-gnu/gprofng/*' \
      'path-exclude=/usr/lib/x86_64-linux-gnu/libgprofng*' \
      'path-exclude=/usr/lib/x86_64-linux-gnu/libc.a' \
      'path-exclude=/usr/lib/x86_64-linux-gnu/libm.a' \
      'path-exclude=/usr/lib/x86_64-linux-gnu/libm-2.*.a' \
      'path-exclude=/usr/lib/x86_64-linux-gnu/libmvec.a' \
      >/etc/dpkg/dpkg.cfg.d/tarmac-slim \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      wabt gcc libc6-dev ca-certificates curl \
      libssl3 libjansson4 libh2o-evloop0.13 libyajl2 libprotobuf-c1 libcurl4 \
      liblmdb0 libhiredis0.14 libsqlite3-0 libpq5 libmariadb3 \
      >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log

# The user, and the folders of the layout. The writable ones are
# world-writable and sticky like /tmp (a tmpfs mounted there copies the
# mode; Kubernetes' emptyDir is 0777 anyway), so any uid the platform runs
# the container as can use them; the cache itself is a subfolder the
# server makes, owned by its uid and mode 0700.
RUN groupadd --gid 10001 tarmac \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tarmac \
 && install -d -m 1777 /var/cache/tarmac /data \
 && install -d -m 0755 /certs /module /functions

# ---------------------------------------------------------------- build ---
FROM runtime AS build
# On top of runtime: scripts/install-deps.sh's "build" and "libraries"
# groups (the headers), without the guest toolchain (clang, wasi-libc), the
# database servers and the test tools. The C compiler and wabt's wasm-rt.h
# (which the runtime implements) are in runtime already.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      make cmake pkg-config \
      libssl-dev libjansson-dev libh2o-evloop-dev libyajl-dev libbwa-dev \
      protobuf-c-compiler libprotobuf-c-dev libcurl4-openssl-dev \
      liblmdb-dev libhiredis-dev libsqlite3-dev libpq-dev libmariadb-dev \
      >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY src src
COPY proto proto
COPY sdk sdk
COPY examples examples
COPY bench bench
# The README's steps (RelWithDebInfo: -O2, as every test runs; the symbols
# are stripped), the server binary only. Guests are not built here, so the
# guest compiler is named but never run (it is looked for when the build
# is configured).
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
      -DTARMAC_WASM_CC=/bin/false >/dev/null \
 && cmake --build build --target tarmac -j"$(nproc)" \
 && strip build/tarmac \
 && build/tarmac version

# ---------------------------------------------------------------- image ---
FROM runtime
COPY --from=build /src/build/tarmac /usr/local/bin/tarmac

# The seed's layout: /certs/cert.crt, /certs/key.key (the defaults of
# APP_CERT_FILE and APP_KEY_FILE) and /module/tarmac_module.wasm served with
# the seed's contract (APP_WASM_MODULE; our default without it is
# /functions/tarmac.wasm with Tarmac's current contract). A service file is
# served when named: -e APP_WASM_FUNCTION_CONFIG=/functions/tarmac.json
# (it wins over APP_WASM_MODULE).
#
# Writable paths: /var/cache/tarmac only (the compiled functions and the
# compiler's temporary files); with --read-only mount a tmpfs or volume
# there, allowing exec (the compiled functions are mapped executable).
# The cache itself is a subfolder the server creates mode 0700, because
# the engine refuses a cache directory that others could write to. /data
# is the working folder: the embedded key-value store (APP_KVSTORE_PATH,
# default tarmac.lmdb) and SQLite files go there; mount a volume to keep
# them.
ENV APP_WASM_MODULE=/module/tarmac_module.wasm \
    TARMAC_CACHE_DIR=/var/cache/tarmac/modules \
    TMPDIR=/var/cache/tarmac
USER 10001:10001
WORKDIR /data
EXPOSE 8443
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/tarmac"]
CMD ["serve"]
