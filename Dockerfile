# The hub's Python processes (worker, connectors) for docker-compose.yml. Build: docker build -t svh-hub:local .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# pyproject.toml names README.md as the package readme, so both are needed to build the wheel
COPY pyproject.toml README.md ./
COPY hub ./hub
RUN pip install . \
    && rm -rf /src/build /src/*.egg-info \
    && useradd --system --uid 10001 --home-dir /var/lib/svh --shell /usr/sbin/nologin svh \
    && mkdir -p /var/lib/svh \
    && chown svh:svh /var/lib/svh

# never root at run time; local state (keys file, checkpoints) lives in /var/lib/svh
USER svh
WORKDIR /var/lib/svh
ENV HUB_DATA_DIR=/var/lib/svh \
    HUB_METRICS_HOST=0.0.0.0

EXPOSE 9101 9102
CMD ["hub", "--help"]
