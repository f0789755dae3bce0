"""Builders of OTLP traces requests holding LLM spans, for the metrics and logs tests."""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from sidecar import otlpjson
from sidecar.component import Signal

_ids = itertools.count(1)
T0 = 1_763_800_000_000_000_000  # a fixed start time (ns): golden files stay stable


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list | tuple):
        return {"arrayValue": {"values": [_value(x) for x in v]}}
    return {"stringValue": str(v)}


def attrs(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    """OTLP/JSON attributes from a plain mapping."""
    return [{"key": k, "value": _value(v)} for k, v in mapping.items()]


def llm_span(model: str = "gpt-4o", provider: str = "openai", input_tokens: int | None = 100,
             output_tokens: int | None = 20, duration_s: float = 1.5, error: str | None = None,
             extra: dict[str, Any] | None = None, name: str | None = None,
             span_id: int | None = None, trace_id: int = 1) -> dict[str, Any]:
    """An OTel GenAI (v1.37+) chat span as OTLP/JSON."""
    a: dict[str, Any] = {"gen_ai.provider.name": provider, "gen_ai.operation.name": "chat",
                         "gen_ai.request.model": model, "gen_ai.response.model": model}
    if input_tokens is not None:
        a["gen_ai.usage.input_tokens"] = input_tokens
    if output_tokens is not None:
        a["gen_ai.usage.output_tokens"] = output_tokens
    if error:
        a["error.type"] = error
    a.update(extra or {})
    sid = span_id if span_id is not None else next(_ids)
    span = {
        "traceId": f"{trace_id:032x}", "spanId": f"{sid:016x}", "name": name or f"chat {model}",
        "kind": 3, "startTimeUnixNano": str(T0),
        "endTimeUnixNano": str(T0 + int(duration_s * 1e9)), "attributes": attrs(a),
    }
    if error:
        span["status"] = {"code": 2}
    return span


def request(spans: list[dict[str, Any]], service: str = "chat-app",
            resource: dict[str, Any] | None = None,
            scope: str = "opentelemetry.instrumentation.openai_v2"
            ) -> trace_service_pb2.ExportTraceServiceRequest:
    """One resource, one scope, these spans."""
    res = {"service.name": service, **(resource or {})}
    return otlpjson.from_dict(Signal.TRACES, {"resourceSpans": [{
        "resource": {"attributes": attrs(res)},
        "scopeSpans": [{"scope": {"name": scope}, "spans": spans}],
    }]})


def merge(*requests: trace_service_pb2.ExportTraceServiceRequest
          ) -> trace_service_pb2.ExportTraceServiceRequest:
    """Several requests' resource spans in one request."""
    out = trace_service_pb2.ExportTraceServiceRequest()
    for r in requests:
        out.resource_spans.extend(r.resource_spans)
    return out


class FakeHost:
    """A `Host` that records derived exports; ``fail`` makes the next exports raise."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.exports: list[tuple[Signal, Any]] = []
        self.fail = 0

    async def export_derived(self, signal: Signal, request: Any) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("downstream refused")
        self.exports.append((signal, request))


def split_by_scope(doc: dict[str, Any], scope: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An OTLP/JSON traces request as two: the spans of every other scope, those of ``scope``
    (e.g. one call's instrumentation span and the Anthropic SDK's own span, sent apart)."""
    rest, only = copy.deepcopy(doc), copy.deepcopy(doc)
    for rs in rest["resourceSpans"]:
        rs["scopeSpans"] = [ss for ss in rs["scopeSpans"] if ss["scope"]["name"] != scope]
    for rs in only["resourceSpans"]:
        rs["scopeSpans"] = [ss for ss in rs["scopeSpans"] if ss["scope"]["name"] == scope]
    return rest, only
