"""The drop-in routes' declarations for the OpenAPI document, in their vendors' shapes.

withoutBG, BackgroundErase v2 and remove.bg as `../shared/vendor-docs/` describe them: their
field names, their answers and their error bodies (never problem+json). See gateway.api.openapi.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from gateway.api.dropin_backgrounderase import FLAGS, EraseJSON
from gateway.api.dropin_clipdrop import HANDLING
from gateway.api.dropin_photoroom import FORMATS as PHOTOROOM_FORMATS
from gateway.api.dropin_photoroom import SIZES as PHOTOROOM_SIZES
from gateway.api.dropin_removebg import Foreground
from gateway.api.openapi import (
    BINARY,
    JSON,
    MULTIPART,
    URLENCODED,
    Answer,
    ApiDoc,
    Schema,
    image_answer,
)
from gateway.api.openapi_routes import (
    B64,
    BOOL_FORM,
    BOOL_JSON,
    OUTPUTS,
    URL,
    file_parts,
    object_schema,
    option_schemas,
)
from gateway.api.removebg_fields import FORMATS, SHADOW_TYPES, SIZES, TYPE_LEVELS, TYPES
from gateway.settings import Settings


class WithoutbgError(msgspec.Struct):
    """withoutBG's error body."""

    detail: str


class EraseErrorDetail(msgspec.Struct):
    """BackgroundErase's error detail."""

    message: str
    code: str


class EraseError(msgspec.Struct):
    """BackgroundErase's error body."""

    error: EraseErrorDetail


class RemovebgErrorItem(msgspec.Struct):
    """One remove.bg error."""

    title: str
    code: str
    detail: str


class RemovebgError(msgspec.Struct):
    """remove.bg's error body."""

    errors: list[RemovebgErrorItem]


class WithoutbgCutout(msgspec.Struct):
    """withoutBG's base64 cut-out (`image` as documented, the other as its SDK reads)."""

    image: str
    img_without_background_base64: str


class WithoutbgAlpha(msgspec.Struct):
    """withoutBG's base64 matte."""

    alpha_channel: str
    alpha_base64: str


class AvailableCredit(msgspec.Struct):
    """withoutBG's `GET /available-credit`."""

    available_credits: int
    expiration_date: str | None


class RemovebgCredits(msgspec.Struct):
    """remove.bg's credit balance."""

    total: float
    subscription: float
    payg: float
    enterprise: float


class RemovebgApi(msgspec.Struct):
    """remove.bg's API allowance."""

    free_calls: int
    sizes: str


class RemovebgAttributes(msgspec.Struct):
    """remove.bg's account attributes."""

    credits: RemovebgCredits
    api: RemovebgApi


class RemovebgAccountData(msgspec.Struct):
    """remove.bg's account `data`."""

    attributes: RemovebgAttributes


class RemovebgAccount(msgspec.Struct):
    """remove.bg's `GET /v1.0/account`."""

    data: RemovebgAccountData


class WithoutbgModel(msgspec.Struct):
    """One "model" (an enabled provider) in `GET /v1/models`."""

    id: str
    type: str
    output: str | None


class WithoutbgModels(msgspec.Struct):
    """`GET /v1/models`, as the withoutBG SDK's `get_models()` reads it."""

    models: list[WithoutbgModel]
    default: str | None
    endpoints: list[str]


def _vendor_doc(bodies: dict[str, Any], answer: Answer, errors: tuple[int, ...],
                error_body: type, encoding: Mapping[str, Schema] | None = None) -> ApiDoc:
    return ApiDoc(bodies=bodies, answers={200: answer}, errors=errors, error_body=error_body,
                  error_media_type=JSON, encoding=dict(encoding or {}))


_WITHOUTBG_ERRORS = (401, 402, 413, 415, 422, 429, 502, 503, 504)
_WITHOUTBG_MULTIPART = object_schema({"file": BINARY}, "file", closed=False)
_WITHOUTBG_JSON = object_schema({"image": B64}, "image", closed=False)
_WITHOUTBG_FILES = file_parts("file")


def _withoutbg(answer: Answer) -> ApiDoc:
    return _vendor_doc({MULTIPART: _WITHOUTBG_MULTIPART, JSON: _WITHOUTBG_JSON}, answer,
                       _WITHOUTBG_ERRORS, WithoutbgError, _WITHOUTBG_FILES)


def nullable(fields: dict[str, Schema], form: bool) -> dict[str, Schema]:
    """The drop-ins treat a JSON null option as not given."""
    return fields if form else {k: {"anyOf": [v, {"type": "null"}]} for k, v in fields.items()}


def _erase_fields(settings: Settings, form: bool) -> dict[str, Schema]:
    return nullable({k: v for k, v in option_schemas(settings, form).items() if k in FLAGS},
                     form)


def erase_multipart(settings: Settings) -> Schema:
    """BackgroundErase `POST /v2` as multipart/form-data."""
    # A multipart body carries a file (a URL goes in JSON); a filename-less part would be text.
    return object_schema({"image_file": BINARY, **_erase_fields(settings, form=True)}, "image_file",
                         closed=False)


def erase_json(settings: Settings) -> Schema:
    """BackgroundErase `POST /v2` as JSON (`image` is the legacy mask request)."""
    return object_schema({"image_base64": B64, "image_url": URL,
                         **_erase_fields(settings, form=False)}, "image_base64", "image_url",
                         closed=False)


def _removebg_fields(settings: Settings, form: bool) -> dict[str, Schema]:
    """remove.bg's documented fields, from the drop-in's own tables (removebg_fields)."""
    ours = option_schemas(settings, form)
    boolean = BOOL_FORM if form else BOOL_JSON
    fields = {key: ours[key] for key in ("channels", "crop", "roi", "scale", "position",
                                         "bg_color", "bg_image_url", "shadow_opacity")}

    def words(table: Mapping[str, str] | frozenset[str], default: str) -> Schema:
        return {"type": "string", "enum": sorted(table), "default": default}

    fields.update({
        "size": words(SIZES, "preview"), "format": words(FORMATS, "auto"),
        "type": words(TYPES, "auto"), "type_level": words(TYPE_LEVELS, "1"),
        "shadow_type": words(SHADOW_TYPES, "none"),
        "add_shadow": boolean, "semitransparency": boolean,
        "crop_margin": {"type": "string", "description": "1, 2 or 4 sizes (`30px`, `10%`); "
                        "at most 500 px or 50% of the subject per side"},
    })
    fields = nullable(fields, form)
    # The route reads a null or blank shadow_type as invalid, unlike its other fields.
    fields["shadow_type"] = words(SHADOW_TYPES, "none")
    return fields


def removebg_body(form: bool, files: bool) -> Callable[[Settings], Schema]:
    """remove.bg `POST /v1.0/removebg` fields (multipart, urlencoded or JSON)."""

    def build(settings: Settings) -> Schema:
        # A multipart body carries a file (a URL goes in the other types, as remove.bg's own
        # clients send it): one required source keeps a filename on every file part.
        sources: dict[str, Schema] = {"image_file": BINARY} if files else {
            "image_file_b64": B64, "image_url": URL}
        return object_schema({**sources, **_removebg_fields(settings, form)}, *sources,
                             closed=False)

    return build


class RemovebgAnswer(msgspec.Struct):
    """remove.bg's JSON answer."""

    data: Foreground


_REMOVEBG_HEADERS = ("X-Width", "X-Height", "X-Credits-Charged", "X-Provider", "X-Attempts",
                     "X-Cache")



class PhotoroomError(msgspec.Struct):
    """Photoroom's error body (4xx)."""

    detail: str
    status_code: int
    type: str


class PhotoroomServerErrorDetail(msgspec.Struct):
    """Photoroom's v2 server error detail."""

    message: str


class PhotoroomServerError(msgspec.Struct):
    """Photoroom's error body (5xx, its v2 shape)."""

    error: PhotoroomServerErrorDetail


class PhotoroomJSON(msgspec.Struct):
    """Photoroom's JSON answer (`Accept: application/json`)."""

    base64img: str


class ClipdropError(msgspec.Struct):
    """Clipdrop's error body."""

    error: str


def _blank_or(schema: Schema) -> Schema:
    """A text field whose blank value means its default."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


def photoroom_multipart(settings: Settings) -> Schema:
    """Photoroom `POST /v1/segment`: one `image_file` part and its optional fields."""
    ours = option_schemas(settings, form=True)
    words = {"format": sorted(PHOTOROOM_FORMATS), "channels": ["alpha", "rgba"],
             "size": sorted(PHOTOROOM_SIZES)}
    fields: dict[str, Schema] = {key: _blank_or({"type": "string", "enum": values})
                                 for key, values in words.items()}
    fields.update({"bg_color": ours["bg_color"], "crop": _blank_or(BOOL_FORM),
                   "despill": _blank_or(BOOL_FORM)})
    return object_schema({"image_file": BINARY, **fields}, "image_file", closed=False)


_CLIPDROP_MULTIPART = object_schema(
    {"image_file": BINARY, "transparency_handling": _blank_or(
        {"type": "string", "enum": sorted(HANDLING)})}, "image_file", closed=False)
_PHOTOROOM_5XX = {status: Answer("Error (Photoroom's v2 shape)", {JSON: PhotoroomServerError})
                  for status in (502, 503, 504)}


def dropin_docs() -> dict[tuple[str, str], ApiDoc]:
    """{(METHOD, path): ApiDoc} for the drop-in routes."""
    withoutbg_image = image_answer("The cut-out, PNG", ("image/png",))
    withoutbg_alpha = image_answer("The alpha matte, grayscale PNG", ("image/png",))
    photoroom = image_answer("The image (`{\"base64img\"}` with `Accept: application/json`)",
                             headers=("x-uncertainty-score",), json=PhotoroomJSON)
    return {
        ("POST", "/v1/segment"): ApiDoc(
            bodies={MULTIPART: photoroom_multipart}, encoding=file_parts("image_file"),
            answers={200: photoroom, **_PHOTOROOM_5XX}, errors=(400, 402, 403, 429),
            error_body=PhotoroomError, error_media_type=JSON),
        ("POST", "/remove-background/v1"): _vendor_doc(
            {MULTIPART: _CLIPDROP_MULTIPART},
            image_answer("The image, its format chosen by `Accept`, the input's pixel size",
                         headers=("x-credits-consumed", "x-remaining-credits")),
            (400, 401, 402, 403, 406, 429, 502, 503, 504), ClipdropError,
            file_parts("image_file")),
        ("POST", "/v1.0/image-without-background"): _withoutbg(withoutbg_image),
        ("POST", "/v1.0/alpha-channel"): _withoutbg(withoutbg_alpha),
        ("POST", "/v1.0/image-without-background-base64"): _withoutbg(
            Answer("The cut-out, base64 PNG", {JSON: WithoutbgCutout})),
        ("POST", "/v1.0/alpha-channel-base64"): _withoutbg(
            Answer("The matte, base64 PNG", {JSON: WithoutbgAlpha})),
        ("GET", "/available-credit"): _vendor_doc(
            {}, Answer("Remaining credits", {JSON: AvailableCredit}), (401, 429),
            WithoutbgError),
        ("GET", "/v1/models"): _vendor_doc(
            {}, Answer("The enabled providers as models", {JSON: WithoutbgModels}), (401, 429),
            WithoutbgError),
        ("POST", "/v2"): _vendor_doc(
            {MULTIPART: erase_multipart, JSON: erase_json},
            image_answer("Multipart: the image; JSON: a JSON document", OUTPUTS,
                         json=EraseJSON),
            (400, 401, 402, 413, 415, 422, 429, 502, 503, 504), EraseError,
            file_parts("image_file")),
        ("GET", "/v1.0/account"): _vendor_doc(
            {}, Answer("The calling client's credits", {JSON: RemovebgAccount}), (403, 429),
            RemovebgError),
        ("POST", "/v1.0/removebg"): _vendor_doc(
            {MULTIPART: removebg_body(True, True), URLENCODED: removebg_body(True, False),
             JSON: removebg_body(False, False)},
            image_answer("The image (remove.bg's JSON with `Accept: application/json`)", OUTPUTS,
                         headers=_REMOVEBG_HEADERS, json=RemovebgAnswer),
            (400, 402, 403, 429, 502, 503, 504), RemovebgError,
            file_parts("image_file")),
    }


DROPIN_DOCS = dropin_docs()
