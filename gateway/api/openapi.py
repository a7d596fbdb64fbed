"""The OpenAPI document at `/schema`: what Litestar cannot derive, and the docs UIs served locally.

The routes read their bodies by hand (multipart, urlencoded, JSON or a raw image, see
`gateway.api.inputs`), so Litestar sees neither request bodies nor the real answers. Each route
gets one declaration, an `ApiDoc`, and this module merges the declarations into the document
Litestar builds: request bodies per content type, answers per status with their media types and
headers, and error answers (problem+json, or a drop-in's vendor shape). msgspec Structs named in
a declaration become `components.schemas` entries. The unified API's options come from the
parser's tables in `gateway.api.options` (and the configured providers, policies and
experiments), so a new option shows up in the document without touching this module.

Where the declarations are: `gateway.api.openapi_routes` (unified API, compare, the option
schemas), `gateway.api.openapi_dropins` (the drop-ins in their vendors' shapes) and
`gateway.jobs.openapi` (handed in by `gateway.app` as `extra`: gateway.api must not import the
jobs package), each a table keyed by (METHOD, path). To document a new route, add one keyword to
its decorator (it wins over any table entry)::

    @get("/v1/things/{thing_id:str}", opt=documented(ApiDoc(
        answers={200: Answer("The thing", {JSON: ThingView})}, errors=(401, 404, 429),
    )))

`bodies` maps a request media type to a Struct type, a JSON Schema dict, or a function of the
`Settings` returning one (`encoding` gives multipart file parts their types and a filename);
`answers` maps a status to an `Answer` (content per media type, headers by name from `HEADERS`);
`errors` lists the statuses the route answers with an error, as problem+json unless
`error_body`/`error_media_type` say otherwise; `query` documents query parameters Litestar cannot
see or describes better the ones it can. `tests/api/test_openapi.py` fails for a POST route with
no request body and runs schemathesis, all checks, against a live gateway.

Swagger UI and ReDoc load their assets from the `openapi-ui-bundles` package, under
`/schema/assets/`, never from a CDN (ReDoc's one remote URL, a logo, is rewritten).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from litestar import Litestar, Request, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from openapi_ui_bundles import redoc, swagger_ui

from gateway.api.problems import PROBLEM_JSON, Problem
from gateway.errors import GatewayError
from gateway.runtime import runtime_of
from gateway.settings import Settings

Schema = dict[str, Any]
#: A schema source: a msgspec Struct type (a component), a JSON Schema, or one built from Settings.
Source = type | Schema | Callable[[Settings], Schema]
JSON = "application/json"
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
OUTPUT_IMAGES = ("image/png", "image/jpeg", "image/webp")
INPUT_IMAGES = ("image/png", "image/jpeg", "image/webp", "image/tiff", "image/bmp", "image/gif")
BINARY: Schema = {"type": "string", "format": "binary"}
OPENAPI_KEY = "openapi"
SCHEMA_PATH = "/schema"
ASSETS = f"{SCHEMA_PATH}/assets"

#: Response headers by name: (description, required on the answers that list it).
HEADERS: dict[str, tuple[str, bool]] = {
    "X-Request-Id": ("The request id (also in the logs)", True),
    "X-Provider": ("The provider that made the image", True),
    "X-Attempts": ("Every provider tried: `withoutbg=rate_limited, local=ok`", True),
    "X-Emulated": ("Options done locally, comma separated (empty when none)", True),
    "X-Cost": ("What the request cost", True),
    "X-Width": ("Width of the answer in pixels", True),
    "X-Height": ("Height of the answer in pixels", True),
    "Server-Timing": ("`provider;dur=…, postprocess;dur=…, overhead;dur=…, total;dur=…`", True),
    "X-Cache": ("`hit` or `miss`", True),
    "X-Credits-Charged": ("The request's cost, as remove.bg reports it", True),
    "x-uncertainty-score": ("Photoroom: share of undecided subject pixels (-1: no alpha)", True),
    "x-credits-consumed": ("Clipdrop: what the call cost", True),
    "x-remaining-credits": ("Clipdrop: the client's credits left", True),
    "Location": ("Where the new resource is", True),
    "X-Experiment": ("The experiment the request joined", False),
    "X-Foreground-Top": ("The subject's box in the answer: top", False),
    "X-Foreground-Left": ("The subject's box: left", False),
    "X-Foreground-Width": ("The subject's box: width", False),
    "X-Foreground-Height": ("The subject's box: height", False),
    "X-Variant": ("The experiment's variant that served it", False),
    "Retry-After": ("Seconds to wait before retrying", False),
    "X-Error-Code": ("The gateway's own error code", False),
    "RateLimit-Limit": ("The client's request limit", False),
    "RateLimit-Remaining": ("Requests left in the window", False),
    "RateLimit-Reset": ("Seconds until the window resets", False),
}
REMOVAL_HEADERS = ("X-Provider", "X-Attempts", "X-Emulated", "X-Cost", "X-Width", "X-Height",
                   "Server-Timing", "X-Cache", "X-Experiment", "X-Variant", "RateLimit-Limit",
                   "RateLimit-Remaining", "RateLimit-Reset", "X-Foreground-Top",
                   "X-Foreground-Left", "X-Foreground-Width", "X-Foreground-Height")
_ERROR_HEADERS = ("Retry-After", "X-Error-Code", "RateLimit-Limit", "RateLimit-Remaining",
                  "RateLimit-Reset")


class Answer(msgspec.Struct, frozen=True):
    """One documented answer: its content per media type and the headers it carries."""

    description: str
    content: dict[str, Source] = msgspec.field(default_factory=dict)
    headers: tuple[str, ...] = ()


class ApiDoc(msgspec.Struct, frozen=True, kw_only=True):
    """What the document says about one route, beyond what Litestar derives."""

    bodies: dict[str, Source] = msgspec.field(default_factory=dict)
    encoding: dict[str, Schema] = msgspec.field(default_factory=dict)
    query: Mapping[str, Source] | Callable[[Settings], Mapping[str, Source]] | None = None
    """Query parameters: {name: Source}, or a function of the Settings returning that."""
    answers: dict[int, Answer] = msgspec.field(default_factory=dict)
    errors: tuple[int, ...] = ()
    error_body: Source = Problem
    error_media_type: str = PROBLEM_JSON


def documented(doc: ApiDoc) -> dict[str, object]:
    """The `opt` of a route handler that `doc` documents."""
    return {OPENAPI_KEY: doc}


def image_answer(description: str, media_types: tuple[str, ...] = OUTPUT_IMAGES,
                 headers: tuple[str, ...] = REMOVAL_HEADERS,
                 json: Source | None = None) -> Answer:
    """A 200 answering image bytes (and JSON when `json` is given)."""
    content: dict[str, Source] = dict.fromkeys(media_types, BINARY)
    if json is not None:
        content[JSON] = json
    return Answer(description, content, headers)


def _error_titles() -> dict[int, list[str]]:
    """Status -> the gateway error codes answered with it (from the GatewayError tree)."""
    found: dict[int, list[str]] = {}
    pending: list[type[GatewayError]] = [GatewayError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        code = getattr(cls, "code", None)
        if isinstance(code, str) and "code" in cls.__dict__:
            found.setdefault(int(cls.status), []).append(code)
    return found


class _Builder:
    """Turns declarations into document parts, collecting the Struct types they name."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.types: list[type] = []
        self.refs: list[tuple[type, Schema]] = []

    def schema(self, source: Source) -> Schema:
        if isinstance(source, type):
            if source not in self.types:
                self.types.append(source)
            ref: Schema = {}  # filled in by components(), which names every type
            self.refs.append((source, ref))
            return ref
        if callable(source):
            return self.schema(source(self.settings))
        return copy.deepcopy(source)

    def content(self, content: Mapping[str, Source],
                encoding: Mapping[str, Schema] | None = None) -> Schema:
        built: Schema = {}
        for media_type, source in content.items():
            built[media_type] = {"schema": self.schema(source)}
            if encoding and media_type == MULTIPART:
                built[media_type]["encoding"] = copy.deepcopy(dict(encoding))
        return built

    @staticmethod
    def headers(names: tuple[str, ...]) -> Schema:
        headers: Schema = {}
        for name in ("X-Request-Id", *names):
            description, required = HEADERS[name]
            headers[name] = {"description": description, "required": required,
                             "schema": {"type": "string"}}
        return headers

    def operation(self, doc: ApiDoc, operation: Schema, codes: dict[int, list[str]]) -> None:
        if doc.bodies:
            operation["requestBody"] = {"required": True,
                                        "content": self.content(doc.bodies, doc.encoding)}
        query = doc.query(self.settings) if callable(doc.query) else doc.query or {}
        parameters = operation.setdefault("parameters", [])
        known = {p["name"]: p for p in parameters if p.get("in") == "query"}
        for name, source in query.items():
            if name in known:  # Litestar's own parameter: a truer schema
                known[name]["schema"] = self.schema(source)
            else:
                parameters.append({"name": name, "in": "query", "required": False,
                                   "schema": self.schema(source)})
        if not operation["parameters"]:
            del operation["parameters"]
        responses = operation.setdefault("responses", {})
        if doc.answers:  # Litestar's guess at the success answer (`type: string`) goes
            for status in [s for s in responses if s.startswith("2")]:
                responses.pop(status)
        for status, answer in doc.answers.items():
            responses[str(status)] = {
                "description": answer.description, "headers": self.headers(answer.headers),
                **({"content": self.content(answer.content)} if answer.content else {}),
            }
        for status in doc.errors:
            names = ", ".join(f"`{c}`" for c in sorted(codes.get(status, [])))
            responses[str(status)] = {
                "description": f"Error ({names})" if names and doc.error_body is Problem
                else "Error",
                "headers": self.headers(_ERROR_HEADERS),
                "content": {doc.error_media_type: {"schema": self.schema(doc.error_body)}},
            }

    def components(self) -> Schema:
        refs, components = msgspec.json.schema_components(
            self.types, ref_template="#/components/schemas/{name}"
        )
        by_type = dict(zip(self.types, refs, strict=True))
        for source, ref in self.refs:
            ref.update(by_type[source])
        return components


def complete(app: Litestar, document: Schema, settings: Settings,
             table: Mapping[tuple[str, str], ApiDoc]) -> Schema:
    """`document` (Litestar's) with every route's `ApiDoc` merged in.

    A route's own `opt` declaration wins; else `table` ({(METHOD, path): ApiDoc}) is consulted.
    """
    document = copy.deepcopy(document)
    builder = _Builder(settings)
    codes = _error_titles()
    paths = document.setdefault("paths", {})
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path_item = paths.get(route.path_format)
        if path_item is None:
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                doc = handler.opt.get(OPENAPI_KEY) or table.get((method, route.path_format))
                operation = path_item.get(method.lower())
                if isinstance(doc, ApiDoc) and operation is not None:
                    builder.operation(doc, operation, codes)
    _problem_for_framework_errors(paths, builder)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(builder.components())
    return document


def _problem_for_framework_errors(paths: Schema, builder: _Builder) -> None:
    """Litestar documents its own 400 body; the gateway answers every error as problem+json."""
    for path_item in paths.values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            response = operation.get("responses", {}).get("400", {})
            schema = response.get("content", {}).get(JSON, {}).get("schema", {})
            if {"status_code", "detail"} <= set(schema.get("properties", {})):
                response["content"] = {PROBLEM_JSON: {"schema": builder.schema(Problem)}}
                response["description"] = "Error (`invalid_option`)"


def completed_document(request: Request, document: Schema,
                       extra: Mapping[tuple[str, str], ApiDoc]) -> Schema:
    """The app's completed document: the api package's declarations plus `extra`."""
    # The declarations import this module.
    from gateway.api.openapi_dropins import DROPIN_DOCS
    from gateway.api.openapi_routes import ROUTE_DOCS

    return complete(request.app, document, runtime_of(request).settings,
                    {**ROUTE_DOCS, **DROPIN_DOCS, **extra})


class _Completing:
    """Render plugins that render the completed document instead of Litestar's."""

    #: The completed document, shared by the plugins of one app (one OpenAPIConfig per app).
    cache: dict[str, Schema]
    #: Declarations from packages gateway.api does not import (the jobs API).
    extra: Mapping[tuple[str, str], ApiDoc]

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        """Render the completed document (built on first use)."""
        if "document" not in self.cache:
            self.cache["document"] = completed_document(request, openapi_schema, self.extra)
        return super().render(request, self.cache["document"])  # type: ignore[misc]


def _assets(router: Router, name: str, directory: object) -> None:
    router.register(create_static_files_router(
        path=f"/assets/{name}", directories=[directory],  # type: ignore[list-item]
        include_in_schema=False, send_as_attachment=False,
    ))


_FAVICON = f"<link rel='icon' type='image/png' href='{ASSETS}/swagger-ui/favicon-32x32.png'>"


class JsonDocument(_Completing, JsonRenderPlugin):
    """`/schema/openapi.json`."""


class YamlDocument(_Completing, YamlRenderPlugin):
    """`/schema/openapi.yaml`."""


class SwaggerUI(_Completing, SwaggerRenderPlugin):
    """Swagger UI with its assets served by the gateway."""

    def receive_router(self, router: Router) -> None:
        """Serve Swagger UI's files under `/schema/assets/swagger-ui/`."""
        super().receive_router(router)
        _assets(router, "swagger-ui", swagger_ui.static_path)


_REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _redoc_script() -> bytes:
    """ReDoc's bundle with its one remote URL (the footer logo) pointing at the bundled copy."""
    script = (redoc.static_path / "redoc.standalone.js").read_bytes()
    return script.replace(_REDOC_LOGO.encode(), f"{ASSETS}/redoc/logo-mini.svg".encode())


@get("/assets/redoc-offline.js", include_in_schema=False, sync_to_thread=False,
     media_type="text/javascript", cache_control=CacheControlHeader(max_age=86400))
def redoc_script() -> bytes:
    """ReDoc's script, loading nothing from elsewhere."""
    return _redoc_script()


class ReDoc(_Completing, RedocRenderPlugin):
    """ReDoc with its script served by the gateway (no web fonts, no remote logo)."""

    def receive_router(self, router: Router) -> None:
        """Serve ReDoc's files under `/schema/assets/`."""
        router.register(redoc_script)
        _assets(router, "redoc", redoc.static_path)


def openapi_config(title: str, version: str,
                   extra: Mapping[tuple[str, str], ApiDoc] | None = None) -> OpenAPIConfig:
    """The gateway's OpenAPI config: the completed document and locally served UIs.

    `extra`: {(METHOD, path): ApiDoc} of routes outside gateway.api (which cannot import them).
    """
    swagger = f"{ASSETS}/swagger-ui"
    plugins: list[_Completing] = [
        SwaggerUI(path=["/swagger", "/"], js_url=f"{swagger}/swagger-ui-bundle.js",
                  css_url=f"{swagger}/swagger-ui.css",
                  standalone_preset_js_url=f"{swagger}/swagger-ui-standalone-preset.js",
                  favicon=_FAVICON),
        ReDoc(path="/redoc", js_url=f"{ASSETS}/redoc-offline.js", google_fonts=False,
              favicon=_FAVICON),
        JsonDocument(path="/openapi.json"),
        YamlDocument(path=["/openapi.yaml", "/openapi.yml"]),
    ]
    cache: dict[str, Schema] = {}
    for plugin in plugins:
        plugin.cache, plugin.extra = cache, dict(extra or {})
    return OpenAPIConfig(
        title=title, version=version, path=SCHEMA_PATH,
        description="Background removal in front of several vendors and a local engine.",
        render_plugins=plugins,  # type: ignore[arg-type]
    )

