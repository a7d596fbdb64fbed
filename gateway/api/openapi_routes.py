"""The declarations of the gateway's own routes for the OpenAPI document (see gateway.api.openapi).

`ROUTE_DOCS` maps (METHOD, path) to an `ApiDoc`; a route that declares `opt=documented(…)` in its
decorator does not need an entry here. The unified API's fields are built from the option table
of `gateway.api.options` and the configured providers, policies and experiments; the drop-ins are
in `gateway.api.openapi_dropins`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway.api import options
from gateway.api.compare_inputs import _REFUSED, MAX_TILE
from gateway.api.inputs import BASE64_FIELDS, IMAGE_FIELDS
from gateway.api.openapi import (
    BINARY,
    INPUT_IMAGES,
    JSON,
    MULTIPART,
    OUTPUT_IMAGES,
    URLENCODED,
    Answer,
    ApiDoc,
    Schema,
    Source,
    image_answer,
)
from gateway.api.responses import RemovalJSON
from gateway.compare.runner import CompareReport
from gateway.router.types import ProviderStatus
from gateway.settings import Settings

# --- The unified API's fields, from the option table the parser uses ------------------------

def _words(table: Mapping[str, str] | frozenset[str] | set[str]) -> list[str]:
    return sorted(table)


# The parser's private tables are the one source of truth for the accepted words.
_BOOL_WORDS = _words(options._TRUE | options._FALSE)
BOOL_FORM: Schema = {"type": "string", "enum": _BOOL_WORDS, "description": "a boolean"}
BOOL_JSON: Schema = {"anyOf": [{"type": "boolean"}, BOOL_FORM, {"type": "integer",
                                                                  "enum": [0, 1]}]}
_HEX = "^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$"
_PCT = r"0*(100(\.0+)?|\d{1,2}(\.\d+)?)"
_PX = r"\d+(\.\d+)?"
_MARGIN = rf"^({_PX}(px)?|{_PCT}%)$"
_ROI_VALUE = rf"({_PX}(px)?|{_PCT}%)"


def _color_schema() -> Schema:
    from PIL import ImageColor  # the colour names the parser (Pillow) knows

    # A pattern, not an enum: test generators would otherwise try all ~150 names everywhere.
    names = "^(" + "|".join(sorted(ImageColor.colormap)) + ")$"
    return {"anyOf": [{"type": "string", "pattern": _HEX}, {"type": "string", "pattern": names}],
            "description": "CSS colour name, `#rgb`, `#rrggbb` or `#rrggbbaa` (`#` optional)"}


def _names_pattern(names: list[str]) -> str:
    name = "(" + "|".join(names) + ")"
    return f"^{name}(,{name})*$"


def _text(pattern: str, description: str) -> Schema:
    return {"type": "string", "pattern": pattern, "description": description}


def _ints(low: int, high: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "minimum": low}
    if high is not None:
        schema["maximum"] = high
    return schema


#: JSON integers whose text the parser accepts, per option (bg_color: 3, 6 or 8 hex digits).
_JSON_INTEGERS: dict[str, list[Schema]] = {
    "crop_margin": [_ints(0)], "scale": [_ints(10, 100)], "position": [_ints(0, 100)],
    "shadow_opacity": [_ints(0, 100)], "routing_key": [{"type": ["integer", "boolean"]}],
    "bg_color": [_ints(100, 999), _ints(100000, 999999), _ints(10000000, 99999999)],
}
#: Options the parser reads as not given when blank (`_optional` and friends).
_BLANK_IS_UNSET = ("crop_margin", "bg_color", "bg_image_url", "roi", "scale", "position",
                   "provider", "routing_key", "policy", "experiment")


def option_schemas(settings: Settings, form: bool) -> dict[str, Schema]:
    """Every option key the parser knows -> its schema (form fields are text, JSON is typed).

    A key of `options.OPTION_KEYS` missing here is documented as a plain string, and
    `tests/api/test_openapi.py` fails until it gets a schema.
    """
    boolean = BOOL_FORM if form else BOOL_JSON
    names = sorted(settings.providers)
    known: dict[str, Schema] = {
        "format": {"type": "string", "enum": _words(options._FORMATS),
                   "description": "output encoding (default png); jpg flattens on bg_color"},
        "channels": {"type": "string", "enum": _words(options._CHANNELS),
                     "description": "rgba (default) or alpha: a single-channel matte"},
        "size": {"type": "string", "enum": _words(options._SIZES),
                 "description": "cap on output pixels (preview 0.25 MP, medium 1.5, hd 4)"},
        "crop": {**boolean, "description": "tight crop to alpha > 10"},
        "crop_margin": _text(_MARGIN, "margin kept around the subject: `12px`, `12` or `5%`"),
        "bg_color": _color_schema(),
        "bg_image_url": URL,
        "despill": {**boolean, "description": "remove background colour bleeding into edges"},
        "provider": {"type": "string", "enum": names,
                     "description": "pin one configured provider"},
        "providers": _text(_names_pattern(names),
                           "comma-separated allow-list of configured providers"),
        "fallback": {**boolean, "description": "may the router try the next candidate"},
        "routing_key": {"type": "string", "description": "sticky key for the weighted policy"},
        "roi": _text(rf"^{_ROI_VALUE}([ ,]+{_ROI_VALUE}){{3}}$",
                     "region `x1 y1 x2 y2` (px or %) that may be foreground; inside the image"),
        "scale": _text(r"^(original|0*(100(\.0+)?|[1-9]\d(\.\d+)?)%?)$",
                       "subject size, `10%`-`100%` of the canvas, or `original`"),
        "position": _text(rf"^(original|center|centre|{_PCT}%?([ ,]+{_PCT}%?)?)$",
                          "subject placement: `original`, `center`, `N%` or `H% V%`"),
        "shadow": {**boolean, "description": "add a drop shadow"},
        "shadow_opacity": _text(rf"^(auto|{_PCT}%?)$", "shadow opacity 0-100 (default 50)"),
    }
    if settings.routing.allow_policy_override:
        known["policy"] = {"type": "string", "enum": ["cheapest", "fastest", "priority",
                                                      "weighted"]}
    if settings.experiments:
        known["experiment"] = {"type": "string", "enum": sorted(settings.experiments)}
    if not form:
        # A JSON integer (or boolean) stands for its text: `"scale": 50` is `"scale": "50"`.
        for key, numbers in _JSON_INTEGERS.items():
            if key in known:
                known[key] = {"anyOf": [known[key], *numbers]}
    for key in _BLANK_IS_UNSET:
        if key in known:
            known[key] = {"anyOf": [known[key], {"type": "string", "maxLength": 0}]}
    schemas = {key: known.get(key, {"type": "string", "minLength": 1})
               for key in sorted(options.OPTION_KEYS)
               if key in known or key not in {"policy", "experiment"}}
    if settings.routing.routing_key_field:
        schemas[settings.routing.routing_key_field.lower()] = known["routing_key"]
    return schemas


def object_schema(properties: dict[str, Schema], *alternatives: str, closed: bool = True) -> Schema:
    """An object schema; with several `alternatives` (one of them required), an anyOf of objects.

    Whole objects rather than an anyOf of `required` lists: code generators understand those.
    The alternatives are in the order the route tries them: in the variant of one, the earlier
    ones are absent and the later ones are ignored (any text). At most one background source
    may be sent; the schema leaves that to the descriptions.
    """
    def one(index: int) -> Schema:
        fields = {key: value for key, value in properties.items()
                  if key not in alternatives[:index]}
        for later in alternatives[index + 1:]:
            fields[later] = {"description": "ignored when an earlier input is given"}
        schema: Schema = {"type": "object", "properties": fields,
                          "required": list(alternatives[index:index + 1])}
        if closed:
            schema["additionalProperties"] = False
        return schema

    if len(alternatives) <= 1:
        return one(0)
    return {"anyOf": [{**one(i), "title": f"with {name}"} for i, name in enumerate(alternatives)]}


B64: Schema = {"type": "string", "format": "byte", "minLength": 4,
                   "description": "base64 of the file; a `data:…;base64,` prefix is allowed"}
URL: Schema = {"type": "string", "format": "uri", "pattern": "^https?://",
                "description": "http(s) URL the gateway fetches"}


def _file_part(name: str) -> Schema:
    """A file part's encoding: an image type, and a filename (without one it is read as text)."""
    disposition = f'form-data; name="{name}"; filename="{name}.png"'
    return {"contentType": ", ".join(INPUT_IMAGES), "headers": {"Content-Disposition": {
        "required": True, "schema": {"type": "string"}, "example": disposition}}}


def file_parts(*names: str) -> dict[str, Schema]:
    return {name: _file_part(name) for name in names}


def removal_multipart(settings: Settings) -> Schema:
    """`POST /v1/remove-background` as multipart/form-data."""
    # Only the first name of each input is documented: a generated client sends that one, and
    # its aliases (`file`, `image`, `image_file_b64`) are in the description.
    return object_schema({IMAGE_FIELDS[0]: {**BINARY, "description": "the image"},
                         "trimap_file": {**BINARY, "description": "optional trimap"},
                         "bg_image_file": {**BINARY, "description": "background image"},
                         **option_schemas(settings, form=True)}, "image_file")


def removal_urlencoded(settings: Settings) -> Schema:
    """`POST /v1/remove-background` as an urlencoded form (base64 or URL input)."""
    return object_schema({"image_base64": B64, "image_url": URL, "trimap_base64": B64,
                          "bg_image_base64": B64, **option_schemas(settings, form=True)},
                         "image_base64", "image_url")


def removal_json(settings: Settings) -> Schema:
    """`POST /v1/remove-background` as JSON."""
    return object_schema({BASE64_FIELDS[0]: B64, "image_url": URL, "trimap_base64": B64,
                          "bg_image_base64": B64, **option_schemas(settings, form=False)},
                         "image_base64", "image_url")



def removal_query(settings: Settings) -> dict[str, Schema]:
    """Options as query parameters (how a raw image body carries them)."""
    return option_schemas(settings, form=True)


RAW_IMAGE: Schema = {**BINARY, "description": "the image itself (JPEG, PNG, WebP, TIFF, BMP or "
                     "GIF; sniffed), options in the query string"}
#: What `format` can ask for: the image types, and a zip (colour JPEG + alpha PNG) when offered.
OUTPUTS = (*OUTPUT_IMAGES, *(("application/zip",) if "zip" in options._FORMATS else ()))
PROBLEMS = (400, 401, 413, 415, 422, 429, 502, 503, 504)
READS = (400, 401, 429)
REMOVE_BACKGROUND = ApiDoc(
    bodies={MULTIPART: removal_multipart, URLENCODED: removal_urlencoded, JSON: removal_json,
            "image/*": RAW_IMAGE, "application/octet-stream": RAW_IMAGE},
    encoding=file_parts(IMAGE_FIELDS[0], "trimap_file", "bg_image_file"),
    query=removal_query,
    answers={200: image_answer("The cut-out (JSON with `Accept: application/json`)", OUTPUTS,
                               json=RemovalJSON)},
    errors=PROBLEMS,
)


# --- Answers of the reading routes -------------------------------------------------------------

class ProviderView(ProviderStatus):
    """One provider in `GET /v1/providers`."""

    health: bool | None = None
    engine: dict[str, Any] | None = None


class Providers(msgspec.Struct):
    """`GET /v1/providers`."""

    providers: list[ProviderView]


class Usage(msgspec.Struct, rename={"from_": "from"}):
    """`GET /v1/usage`: ledger rows summed by client and provider."""

    usage: list[dict[str, Any]]
    from_: float | None
    to: float | None
    partial: bool
    """True while the shared ledger's Redis is unreachable: only this instance's records."""
    detail: str | None = None


class Credits(msgspec.Struct):
    """`GET /v1/credits`: remaining credits per provider (null when unknown)."""

    credits: dict[str, float | None]


OPEN_OBJECT: Schema = {"type": "object"}
_INSTANT: Schema = {"anyOf": [{"type": "string", "format": "date-time"},
                              {"type": "string", "maxLength": 0},
                              {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,6})?$"}],
                    "description": "ISO 8601 date-time or Unix seconds"}
_READY: Schema = {"type": "object", "required": ["ready"],
                  "properties": {"ready": {"type": "boolean"}}}


def json_answer(description: str, source: Source) -> dict[int, Answer]:
    return {200: Answer(description, {JSON: source})}


# --- /v1/compare ---------------------------------------------------------------------------------

class CompareWithSheet(msgspec.Struct):
    """`POST /v1/compare` with `sheet=true` and `Accept: application/json`."""

    report: CompareReport
    sheet_base64: str


def _compare_fields(settings: Settings, form: bool) -> dict[str, Schema]:
    fields = {key: schema for key, schema in option_schemas(settings, form).items()
              if key not in _REFUSED}
    fields["format"] = {**fields["format"],
                        "enum": [f for f in fields["format"]["enum"] if f != "zip"]}
    boolean = BOOL_FORM if form else BOOL_JSON
    tile = {"type": "integer", "minimum": 32, "maximum": MAX_TILE}
    fields["sheet"] = {**boolean, "description": "answer a PNG contact sheet"}
    fields["images"] = {**boolean,
                        "description": "put each cut-out in the report as `image_base64`"}
    fields["tile"] = tile if not form else {"type": "string", "pattern": "^[0-9]{2,3}$",
                                            "description": f"tile size, 32-{MAX_TILE} px"}
    fields["ground_truth_base64"] = B64
    return fields


def compare_multipart(settings: Settings) -> Schema:
    """`POST /v1/compare` as multipart/form-data."""
    return object_schema({IMAGE_FIELDS[0]: {**BINARY, "description": "the image"},
                         "trimap_file": {**BINARY, "description": "optional trimap"},
                         "ground_truth": {**BINARY, "description": "ground-truth alpha image"},
                         **_compare_fields(settings, form=True)}, IMAGE_FIELDS[0])


def compare_json(settings: Settings) -> Schema:
    """`POST /v1/compare` as JSON."""
    return object_schema({"image_base64": B64, "image_url": URL, "trimap_base64": B64,
                          **_compare_fields(settings, form=False)}, "image_base64", "image_url")


COMPARE = ApiDoc(
    bodies={MULTIPART: compare_multipart, JSON: compare_json},
    encoding=file_parts(IMAGE_FIELDS[0], "trimap_file", "ground_truth"),
    answers={200: Answer("The report (JSON), or a PNG contact sheet with `sheet=true`",
                         {JSON: CompareReport, "image/png": BINARY}, ("RateLimit-Limit",))},
    errors=PROBLEMS,
)


def route_docs() -> dict[tuple[str, str], ApiDoc]:
    """{(METHOD, path): ApiDoc} for every route of the gateway's own modules."""
    return {
        ("POST", "/v1/remove-background"): REMOVE_BACKGROUND,
        ("GET", "/v1/providers"): ApiDoc(
            answers=json_answer("Every configured provider", Providers), errors=READS),
        ("GET", "/v1/usage"): ApiDoc(answers=json_answer("Usage by client and provider", Usage),
                                     query={"from": _INSTANT, "to": _INSTANT}, errors=READS),
        ("GET", "/v1/credits"): ApiDoc(answers=json_answer("Credits per provider", Credits),
                                       errors=READS),
        ("GET", "/ready"): ApiDoc(answers={200: Answer("Ready", {JSON: _READY}),
                                           503: Answer("Not ready", {JSON: _READY})}),
        ("POST", "/v1/compare"): COMPARE,
        ("GET", "/v1/experiments"): ApiDoc(
            answers=json_answer("Configured experiments", OPEN_OBJECT), errors=READS),
        ("GET", "/v1/experiments/{name}"): ApiDoc(
            answers=json_answer("Per-variant figures", OPEN_OBJECT), errors=(*READS, 404)),
    }


ROUTE_DOCS = route_docs()
