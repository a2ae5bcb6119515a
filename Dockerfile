# mi in a container: docs/deploy.md. Build: docker build -t mi .
# Run (a password is required, see below):
#   docker run -d --name mi -p 127.0.0.1:7379:7379 -e MI_REQUIREPASS='...' -v mi-data:/data mi
#
# The install steps live in scripts/install, which tests/e2e/test_deploy.py runs into a fresh
# prefix and serves from, so this file and the tested recipe cannot drift apart.

# --- builder: a venv at /opt/mi holding mi and its dependencies ----------------------------------
FROM python:3.11-slim AS builder
WORKDIR /src
COPY . /src
RUN bash scripts/install /opt/mi

# --- final: the venv, a config, an unprivileged user, nothing else -------------------------------
# The same base as the builder: the venv's python is a link to /usr/local/bin/python3.11.
FROM python:3.11-slim
RUN groupadd --system mi \
 && useradd --system --gid mi --home-dir /data --no-create-home --shell /usr/sbin/nologin mi \
 && mkdir -p /data /etc/mi \
 && chown mi:mi /data
COPY --from=builder /opt/mi /opt/mi
COPY conf/mi.toml /etc/mi/mi.toml

# Options come from the environment (they win over /etc/mi/mi.toml; flags win over both).
# Listening on 0.0.0.0 is what makes the port reachable from outside the container; mi's protected
# mode then refuses to start without authentication, and that is the intended default here: pass
# MI_REQUIREPASS (or mount a config with [auth.users.NAME]), or, knowingly, add --unprotected to
# the command. Without either the container exits with the server's message saying so.
# The data dir is a subdirectory of the volume so that `mi restore --force` can swap it (a mount
# point cannot be renamed); snapshots go to /data/snapshots (relative to the working directory).
ENV PATH=/opt/mi/bin:$PATH \
    MI_HOST=0.0.0.0 \
    MI_PORT=7379 \
    MI_DATA_DIR=/data/db \
    MI_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1

# Owned by mi before VOLUME, so a new named volume starts out writable by mi.
VOLUME /data
WORKDIR /data
USER mi
EXPOSE 7379

# PING is answered before authentication, so the check needs no password. Shell form, so that it
# follows MI_PORT if that is changed; `|| exit 1` because Docker reserves other exit codes.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD mi cli --host 127.0.0.1 --port "${MI_PORT:-7379}" PING || exit 1

# SIGTERM: stop accepting, answer what was received, commit, exit 0 (within graceful_timeout).
STOPSIGNAL SIGTERM
ENTRYPOINT ["mi", "serve", "--config", "/etc/mi/mi.toml"]
