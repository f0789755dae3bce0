"""Identifiers copied from spans into derived data are bounded (issue 21, section 2)."""

from __future__ import annotations

from processors import genai
from processors.genai.view import view
from sidecar import otlpjson
from sidecar.component import Signal


def test_bounded_caps_and_escapes() -> None:
    assert genai.bounded("gpt-4o") == "gpt-4o"
    long = genai.bounded("m" * 1_000_000)
    assert len(long) == genai.MAX_DERIVED_CHARS + len(genai.TRUNCATED_MARK)
    assert long.endswith(genai.TRUNCATED_MARK)
    assert genai.bounded("a\nb\x00c\x7f") == "a\\x0ab\\x00c\\x7f"


def test_view_identifiers_are_bounded() -> None:
    huge = "x" * 1_000_000
    request = otlpjson.from_dict(Signal.TRACES, {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7",
        "name": "chat", "attributes": [
            {"key": "gen_ai.system", "value": {"stringValue": "acme\n" + huge}},
            {"key": "gen_ai.request.model", "value": {"stringValue": huge}},
            {"key": "gen_ai.response.model", "value": {"stringValue": "m\r\n" + huge}},
            {"key": "error.type", "value": {"stringValue": huge}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "3"}}]}]}]}]})
    span = request.resource_spans[0].scope_spans[0].spans[0]
    call = view(span)
    for value in (call.provider, call.request_model, call.response_model, call.error_type):
        assert len(value) <= genai.MAX_DERIVED_CHARS + len(genai.TRUNCATED_MARK), value[:40]
        assert value.isprintable()
