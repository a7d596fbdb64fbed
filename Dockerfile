FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/app/.cache/numba \
    BG_GATEWAY_MODEL_DIR=/app/models
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY providers ./providers
COPY sandbox ./sandbox
COPY config ./config
RUN pip install --no-cache-dir -e . \
 && useradd --create-home --uid 10001 gateway \
 && mkdir -p /app/.cache/numba /app/models && chown -R gateway /app/.cache /app/models
USER gateway
RUN python -c "from providers.local.matting import warm_up; warm_up()"
# `docker build --build-arg BG_GATEWAY_MODEL=isnet-general-use .` bakes that model into the
# image (downloaded and hash-checked now, never at request time); the local provider's
# `engine = "auto"` then uses it. Without the argument the image holds no model and the local
# provider runs the classic engine.
ARG BG_GATEWAY_MODEL=""
RUN if [ -n "$BG_GATEWAY_MODEL" ]; then bg-gateway models pull "$BG_GATEWAY_MODEL"; fi
EXPOSE 8080
CMD ["bg-gateway", "serve", "--host", "0.0.0.0"]
