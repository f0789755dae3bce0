"""GenAI span recognition: one normalized, read-only view of an LLM span for every convention.

A library package used by the cost, metrics, logs and redaction processors (it is not a
pipeline processor and has no config). The API:

* ``view(span, scope_name="") -> LLMCall | None`` — one span; None for non-GenAI spans (one
  cheap pass over the attribute keys; the span is never modified).
* ``batch_view(request, ctx.scratch) -> list[Entry]`` — every GenAI span of an OTLP traces
  request as ``Entry(resource, scope, span, call)``, computed once per request and shared by
  the processors of a chain through ``BatchContext.scratch``; also marks the duplicate span of
  a call reported twice (``LLMCall.duplicate``).
* ``invalidate(ctx.scratch)`` — call after removing or replacing spans of the request.
* ``counted(request, ctx) -> list[Entry]`` — the model calls a deriving stage counts now:
  what the ``genai_calls`` processor settled (``publish_counted``), else the request's
  model calls.
* ``runs(ctx) -> (list[RunTotal], list[Runaway])`` — the runs (traces) ``genai_calls`` rolled up
  and the runaways it found in this run of the chain (``publish_runs``).
* ``LLMCall`` fields: provider (normalized), operation (`Operation`), request_model,
  response_model, ``model`` (response else request), input / output / cache_read /
  cache_write / reasoning tokens (None when absent; input includes cache, output includes
  reasoning), flags (`TokenFlag`), service_tier, error_type, duplicate, existing_cost_key,
  foreign_cost, streaming, time_to_first_chunk, content_keys, content_events;
  ``is_model_call`` (one call, not a duplicate: count / price it) and ``has_usage``.
* ``normalize_provider(str) -> str`` — provider spellings to OTel ``gen_ai.provider.name``.
* ``string_list(AnyValue) -> list[str]`` — a string or array of strings (JSON arrays too).
* ``bounded(str) -> str`` — a string as derived data may carry it (capped, control characters
  escaped); the view's identifiers already are.
"""

from processors.genai.view import (
    MAX_DERIVED_CHARS,
    MAX_TOKENS,
    MODEL_CALL_OPERATIONS,
    TRUNCATED_MARK,
    Convention,
    Entry,
    LLMCall,
    Operation,
    Runaway,
    RunTotal,
    SessionTotal,
    TokenFlag,
    batch_view,
    bounded,
    counted,
    invalidate,
    normalize_provider,
    publish_counted,
    publish_runs,
    publish_sessions,
    runs,
    session_of,
    string_list,
    view,
)

__all__ = [
    "MAX_DERIVED_CHARS",
    "MAX_TOKENS",
    "MODEL_CALL_OPERATIONS",
    "TRUNCATED_MARK",
    "Convention",
    "Entry",
    "LLMCall",
    "Operation",
    "RunTotal",
    "Runaway",
    "SessionTotal",
    "TokenFlag",
    "batch_view",
    "bounded",
    "counted",
    "invalidate",
    "normalize_provider",
    "publish_counted",
    "publish_runs",
    "publish_sessions",
    "runs",
    "session_of",
    "string_list",
    "view",
]
