# newsdedup: build with `docker build -t newsdedup .`, run with
#   docker run -p 50051:50051 -v newsdedup-data:/var/lib/newsdedup newsdedup
# Any `newsdedup` subcommand works as the command, e.g. `docker run --rm newsdedup serve --help`.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY clients ./clients
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
# tini reaps zombies and forwards SIGTERM, so the server drains and exits cleanly on `docker stop`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/newsdedup --create-home newsdedup
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER newsdedup
ENV NEWSDEDUP_HOST=0.0.0.0 \
    NEWSDEDUP_DATA_DIR=/var/lib/newsdedup
EXPOSE 50051
VOLUME ["/var/lib/newsdedup"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["newsdedup", "health", "--target", "127.0.0.1:50051", "--timeout", "4"]
ENTRYPOINT ["/usr/bin/tini", "--", "newsdedup"]
CMD ["serve"]
