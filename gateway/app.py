"""Application factory."""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Litestar
from litestar.datastructures import State

from gateway.api.body_limits import MAX_FIELDS
from gateway.api.compare_routes import COMPARE_ROUTES
from gateway.api.dropin_backgrounderase import BACKGROUNDERASE_ROUTES
from gateway.api.dropin_clipdrop import CLIPDROP_ROUTES
from gateway.api.dropin_photoroom import PHOTOROOM_ROUTES
from gateway.api.dropin_removebg import REMOVEBG_ROUTES
from gateway.api.dropin_withoutbg import WITHOUTBG_ROUTES
from gateway.api.middleware import log_cut_requests, request_context_middleware
from gateway.api.openapi import openapi_config
from gateway.api.problems import EXCEPTION_HANDLERS
from gateway.api.routes import ROUTES
from gateway.console.routes import console_routes
from gateway.jobs import Jobs, job_routes
from gateway.jobs.openapi import JOB_DOCS
from gateway.runtime import Runtime
from gateway.settings import Settings
from providers.base import Provider

VERSION = "0.1.0"


def create_app(settings: Settings, providers: Mapping[str, Provider] | None = None) -> Litestar:
    """Build the Litestar app; `providers` replaces the configured ones (tests)."""
    runtime = Runtime(settings, providers)
    jobs = Jobs(settings, runtime)
    # The body may carry an image and a trimap, and JSON inflates them by 4/3 (base64).
    body_limit = settings.server.max_upload_bytes * 3 + 1024 * 1024
    return Litestar(
        route_handlers=[
            *ROUTES, *COMPARE_ROUTES, WITHOUTBG_ROUTES, BACKGROUNDERASE_ROUTES, REMOVEBG_ROUTES,
            PHOTOROOM_ROUTES, CLIPDROP_ROUTES,
            *console_routes(settings.console), *job_routes(settings),
        ],
        lifespan=[runtime.lifespan, jobs.lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[request_context_middleware],
        on_shutdown=[log_cut_requests],
        request_max_body_size=body_limit,
        multipart_form_part_limit=MAX_FIELDS,
        openapi_config=openapi_config("bg-gateway", VERSION, JOB_DOCS),
        state=State({"runtime": runtime, "jobs": jobs}),
        debug=False,
        logging_config=None,  # gateway.logging configures structlog and stdlib logging
    )


def create_app_from_env() -> Litestar:
    """App factory for uvicorn worker processes: config from `BG_GATEWAY_CONFIG`."""
    from gateway.logging import configure_logging
    from gateway.settings import load_settings

    settings = load_settings()
    configure_logging(settings.server.log_format)
    return create_app(settings)
