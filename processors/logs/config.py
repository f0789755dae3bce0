"""Settings of the ``inference_logs`` processor (``processors.inference_logs`` in the config)."""

from __future__ import annotations

import enum

from pydantic import Field

from sidecar.config import StrictModel


class ResourceField(enum.StrEnum):
    """Low-cardinality call fields lifted to the log record's resource (Loki: index labels
    when its OTLP config promotes them, structured metadata otherwise)."""

    PROVIDER = "provider"
    OPERATION = "operation"
    REQUEST_MODEL = "request_model"
    RESPONSE_MODEL = "response_model"


class LogsConfig(StrictModel):
    """Emit one log record (event ``gen_ai.inference``) per LLM call."""

    #: Call fields set on the record's resource besides the span's own resource attributes;
    #: the other fields are log attributes (structured metadata in Loki).
    resource_fields: list[ResourceField] = Field(
        default_factory=lambda: [ResourceField.PROVIDER, ResourceField.OPERATION])
    #: Add prompt and response previews (truncated). Taken only from spans the redaction
    #: processor passed (status clean or redacted), so a preview is never raw content.
    previews: bool = False
    #: Characters kept in a preview (an ellipsis marks a cut).
    preview_length: int = Field(160, ge=16, le=4096)
