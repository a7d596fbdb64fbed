"""The jobs API in the OpenAPI document (see gateway.api.openapi): its bodies and answers.

Here rather than in gateway.api, which must not import the jobs package (it imports api);
`gateway.app` hands `JOB_DOCS` to `openapi_config`.
"""

from __future__ import annotations

from gateway.api.inputs import IMAGE_FIELDS
from gateway.api.openapi import BINARY, JSON, MULTIPART, Answer, ApiDoc, Schema, image_answer
from gateway.api.openapi_routes import (
    B64,
    OUTPUTS,
    PROBLEMS,
    URL,
    file_parts,
    json_answer,
    object_schema,
    option_schemas,
)
from gateway.api.responses import RemovalJSON
from gateway.jobs.model import JobCreated, JobView
from gateway.settings import Settings


def job_json(settings: Settings) -> Schema:
    """`POST /v1/jobs` as JSON: items (base64 or URL each), unified options, a webhook."""
    item = {"anyOf": [{"type": "object", "properties": {name: schema},
                       "required": [name], "additionalProperties": False}
                      for name, schema in (("image_base64", B64), ("image_url", URL))]}
    return {"type": "object", "required": ["items"], "additionalProperties": False,
            "properties": {
                "items": {"type": "array", "items": item, "minItems": 1},
                "options": {"type": "object", "additionalProperties": False,
                            "properties": option_schemas(settings, form=False)},
                "webhook_url": {**URL, "description": "POSTed the job's status when it ends"},
            }}


def job_multipart(settings: Settings) -> Schema:
    """`POST /v1/jobs` as multipart: repeated `image_file` parts, options, a webhook."""
    return object_schema({
        IMAGE_FIELDS[0]: {"type": "array", "items": BINARY, "description": "one part per image"},
        "image_url": {"type": "array", "items": URL},
        "webhook_url": URL, **option_schemas(settings, form=True),
    })


_JOB_READS = (401, 404, 429, 503)


JOB_DOCS: dict[tuple[str, str], ApiDoc] = {
    ("POST", "/v1/jobs"): ApiDoc(
        bodies={JSON: job_json, MULTIPART: job_multipart},
        encoding=file_parts(IMAGE_FIELDS[0]),
        answers={202: Answer("Queued", {JSON: JobCreated}, ("Location",))},
        errors=(400, 401, 413, 415, 429, 503)),
    ("GET", "/v1/jobs/{job_id}"): ApiDoc(answers=json_answer("The job", JobView),
                                         errors=_JOB_READS),
    ("DELETE", "/v1/jobs/{job_id}"): ApiDoc(
        answers=json_answer("The job, its waiting items cancelled", JobView), errors=_JOB_READS),
    ("GET", "/v1/jobs/{job_id}/items/{index}"): ApiDoc(
        answers={200: image_answer("The item's result, as the unified API answers it",
                                   OUTPUTS, json=RemovalJSON)},
        errors=tuple(sorted({*PROBLEMS, 404}))),
    ("GET", "/v1/jobs/{job_id}/archive"): ApiDoc(
        answers={200: Answer("A ZIP of the results so far", {"application/zip": BINARY})},
        errors=_JOB_READS),
}
