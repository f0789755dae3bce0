"""The ``inference_logs`` processor: one log record per LLM call, ready for Loki's OTLP intake.

For each real model call of `processors.genai.batch_view` (not agent aggregates, not the
duplicate parent of an SDK span) it derives a log record, event name ``gen_ai.inference``,
correlated to the span by trace and span id, and returns it in ``ctx.derived_logs``:

* resource: the span's resource attributes (``service.name`` ...) plus the configured
  low-cardinality call fields (provider, operation by default);
* attributes (structured metadata in Loki): models, token counts, cost amount / currency /
  status / reason / pricing ref, duration, time to first chunk, finish reasons, error type,
  prompt template and version, the redaction summary, and optional previews;
* body: a one-line, content-free summary; severity ERROR for failed calls, INFO otherwise.

Previews are cut from the span's content only when the redaction processor passed the span
(``redaction.pii.status`` clean or redacted), so they are already redacted; a span whose
redaction failed or that was not redacted gets none. The batch itself is not changed.
"""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from processors import genai
from processors.genai import routing
from processors.logs.config import LogsConfig, ResourceField
from sidecar import semconv as sc
from sidecar.component import BatchContext, Processor, Signal

SEVERITY_INFO = logs_pb2.SEVERITY_NUMBER_INFO
SEVERITY_ERROR = logs_pb2.SEVERITY_NUMBER_ERROR
_PREVIEWABLE = frozenset({"clean", "redacted"})
#: JSON keys of message structures that are never text worth previewing.
_NOT_TEXT = frozenset({"role", "type", "name", "id", "tool_call_id", "finish_reason",
                       "mime_type", "modality", "index"})
#: Span attributes copied to the record as they are (type kept).
_COPIED = (sc.COST_AMOUNT, sc.COST_CURRENCY, sc.COST_STATUS, sc.COST_REASON,
           sc.COST_PRICING_REF, sc.REDACTION_STATUS, sc.REDACTION_COUNT, sc.REDACTION_TYPES)


def _text_leaves(node: Any, out: list[str]) -> None:
    if isinstance(node, str):
        if node.strip():
            out.append(node.strip())
    elif isinstance(node, dict):
        for k, v in node.items():
            if k not in _NOT_TEXT:
                _text_leaves(v, out)
    elif isinstance(node, list):
        for v in node:
            _text_leaves(v, out)


def preview(value: common_pb2.AnyValue, length: int) -> str | None:
    """The text of a content value (JSON messages walked for their text), cut to ``length``."""
    kind = value.WhichOneof("value")
    if kind != "string_value":
        return None
    text = value.string_value.strip()
    if text[:1] in ("[", "{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if parsed is not None:
            leaves: list[str] = []
            _text_leaves(parsed, leaves)
            text = " ".join(leaves)
    text = " ".join(text.split())
    if not text:
        return None
    return text if len(text) <= length else text[: length - 1] + "…"


def _kv(key: str, **value: Any) -> common_pb2.KeyValue:
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(**value))


class InferenceLogsProcessor(Processor):
    """See the module docstring. Stateless; ``process`` runs on the event loop."""

    signals = frozenset({Signal.TRACES})
    #: LLM spans only.
    interest = routing.WIRE

    def __init__(self, config: LogsConfig) -> None:
        self.config = config
        self._lift = tuple(dict.fromkeys(config.resource_fields))
        self._span_keys = frozenset({
            *_COPIED, *sc.FINISH_REASONS_KEYS, *sc.PROMPT_TEMPLATE_KEYS,
            *sc.PROMPT_TEMPLATE_VERSION_KEYS,
            *((*sc.PREVIEW_PROMPT_KEYS, *sc.PREVIEW_RESPONSE_KEYS) if config.previews else ()),
        })
        self._scope = common_pb2.InstrumentationScope(name=sc.DERIVED_SCOPE)

    async def process(self, batch: Any, ctx: BatchContext) -> Any:
        groups: dict[tuple[int, tuple[str, ...]], logs_pb2.ResourceLogs] = {}
        keep: list[Any] = []  # the resources whose id() keys the groups stay alive meanwhile
        for entry in genai.counted(batch, ctx):
            call = entry.call
            lifted = self._lifted(call)
            key = (id(entry.resource), tuple(v for _, v in lifted))
            group = groups.get(key)
            if group is None:
                keep.append(entry.resource)
                group = logs_pb2.ResourceLogs(resource=self._resource(entry.resource, lifted))
                group.scope_logs.add().scope.CopyFrom(self._scope)
                groups[key] = group
            group.scope_logs[0].log_records.append(
                self._record(entry.span, call, genai.session_of(ctx, entry.span)))
        ctx.derived_logs.extend(groups.values())
        ctx.untouched()  # derives only
        return batch

    def _lifted(self, call: genai.LLMCall) -> list[tuple[str, str]]:
        values = {
            ResourceField.PROVIDER: (sc.GENAI_PROVIDER_NAME, call.provider),
            ResourceField.OPERATION: (sc.GENAI_OPERATION_NAME, str(call.operation)),
            ResourceField.REQUEST_MODEL: (sc.GENAI_REQUEST_MODEL, call.request_model),
            ResourceField.RESPONSE_MODEL: (sc.GENAI_RESPONSE_MODEL, call.response_model),
        }
        return [(k, v) for k, v in (values[f] for f in self._lift) if v]

    @staticmethod
    def _resource(resource: Any, lifted: list[tuple[str, str]]) -> resource_pb2.Resource:
        out = resource_pb2.Resource()
        out.CopyFrom(resource)
        present = {kv.key for kv in out.attributes}
        for k, v in lifted:
            if k not in present:
                out.attributes.append(_kv(k, string_value=v))
        return out

    def _record(self, span: Any, call: genai.LLMCall,
                session: genai.SessionTotal | None = None) -> logs_pb2.LogRecord:
        found: dict[str, common_pb2.AnyValue] = {}
        for kv in span.attributes:
            if kv.key in self._span_keys and kv.key not in found:
                found[kv.key] = kv.value
        lifted = set(self._lift)
        attrs: list[common_pb2.KeyValue] = []
        add = attrs.append
        if ResourceField.PROVIDER not in lifted and call.provider:
            add(_kv(sc.GENAI_PROVIDER_NAME, string_value=call.provider))
        if ResourceField.OPERATION not in lifted:
            add(_kv(sc.GENAI_OPERATION_NAME, string_value=str(call.operation)))
        if ResourceField.REQUEST_MODEL not in lifted and call.request_model:
            add(_kv(sc.GENAI_REQUEST_MODEL, string_value=call.request_model))
        if ResourceField.RESPONSE_MODEL not in lifted and call.response_model:
            add(_kv(sc.GENAI_RESPONSE_MODEL, string_value=call.response_model))
        for key, count in ((sc.LOG_INPUT_TOKENS, call.input_tokens),
                           (sc.LOG_OUTPUT_TOKENS, call.output_tokens),
                           (sc.LOG_CACHE_READ_TOKENS, call.cache_read_tokens),
                           (sc.LOG_CACHE_WRITE_TOKENS, call.cache_write_tokens),
                           (sc.LOG_REASONING_TOKENS, call.reasoning_tokens)):
            if count is not None:
                add(_kv(key, int_value=count))
        for key in _COPIED:
            value = found.get(key)
            if value is not None:
                if value.WhichOneof("value") == "string_value":
                    text = value.string_value
                    if len(text) > genai.MAX_DERIVED_CHARS or not text.isprintable():
                        value = common_pb2.AnyValue(string_value=genai.bounded(text))
                attrs.append(common_pb2.KeyValue(key=key, value=value))
        duration = None
        if span.end_time_unix_nano >= span.start_time_unix_nano > 0:
            duration = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9
            add(_kv(sc.LOG_DURATION, double_value=duration))
        if call.time_to_first_chunk is not None:
            add(_kv(sc.LOG_TIME_TO_FIRST_CHUNK, double_value=call.time_to_first_chunk))
        reasons = self._finish_reasons(found)
        if reasons:
            add(common_pb2.KeyValue(key=sc.LOG_FINISH_REASONS, value=common_pb2.AnyValue(
                array_value=common_pb2.ArrayValue(
                    values=[common_pb2.AnyValue(string_value=r) for r in reasons]))))
        if call.error_type:
            add(_kv(sc.ERROR_TYPE, string_value=call.error_type))
        if session is not None:  # genai_calls: the session's totals so far
            add(_kv(sc.GENAI_CONVERSATION_ID, string_value=session.session_id))
            add(_kv(sc.LOG_SESSION_COST, double_value=session.cost))
            add(_kv(sc.LOG_SESSION_CALLS, int_value=session.calls))
        for out_key, keys in ((sc.LOG_PROMPT_TEMPLATE, sc.PROMPT_TEMPLATE_KEYS),
                              (sc.LOG_PROMPT_TEMPLATE_VERSION, sc.PROMPT_TEMPLATE_VERSION_KEYS)):
            value = next((found[k] for k in keys if k in found), None)
            if value is not None and value.WhichOneof("value") in (
                    "string_value", "int_value"):
                add(_kv(out_key, string_value=genai.bounded(
                    str(getattr(value, value.WhichOneof("value"))))))
        if self.config.previews:
            status = found.get(sc.REDACTION_STATUS)
            if status is not None and status.string_value in _PREVIEWABLE:
                for out_key, keys in ((sc.LOG_PROMPT_PREVIEW, sc.PREVIEW_PROMPT_KEYS),
                                      (sc.LOG_RESPONSE_PREVIEW, sc.PREVIEW_RESPONSE_KEYS)):
                    value = next((found[k] for k in keys if k in found), None)
                    text = preview(value, self.config.preview_length) if value else None
                    if text:
                        add(_kv(out_key, string_value=text))

        when = span.end_time_unix_nano or span.start_time_unix_nano
        error = bool(call.error_type)
        return logs_pb2.LogRecord(
            time_unix_nano=when, observed_time_unix_nano=when,
            severity_number=SEVERITY_ERROR if error else SEVERITY_INFO,
            severity_text="ERROR" if error else "INFO",
            body=common_pb2.AnyValue(string_value=self._summary(call, found, duration)),
            attributes=attrs, trace_id=span.trace_id, span_id=span.span_id,
            flags=span.flags & 0xFF, event_name=sc.EVENT_INFERENCE,
        )

    @staticmethod
    def _finish_reasons(found: dict[str, common_pb2.AnyValue]) -> list[str]:
        for key in sc.FINISH_REASONS_KEYS:
            value = found.get(key)
            if value is None:
                continue
            return genai.string_list(value)
        return []

    @staticmethod
    def _summary(call: genai.LLMCall, found: dict[str, common_pb2.AnyValue],
                 duration: float | None) -> str:
        parts = [str(call.operation), call.model or "unknown-model"]
        if call.provider:
            parts.append(f"({call.provider})")
        parts.append(f"error={call.error_type}" if call.error_type else "ok")
        if call.input_tokens is not None or call.output_tokens is not None:
            parts.append(f"tokens={call.input_tokens or 0}/{call.output_tokens or 0}")
        amount = found.get(sc.COST_AMOUNT)
        status = found.get(sc.COST_STATUS)
        if amount is not None and amount.WhichOneof("value") == "double_value":
            parts.append(f"cost={amount.double_value:.6f} USD")
        elif status is not None:
            parts.append(f"cost={status.string_value}")
        if duration is not None:
            parts.append(f"{duration:.3f}s")
        return " ".join(parts)
