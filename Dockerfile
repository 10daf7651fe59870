# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/headwater
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY headwater_client ./headwater_client
COPY migrations ./migrations
RUN /opt/headwater/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/headwater/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HEADWATER_HOST=0.0.0.0 \
    HEADWATER_AUTH=required \
    HEADWATER_PORT=8000 \
    HEADWATER_DATA_DIR=/var/lib/headwater
RUN useradd --system --uid 10001 --home-dir /var/lib/headwater --create-home headwater
COPY --from=build /opt/headwater /opt/headwater
USER headwater
WORKDIR /var/lib/headwater
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
CMD ["headwater", "serve"]
