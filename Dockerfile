# newsdedup: the gRPC server as a non-root user under tini.
#
#   docker build -t newsdedup .
#   docker run -p 50051:50051 -v newsdedup-data:/var/lib/newsdedup newsdedup
#
# Any `newsdedup` subcommand works as the command, e.g. `docker run --rm newsdedup serve --help`.
#
# Build arguments:
#   PYTHON_IMAGE  base of both stages: a Debian-based image with Python 3.11+ and its venv module
#                 (default the official slim image; scripts/container-test uses a debootstrap base)
#   WHEELS        a directory of wheels in the build context; when set, pip installs from it alone,
#                 offline, instead of from PyPI (`pip download -d wheels <dependencies> setuptools`)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG WHEELS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# .dockerignore lets in only the package's sources and metadata, and a wheels/ directory if there is one.
COPY . .
# A virtual environment rather than the system's site-packages: it works the same on the official
# image and on a Debian python3, which is externally managed (PEP 668); the last stage copies it whole.
RUN python3 -m venv /opt/newsdedup \
    && /opt/newsdedup/bin/pip install --no-cache-dir ${WHEELS:+--no-index --find-links "/src/$WHEELS"} .

FROM ${PYTHON_IMAGE}
# tini reaps zombies and forwards SIGTERM, so the server drains and exits cleanly on `docker stop`.
# Its version is whatever the base's Debian release ships (tini has not changed since 0.19.0).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 newsdedup \
    && useradd --system --no-log-init --uid 10001 --gid newsdedup --home-dir /var/lib/newsdedup newsdedup \
    && install --directory --owner=newsdedup --group=newsdedup --mode=0750 /var/lib/newsdedup
COPY --from=build /opt/newsdedup /opt/newsdedup
# Numeric, so that a runtime can tell that the user is not root without reading /etc/passwd
# (Kubernetes' runAsNonRoot).
USER 10001:10001
ENV PATH=/opt/newsdedup/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NEWSDEDUP_HOST=0.0.0.0 \
    NEWSDEDUP_DATA_DIR=/var/lib/newsdedup
WORKDIR /var/lib/newsdedup
EXPOSE 50051
VOLUME ["/var/lib/newsdedup"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["newsdedup", "health", "--target", "127.0.0.1:50051", "--timeout", "4"]
ENTRYPOINT ["/usr/bin/tini", "--", "newsdedup"]
CMD ["serve"]
