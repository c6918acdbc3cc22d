# Työkykytiimi: the bot alone (python -m bot), as SPEC §4 deploys it; compose.yaml adds
# PostgreSQL, a second instance and the TLS proxy.
#
#   docker build -t tyokykytiimi .
#   docker run --env-file .env -p 3978:3978 tyokykytiimi           # serve
#   docker run --env-file .env tyokykytiimi check                  # check, without serving
#
# The base is Debian bookworm's slim Python 3.11. PYTHON_IMAGE lets a site use its own
# mirror of it (or, offline, a local image with python3 and python3-venv at /usr/bin).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the virtualenv, installed by the same script as development and CI --------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY scripts/bootstrap scripts/bootstrap
COPY bot bot
COPY consultations consultations
COPY dialogs dialogs
COPY scheduler scheduler
COPY storage storage
# Every dependency has a manylinux wheel for amd64 and arm64: no compiler in the image.
RUN VENV=/opt/venv scripts/bootstrap --production \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# --- run: the virtualenv on the same base, as an unprivileged user -----------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 tyokykytiimi \
 && useradd --uid 10001 --gid tyokykytiimi --no-create-home \
      --home-dir /var/lib/tyokykytiimi --shell /usr/sbin/nologin tyokykytiimi \
 && install -d -o tyokykytiimi -g tyokykytiimi -m 0750 /var/lib/tyokykytiimi
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=3978 \
    LOG_FORMAT=json
# Only an SQLite database (a trial without DATABASE_URL) is written here; mount a volume.
WORKDIR /var/lib/tyokykytiimi
USER 10001:10001
EXPOSE 3978
# Ready = serving and the database answers; the migrations ran before the port opened.
HEALTHCHECK --interval=30s --timeout=6s --start-period=60s --retries=3 \
  CMD ["python", "-m", "bot", "ready"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["serve", "--no-playground"]
