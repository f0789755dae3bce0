"""The normalized view of LLM spans: recognition, token rules, duplicates, memoization."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from processors import genai
from processors.genai import Operation, TokenFlag
from tests.harness import kv

F = TokenFlag


def make_span(attrs: dict[str, Any], **fields: Any) -> trace_pb2.Span:
    span = trace_pb2.Span(name=fields.pop("name", "span"), **fields)
    span.attributes.extend(kv(k, v) for k, v in attrs.items())
    return span


@pytest.mark.parametrize(
    "attrs",
    [
        pytest.param({}, id="no-attributes"),
        pytest.param({"http.request.method": "POST", "url.full": "https://x"}, id="http"),
        pytest.param({"db.system": "postgresql", "db.query.text": "select 1"}, id="db"),
        pytest.param({"gen_ai.prompt.0.content": "hi"}, id="content-only"),
    ],
)
def test_non_llm_spans_are_rejected(attrs: dict[str, Any]) -> None:
    """Spans without a provider, model, usage or operation marker are not GenAI spans."""
    span = make_span(attrs)
    before = span.SerializeToString()
    assert genai.view(span) is None
    assert span.SerializeToString() == before


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        pytest.param({"gen_ai.usage.input_tokens": "120", "gen_ai.usage.output_tokens": 30.0},
                     (120, 30, F.CACHE_DETAIL_UNKNOWN), id="string-and-double"),
        pytest.param({"gen_ai.usage.input_tokens": -5, "gen_ai.usage.prompt_tokens": 40,
                      "gen_ai.usage.output_tokens": 1e12},
                     (40, None, F.INVALID_IGNORED | F.CACHE_DETAIL_UNKNOWN),
                     id="negative-and-absurd-ignored"),
        pytest.param({"gen_ai.usage.input_tokens": 12.5, "gen_ai.usage.output_tokens": "abc"},
                     (None, None, F.INVALID_IGNORED), id="fraction-and-text-ignored"),
        pytest.param({"ai.usage.inputTokens": 700, "gen_ai.usage.input_tokens": 700,
                      "ai.usage.outputTokens": 90, "gen_ai.usage.output_tokens": 90},
                     (700, 90, F.CACHE_DETAIL_UNKNOWN), id="same-number-two-keys-once"),
        pytest.param({"gen_ai.usage.input_tokens": 700, "llm.usage.prompt_tokens": 650,
                      "gen_ai.usage.output_tokens": 9},
                     (700, 9, F.CONFLICTING_KEYS | F.CACHE_DETAIL_UNKNOWN),
                     id="conflicting-keys-first-wins"),
        pytest.param({"gen_ai.usage.image.input_tokens": 100, "gen_ai.usage.text.input_tokens": 20,
                      "gen_ai.usage.output_tokens": 5},
                     (120, 5, F.INPUT_FROM_MODALITIES | F.CACHE_DETAIL_UNKNOWN),
                     id="modalities-summed"),
    ],
)
def test_token_values(attrs: dict[str, Any], expected: tuple) -> None:
    """Counts sent as strings or doubles are read; bad ones are ignored and flagged."""
    call = genai.view(make_span({"gen_ai.request.model": "m", **attrs}))
    assert (call.input_tokens, call.output_tokens, call.flags) == expected


def test_anthropic_input_excluding_cache_is_made_inclusive() -> None:
    call = genai.view(make_span({
        "gen_ai.system": "anthropic", "gen_ai.request.model": "claude-x",
        "gen_ai.usage.input_tokens": 50, "gen_ai.usage.cache_read_input_tokens": 1000,
        "gen_ai.usage.cache_creation_input_tokens": 200, "gen_ai.usage.output_tokens": 10}))
    assert (call.input_tokens, call.cache_read_tokens, call.cache_write_tokens) == (1250, 1000, 200)
    assert call.flags == F.INPUT_EXCLUDED_CACHE


def test_inclusive_input_is_kept() -> None:
    call = genai.view(make_span({
        "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-x",
        "gen_ai.usage.input_tokens": 1250, "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.cache_write.input_tokens": 200, "gen_ai.usage.output_tokens": 10}))
    assert call.input_tokens == 1250 and call.flags == F.NONE


def test_openlit_anthropic_input_excludes_cache_even_when_smaller() -> None:
    """OpenLIT reports Anthropic input without cache even when input > cache."""
    span = make_span({
        "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-x",
        "gen_ai.usage.input_tokens": 5000, "gen_ai.usage.cache_read_input_tokens": 100,
        "gen_ai.usage.output_tokens": 10})
    call = genai.view(span, "openlit.otel.tracing")
    assert call.input_tokens == 5100
    assert call.flags == F.INPUT_EXCLUDED_CACHE | F.MAY_BE_ESTIMATED


def test_reasoning_larger_than_output_is_added() -> None:
    call = genai.view(make_span({
        "gen_ai.request.model": "o3", "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 100, "gen_ai.usage.reasoning.output_tokens": 400}))
    assert call.output_tokens == 500 and call.flags & F.OUTPUT_EXCLUDED_REASONING


@pytest.mark.parametrize(
    ("attrs", "operation"),
    [
        pytest.param({"gen_ai.operation.name": "chat"}, Operation.CHAT, id="otel-chat"),
        pytest.param({"gen_ai.operation.name": "embeddings"}, Operation.EMBEDDINGS, id="otel-emb"),
        pytest.param({"gen_ai.operation.name": "invoke_agent"}, Operation.INVOKE_AGENT, id="agent"),
        pytest.param({"llm.request.type": "completion"}, Operation.TEXT_COMPLETION,
                     id="openllmetry-completion"),
        pytest.param({"openinference.span.kind": "EMBEDDING"}, Operation.EMBEDDINGS, id="oi-emb"),
        pytest.param({"openinference.span.kind": "CHAIN"}, Operation.AGGREGATE, id="oi-chain"),
        pytest.param({"ai.operationId": "ai.streamText"}, Operation.AGGREGATE, id="vercel-top"),
        pytest.param({"ai.operationId": "ai.streamText.doStream"}, Operation.CHAT,
                     id="vercel-call"),
        pytest.param({"ai.operationId": "ai.embedMany.doEmbed"}, Operation.EMBEDDINGS,
                     id="vercel-embed"),
        pytest.param({"agent_name": "a", "gen_ai.usage.input_tokens": 3}, Operation.INVOKE_AGENT,
                     id="pydantic-agent-run"),
    ],
)
def test_operations(attrs: dict[str, Any], operation: Operation) -> None:
    call = genai.view(make_span({"gen_ai.request.model": "m", **attrs}))
    assert call.operation is operation
    assert call.is_model_call is (operation in genai.MODEL_CALL_OPERATIONS)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        pytest.param("Anthropic", "anthropic", id="capitalised"),
        pytest.param("AWS", "aws.bedrock", id="aws"),
        pytest.param("Azure", "azure.ai.openai", id="azure"),
        pytest.param("az.ai.openai", "azure.ai.openai", id="az-old"),
        pytest.param("vertex_ai", "gcp.vertex_ai", id="vertex-old"),
        pytest.param("gemini", "gcp.gemini", id="gemini-old"),
        pytest.param("xai", "x_ai", id="xai"),
        pytest.param("openai.chat", "openai", id="vercel-provider"),
        pytest.param("amazon-bedrock", "aws.bedrock", id="vercel-bedrock"),
        pytest.param("SomethingNew", "somethingnew", id="unknown-lowercased"),
    ],
)
def test_provider_normalization(raw: str, normalized: str) -> None:
    assert genai.normalize_provider(raw) == normalized


def test_models_error_type_content_and_streaming() -> None:
    span = make_span(
        {"llm.provider": "openai", "openinference.span.kind": "LLM",
         "llm.invocation_parameters": '{"model": "gpt-4.1", "temperature": 0}',
         "error.type": "<class 'openai.BadRequestError'>", "input.value": "{}",
         "llm.input_messages.0.message.content": "hi", "ai.response.msToFirstChunk": 250.0,
         "gen_ai.request.stream": True},
        events=[trace_pb2.Span.Event(name="gen_ai.user.message"),
                trace_pb2.Span.Event(name="exception")])
    call = genai.view(span)
    assert call.request_model == "gpt-4.1" and call.model == "gpt-4.1"
    assert call.error_type == "openai.BadRequestError"
    assert call.content_keys == ("input.value", "llm.input_messages.0.message.content")
    assert call.content_events == (0,)
    assert (call.streaming, call.time_to_first_chunk) == (True, 0.25)
    assert not call.has_usage


def test_error_status_without_type() -> None:
    span = make_span({"gen_ai.request.model": "m"},
                     status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR))
    assert genai.view(span).error_type == "_OTHER"


def _request(*scoped: tuple[str, list[trace_pb2.Span]]) -> Any:
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for scope, spans in scoped:
        ss = rs.scope_spans.add()
        ss.scope.name = scope
        ss.spans.extend(spans)
    return req


USAGE = {"gen_ai.request.model": "claude-x", "gen_ai.usage.input_tokens": 10,
         "gen_ai.usage.output_tokens": 2}


def test_anthropic_sdk_child_makes_parent_duplicate() -> None:
    """One call, two spans: the SDK span is counted, its instrumentation parent is not."""
    t = b"\x01" * 16
    parent = make_span(USAGE, trace_id=t, span_id=b"\x0a" * 8)
    child = make_span(USAGE, trace_id=t, span_id=b"\x0b" * 8, parent_span_id=b"\x0a" * 8)
    other = make_span(USAGE, trace_id=t, span_id=b"\x0c" * 8)
    req = _request(("opentelemetry.instrumentation.anthropic", [parent, other]),
                   ("com.anthropic.sdk.python", [child]))
    entries = genai.batch_view(req)
    flags = {e.span.span_id: (e.call.duplicate, e.call.is_model_call) for e in entries}
    assert flags == {b"\x0a" * 8: (True, False), b"\x0b" * 8: (False, True),
                     b"\x0c" * 8: (False, True)}


def test_sdk_span_with_non_llm_parent_is_counted() -> None:
    t = b"\x01" * 16
    app = make_span({"http.route": "/chat"}, trace_id=t, span_id=b"\x0a" * 8)
    child = make_span(USAGE, trace_id=t, span_id=b"\x0b" * 8, parent_span_id=b"\x0a" * 8)
    entries = genai.batch_view(_request(("app", [app]), ("com.anthropic.sdk.python", [child])))
    assert [(e.call.convention, e.call.is_model_call) for e in entries] == [
        (genai.Convention.ANTHROPIC_SDK, True)]


def test_batch_view_is_memoized_per_request() -> None:
    scratch: dict = {}
    req = _request(("x", [make_span(USAGE)]))
    first = genai.batch_view(req, scratch)
    assert genai.batch_view(req, scratch) is first
    other = _request(("x", [make_span(USAGE)]))
    assert genai.batch_view(other, scratch) is not first
    genai.invalidate(scratch)
    assert genai.batch_view(other, scratch) is not first
