# CalMesh: `serve` (gunicorn + scheduler) as an unprivileged user; data in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CALMESH_DATA_DIR=/data \
    CALMESH_SERVER_HOST=0.0.0.0 \
    CALMESH_SERVER_PORT=8000

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
# The package itself (templates, static files and migrations inside it): the
# `calmesh` command, the same as `scripts/install.sh` and the binary give.
COPY pyproject.toml README.md app.py config.example.toml ./
COPY calmesh ./calmesh
RUN pip install --no-cache-dir --no-deps . && rm -rf build

RUN useradd --system --uid 10001 --home-dir /data calmesh \
    && mkdir -p /data && chown calmesh /data
USER calmesh
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health').status != 200)"
CMD ["calmesh", "serve"]
