FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/app/numba \
    BG_GATEWAY_MODEL_DIR=/app/models
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY providers ./providers
COPY sandbox ./sandbox
COPY config ./config
RUN pip install --no-cache-dir -e . \
 && useradd --create-home --uid 10001 gateway \
 && mkdir -p /app/numba /app/models /app/.cache \
 && chown -R gateway /app/numba /app/models /app/.cache
USER gateway
RUN python -c "from providers.local.matting import warm_up; warm_up()"
# `docker build --build-arg BG_GATEWAY_MODEL=isnet-general-use .` bakes that model into the
# image (downloaded and hash-checked now, never at request time); the local provider's
# `engine = "auto"` then uses it. Without the argument the image holds no model and the local
# provider runs the classic engine.
ARG BG_GATEWAY_MODEL=""
RUN if [ -n "$BG_GATEWAY_MODEL" ]; then bg-gateway models pull "$BG_GATEWAY_MODEL"; fi
# The SQLite usage ledger (.cache/usage.sqlite3), the file result cache and job results
# outlive the container (the numba cache stays in the image, outside the volume).
VOLUME ["/app/.cache"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]
CMD ["bg-gateway", "serve", "--host", "0.0.0.0"]
