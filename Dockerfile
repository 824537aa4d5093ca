# syntax=docker/dockerfile:1
#
# One Dockerfile for every image of the system. The images differ only in which uv workspace
# members they install (PACKAGES) and which one they run (MODULE), so one file keeps the base
# image, the user, the uv version and the layer order the same for all of them:
#
#   docker build --build-arg PACKAGES=gateway --build-arg MODULE=gateway -t chat-gateway .
#
# docker-compose.yml and deploy/ build: auth-service, room-service, message-service, gateway,
# and "migrate" (the three members with migrations, PACKAGES space-separated).
# tests/deploy/ checks that each image installs and starts what `make run` does.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The same uv as the Makefile's UV_VERSION, from PyPI as `make install` gets it.
ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
ARG PACKAGES=auth-service

# Third-party dependencies first, from the lock file and the members' metadata only: this
# layer is rebuilt when uv.lock changes, not on every source edit.
COPY pyproject.toml uv.lock ./
COPY chatcore/pyproject.toml chatcore/
COPY auth-service/pyproject.toml auth-service/
COPY room-service/pyproject.toml room-service/
COPY message-service/pyproject.toml message-service/
COPY gateway/pyproject.toml gateway/
COPY cli/pyproject.toml cli/
# The test kit is a workspace member too (a development dependency: no image installs it).
COPY testkit/pyproject.toml testkit/
# PACKAGES is split into one --package flag per member on purpose.
# hadolint ignore=SC2046
RUN uv sync --frozen --no-dev --no-install-workspace $(printf -- '--package %s ' ${PACKAGES})

# Then the members themselves, installed as real wheels (not editable), so the final image
# needs nothing from /src.
COPY . .
# hadolint ignore=SC2046
RUN uv sync --frozen --no-dev --no-editable $(printf -- '--package %s ' ${PACKAGES})


FROM ${PYTHON_IMAGE}
ARG MODULE=auth_service
# A fixed unprivileged uid, so a Kubernetes runAsUser and a shared key volume agree with it.
# /keys is where the signing key volume is mounted, /data/attachments message-service's files
# volume; a new named volume takes its owner.
RUN groupadd --system --gid 10001 chat \
    && useradd --system --uid 10001 --gid chat --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin chat \
    && install -d -o chat -g chat -m 0700 /keys /data /data/attachments
# Owned by root: the service cannot change its own code.
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BIND_HOST=0.0.0.0 \
    CHAT_MODULE=${MODULE}
WORKDIR /app
USER 10001:10001
# Compose and Kubernetes spell the command out; this default is the same one.
CMD ["/bin/sh", "-c", "exec python -m \"$CHAT_MODULE\" serve"]
