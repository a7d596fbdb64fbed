"""structlog set-up: JSON lines in production, readable lines in a terminal, secrets redacted."""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import msgspec
import structlog

# Values that look like credentials are masked wherever they appear in an event.
_SECRET_KEYS = re.compile(r"(api[_-]?key|authorization|token|secret|password)", re.IGNORECASE)
_SECRET_VALUES = re.compile(r"(bgw_[A-Za-z0-9_\-]{8,}|Bearer\s+\S+|Token\s+\S+)")
#: Substrings every `_SECRET_VALUES` match contains: most values skip the regex (a log line per
#: request has about twenty fields).
_SECRET_MARKERS = ("bgw_", "Bearer", "Token")


@functools.lru_cache(maxsize=1024)
def _secret_key(key: str) -> bool:
    return _SECRET_KEYS.search(key) is not None


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask key-shaped fields and values (belt and braces: nothing should log them)."""
    for key, value in list(event.items()):
        if _secret_key(key):
            event[key] = "***"
        elif isinstance(value, str) and any(marker in value for marker in _SECRET_MARKERS):
            event[key] = _SECRET_VALUES.sub("***", value)
    return event


_json = msgspec.json.Encoder(enc_hook=repr)


def _json_line(event: Any, **_options: Any) -> str:
    """msgspec's JSON (a third of `json.dumps`'s cost); anything else it meets as its repr."""
    return _json.encode(event).decode()


def configure_logging(
    log_format: str = "auto", level: int = logging.INFO, cache_loggers: bool = True
) -> None:
    """Route structlog and stdlib logging (uvicorn, litestar) to stderr as JSON or console lines.

    `cache_loggers=False` for one-shot commands run in a longer-lived process (tests): a cached
    logger keeps this configuration for good.
    """
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_line) if use_json
        else structlog.dev.ConsoleRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        # Events below INFO are dropped here (cheap); the real `level` is applied by stdlib
        # logging below, so a quieter CLI command does not silence INFO for the whole process
        # (tests capture INFO events after running such commands in process).
        wrapper_class=structlog.make_filtering_bound_logger(min(level, logging.INFO)),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=cache_loggers,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if use_json else structlog.dev.set_exc_info,
            renderer,
        ],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every vendor call with its URL at INFO (signed download URLs included).
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
