"""Fake rembg server (`rembg s`, v2.0.77): `POST /api/remove`, `GET /api/remove`, `/openapi.json`.

No auth, no rate limit, no upload limit (beyond the sandbox's transport cap). POST: multipart
`file` (required) and the form fields `model`, `a`, `af` (0-255), `ab` (0-255), `ae` (>= 0),
`om`, `ppm`; `bgc` (`R,G,B,A`) and `extras` only as query parameters. Validation failures answer
FastAPI's 422 `{"detail": [{"type", "loc", "msg", "input"}]}`; a `model` that only contains a
session name passes validation and then fails like the real one: 500 `Internal Server Error`
(text/plain), as does an undecodable image or a bad `bgc`. The answer is always a PNG of the
input's (EXIF-corrected) size: RGBA cutout, greyscale mask with `om`, composited with `bgc`.
Alpha matting and `ppm` are accepted; the fake's matte is the local engine's either way.
GET takes `url` and, as the real server does for loopback and private addresses, refuses it (400).
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.middleware import DefineMiddleware
from PIL import Image

from providers.images import encode_png
from providers.rembg_config import MODELS
from sandbox.common import (
    MAX_BODY_BYTES,
    ImageDecodeError,
    VendorState,
    control_handlers,
    run_cpu,
    sandbox_middleware,
)
from sandbox.cutout import matte_pair
from sandbox.options import SandboxOptions

#: Every session name of v2.0.77 (the validation regex is an unanchored alternation of them).
SESSIONS = (*sorted(MODELS), "u2net_cloth_seg", "u2net_custom", "dis_custom", "ben_custom")
_MODEL = re.compile("(" + "|".join(re.escape(name) for name in SESSIONS) + ")")
_TRUE = {"true", "1", "yes", "on"}
_BOOLS = _TRUE | {"false", "0", "no", "off"}


def internal_error() -> Response:
    """FastAPI's plain 500."""
    return Response(b"Internal Server Error", status_code=500, media_type="text/plain")


def error_body(status: int) -> dict[str, Any]:
    """The body of an injected fault (FastAPI's `detail`)."""
    return {"detail": "Internal Server Error" if status >= 500 else f"Injected fault ({status})"}


def _invalid(location: str, name: str, message: str, value: object) -> dict[str, Any]:
    return {"type": "value_error", "loc": [location, name], "msg": message, "input": value}


def validate(form: dict[str, Any]) -> list[dict[str, Any]]:
    """FastAPI-style validation errors of the form fields (empty when valid)."""
    errors = []
    if not isinstance(form.get("file"), UploadFile):
        errors.append({"type": "missing", "loc": ["body", "file"], "msg": "Field required",
                       "input": None})
    model = str(form.get("model", "u2net"))
    if not _MODEL.search(model):
        errors.append(_invalid("body", "model", "String should match pattern", model))
    for name in ("a", "om", "ppm"):
        if name in form and str(form[name]).lower() not in _BOOLS:
            errors.append(_invalid("body", name, "Input should be a valid boolean", form[name]))
    for name, low, high in (("af", 0, 255), ("ab", 0, 255), ("ae", 0, None)):
        if name not in form:
            continue
        text = str(form[name])
        ok = re.fullmatch(r"-?\d+", text) is not None
        if not ok or int(text) < low or (high is not None and int(text) > high):
            errors.append(_invalid("body", name, "Input should be a valid integer in range", text))
    return errors


def render(data: bytes, only_mask: bool, bgc: tuple[int, ...] | None, instant: bool) -> bytes:
    """The PNG answer (CPU work: call from a worker thread)."""
    rgb, matte = matte_pair(data, instant)
    if only_mask:
        return encode_png(matte)
    cutout = Image.new("RGBA", rgb.size, (0, 0, 0, 0))
    cutout.paste(rgb, mask=matte)
    if bgc is not None:
        colour = (*bgc[:3], bgc[3] if len(bgc) > 3 else 255)
        cutout = Image.alpha_composite(Image.new("RGBA", cutout.size, colour), cutout)
    return encode_png(cutout)


def create_rembg_app(options: SandboxOptions) -> Litestar:
    """The fake rembg server as a Litestar app."""
    state = VendorState(lambda headers: None, error_body)

    @post("/api/remove", status_code=200)
    async def remove_post(request: Request) -> Response:
        try:
            form = dict((await request.form()).items())
        except Exception:  # the parser raises several types on malformed bodies
            form = {}
        errors = validate(form)
        if errors:
            return Response({"detail": errors}, status_code=422)
        if str(form.get("model", "u2net")) not in SESSIONS:
            return internal_error()
        bgc = request.query_params.get("bgc")
        try:
            colour = tuple(int(v) for v in bgc.split(",")) if bgc else None
        except ValueError:
            return internal_error()
        data = await form["file"].read()
        only_mask = str(form.get("om", "false")).lower() in _TRUE
        try:
            png = await run_cpu(render, data, only_mask, colour, options.instant)
        except ImageDecodeError:
            return internal_error()
        return Response(png, media_type="image/png")

    @get("/api/remove")
    async def remove_get(request: Request) -> Response:
        if not request.query_params.get("url"):
            return Response({"detail": [{"type": "missing", "loc": ["query", "url"],
                                         "msg": "Field required", "input": None}]},
                            status_code=422)
        return Response({"detail": "Requests to private/internal addresses are not allowed."},
                        status_code=400)

    @get("/openapi.json")
    async def openapi() -> dict[str, Any]:
        return {"openapi": "3.1.0", "info": {"title": "Rembg", "version": "2.0.77"},
                "paths": {"/api/remove": {"get": {}, "post": {}}}}

    return Litestar(
        route_handlers=[remove_post, remove_get, openapi, *control_handlers(state, lambda: None)],
        middleware=[DefineMiddleware(sandbox_middleware(state))],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
    )
