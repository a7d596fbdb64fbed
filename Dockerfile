FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/app/.cache/numba
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY providers ./providers
COPY sandbox ./sandbox
COPY config ./config
RUN pip install --no-cache-dir -e . \
 && useradd --create-home --uid 10001 gateway \
 && mkdir -p /app/.cache/numba && chown -R gateway /app/.cache
USER gateway
RUN python -c "from providers.local.matting import warm_up; warm_up()"
EXPOSE 8080
CMD ["bg-gateway", "serve", "--host", "0.0.0.0"]
