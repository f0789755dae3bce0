"""Property: personal data planted anywhere the redaction processor promises to look, in any
GenAI shape, plainly or disguised, never survives (patterns mode: e-mail addresses and card
numbers, which the pattern engine finds for sure, so a survivor is a place or a disguise the
walker or the normalization missed, not a detector's miss).

Places: every content key of every instrumentation we list (sidecar/semconv.py), indexed
keys, JSON message arrays (in a text part, as a JSON key, inside a tool call's JSON string
arguments), GenAI span events, the ``exception`` event and the status message of a content
span, UTF-8 bytes values, and GenAI log records (event name, body, attributes). Disguises:
zero-width characters and soft hyphens inside the value, a fullwidth at sign, HTML entities,
percent-encoding, base64 of a sentence holding it.
"""

from __future__ import annotations

import base64
import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from sidecar import semconv
from sidecar.component import Signal
from tests.unit.redaction.conftest import make, run

_EMAILS = st.builds(lambda u, d: f"{u}@{d}.example.org",
                    st.from_regex(r"[a-z]{3,8}\.[a-z]{3,8}", fullmatch=True),
                    st.from_regex(r"[a-z]{4,9}", fullmatch=True))
_CARDS = st.sampled_from(["4111 1111 1111 1111", "5555555555554444", "4012-8888-8888-1881"])


def _disguise(kind: str, value: str) -> str:
    if kind == "zero_width":
        mid = len(value) // 2
        return value[:mid] + "\u200b" + value[mid:]
    if kind == "soft_hyphen":
        return value.replace(".", "\u00ad.", 1)
    if kind == "fullwidth_at":
        return value.replace("@", "\uff20")
    if kind == "html_entity":
        return value.replace("@", "&#64;")
    if kind == "percent":
        return value.replace("@", "%40")
    return value


_PLACES = ["content_key", "indexed_key", "json_text", "json_key", "tool_args", "genai_event",
           "exception_event", "status_message", "bytes_value", "log_body", "log_attribute"]
_CONTENT_KEYS = sorted(semconv.GENAI_CONTENT_KEYS)


def _kv(key: str, text: str) -> common_pb2.KeyValue:
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=text))


def _span_request(place: str, key: str, text: str) -> trace_service_pb2.ExportTraceServiceRequest:
    req = trace_service_pb2.ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add(name="chat")
    span.attributes.append(_kv("gen_ai.operation.name", "chat"))
    plain = _kv("gen_ai.prompt", "What is the weather?")
    if place == "content_key":
        span.attributes.append(_kv(key, text))
    elif place == "indexed_key":
        span.attributes.append(_kv("llm.input_messages.3.message.content", text))
    elif place == "json_text":
        span.attributes.append(_kv("gen_ai.input.messages", json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": text}]}])))
    elif place == "json_key":
        span.attributes.append(_kv("gen_ai.tool.call.result", json.dumps({text: 120.5})))
    elif place == "tool_args":
        span.attributes.append(_kv("gen_ai.output.messages", json.dumps([{
            "role": "assistant", "parts": [{"type": "tool_call", "name": "lookup",
                                            "arguments": json.dumps({"q": text})}]}])))
    elif place == "genai_event":
        event = span.events.add(name="gen_ai.user.message")
        event.attributes.append(_kv("content", text))
    elif place == "exception_event":
        span.attributes.append(plain)
        event = span.events.add(name="exception")
        event.attributes.append(_kv("exception.message", f"ValueError: bad input {text}"))
    elif place == "status_message":
        span.attributes.append(plain)
        span.status.message = f"request failed for {text}"
    elif place == "bytes_value":
        span.attributes.append(common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(
            bytes_value=text.encode("utf-8"))))
    return req


def _log_request(place: str, text: str) -> logs_service_pb2.ExportLogsServiceRequest:
    req = logs_service_pb2.ExportLogsServiceRequest()
    lr = req.resource_logs.add().scope_logs.add().log_records.add(event_name="gen_ai.user.message")
    if place == "log_body":
        lr.body.string_value = text
    else:
        lr.attributes.append(_kv("content", text))
    return req


def _strings(message) -> list[str]:
    """Every string and UTF-8 bytes value of a protobuf message, recursively."""
    out: list[str] = []
    for _field, value in message.ListFields():
        values = value if isinstance(value, list) or (
            hasattr(value, "__len__") and not isinstance(value, str | bytes)
            and not hasattr(value, "ListFields")) else [value]
        for v in values:
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, bytes):
                out.append(v.decode("utf-8", "replace"))
            elif hasattr(v, "ListFields"):
                out.extend(_strings(v))
    return out


def _decoded(strings: list[str]) -> str:
    """The output as a reader would see it: JSON decoded, base64 runs decoded."""
    text = "\n".join(strings)
    for s in strings:
        with contextlib.suppress(ValueError):
            text += "\n" + json.dumps(json.loads(s), ensure_ascii=False)
    for word in text.split():
        if len(word) >= 16:
            with contextlib.suppress(ValueError):
                text += "\n" + base64.b64decode(word + "=" * (-len(word) % 4)).decode("utf-8")
    return text


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(_PLACES), key=st.sampled_from(_CONTENT_KEYS),
       value=st.one_of(_EMAILS, _CARDS),
       disguise=st.sampled_from(["none", "zero_width", "soft_hyphen", "fullwidth_at",
                                 "html_entity", "percent", "base64"]),
       prefix=st.sampled_from(["", "Hi, ", "Contact: ", "{}"]))
def test_planted_personal_data_never_survives(patterns_analyzer, place, key, value, disguise,
                                              prefix):
    shown = _disguise(disguise, value)
    text = f"{prefix}{shown} please"
    if disguise == "base64":
        text = "attachment " + base64.b64encode(f"Please write to {value} today".encode()).decode()
    processor = make(patterns_analyzer)
    if place.startswith("log_"):
        out = run(processor, Signal.LOGS, _log_request(place, text))
    else:
        out = run(processor, Signal.TRACES, _span_request(place, key, text))
    seen = _decoded(_strings(out))
    core = value.replace(" ", "").replace("-", "")
    flat = seen.replace("\u200b", "").replace("\u00ad", "").replace("\uff20", "@").replace(
        "&#64;", "@").replace("%40", "@")
    assert value not in flat and core not in flat.replace(" ", "").replace("-", ""), (
        place, key, disguise, seen)
    assert semconv.REDACTION_STATUS in flat or "redacted" in flat
