# syntax=docker/dockerfile:1
# Every image of the platform, from this one file. Build from the repository root (the workspace's
# uv.lock is the one lock):
#   docker build --build-arg SERVICE=transfers --build-arg PORT=8004 -t licensing-transfers .
#   docker build --target migrate -t licensing-migrate .
# SERVICE names the service (a folder of services/), PORT the port it listens on (shared/settings.py's
# SERVICE_PORTS). The `migrate` target is the one-shot step that creates each service's database (if
# missing) and runs every service's migrations: it installs every workspace member, since each
# service's alembic.ini and migrations/ are found through its installed package.

FROM python:3.11-slim AS uv
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 licensing \
    && useradd --system --uid 10001 --gid licensing --no-create-home --shell /usr/sbin/nologin licensing
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1


FROM uv AS migrate-build
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-workspace
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

FROM runtime AS migrate
COPY --from=migrate-build /app /app
USER licensing
CMD ["python", "-m", "shared.devtools", "prepare"]


FROM uv AS build
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<a folder of services/>" >&2; exit 1; }

# Third-party packages first, from the lock alone: this layer is rebuilt only when uv.lock changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-workspace --package "licensing-${SERVICE}"

# Then the workspace: every member's pyproject.toml must be there for uv to read the workspace,
# but only shared/ and this service are installed (editable, so they stay at these paths).
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "licensing-${SERVICE}"

# The default target, last: a service.
FROM runtime AS service
ARG SERVICE
ARG PORT=8000
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/shared /app/shared
COPY --from=build /app/services/${SERVICE} /app/services/${SERVICE}

# uvicorn reads UVICORN_*; the health check reads the same port. Connections stay open longer
# than the gateway keeps them idle, so the gateway never reuses one the service is closing.
ENV LICENSING_SERVICE=${SERVICE} \
    UVICORN_HOST=0.0.0.0 \
    UVICORN_TIMEOUT_KEEP_ALIVE=75 \
    UVICORN_PORT=${PORT}
USER licensing
EXPOSE ${PORT}

# Liveness only; readiness (/readyz: what the service needs is reachable) gates traffic in compose.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['UVICORN_PORT']}/healthz\", timeout=3)"]

# A shell only to name the factory from the build argument; exec makes uvicorn PID 1, so it gets the stop signal.
CMD ["sh", "-c", "exec uvicorn --factory \"${LICENSING_SERVICE}.main:create_app\""]
