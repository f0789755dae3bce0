"""The inference_logs processor: golden OTLP/JSON of the derived log records per case, and the
record's contract (one per model call, correlation, resource vs attributes, previews)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

import processors.logs as logs
from processors.logs.config import LogsConfig, ResourceField
from processors.logs.processor import preview
from sidecar import otlpjson
from sidecar import semconv as sc
from sidecar.component import BatchContext, Signal
from tests import golden
from tests.llm_spans import llm_span, request

TESTDATA = Path(logs.__file__).parent / "testdata"


def _derive(processor, req):
    ctx = BatchContext(Signal.TRACES)
    before = req.SerializeToString()
    out = asyncio.run(processor.process(req, ctx))
    assert out.SerializeToString() == before, "the batch must not change"
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=ctx.derived_logs)


def _check(processor, input_path: Path, expected_path: Path, update: bool) -> None:
    derived = _derive(processor, otlpjson.loads(Signal.TRACES, input_path.read_text("utf-8")))
    actual = otlpjson.dumps(derived)
    if update:
        expected_path.write_text(actual, "utf-8")
        pytest.fail(f"golden file {expected_path.name} rewritten; rerun without --update-golden")
    assert expected_path.exists(), f"missing {expected_path}; run with --update-golden"
    expected = otlpjson.dumps(otlpjson.from_dict(Signal.LOGS,
                                                 json.loads(expected_path.read_text())))
    assert actual == expected


@pytest.mark.parametrize(("input_path", "expected_path"), golden.cases(TESTDATA / "golden"))
def test_golden(input_path: Path, expected_path: Path, update_golden: bool) -> None:
    """Default settings: the derived records are exactly the expected OTLP/JSON."""
    _check(logs.create(logs.default_config()), input_path, expected_path, update_golden)


@pytest.mark.parametrize(("input_path", "expected_path"),
                         golden.cases(TESTDATA / "golden_previews"))
def test_golden_previews(input_path: Path, expected_path: Path, update_golden: bool) -> None:
    """Previews on: only redacted / clean spans get them, cut to preview_length."""
    config = LogsConfig(previews=True, preview_length=80)
    _check(logs.create(config), input_path, expected_path, update_golden)


def test_one_record_per_model_call_correlated_to_its_span() -> None:
    spans = [llm_span(span_id=i, trace_id=7, error="boom" if i == 3 else None)
             for i in (1, 2, 3)]
    derived = _derive(logs.create(logs.default_config()), request(spans))
    records = [r for rl in derived.resource_logs for sl in rl.scope_logs for r in sl.log_records]
    assert [(r.trace_id.hex(), r.span_id.hex()) for r in records] == [
        (f"{7:032x}", f"{i:016x}") for i in (1, 2, 3)]
    assert {r.event_name for r in records} == {sc.EVENT_INFERENCE}
    assert [r.severity_text for r in records] == ["INFO", "INFO", "ERROR"]


def test_low_cardinality_fields_on_the_resource_the_rest_as_attributes() -> None:
    config = LogsConfig(resource_fields=[ResourceField.PROVIDER, ResourceField.REQUEST_MODEL])
    derived = _derive(logs.create(config), request(
        [llm_span("gpt-4o"), llm_span("gpt-4o-mini"), llm_span("gpt-4o")]))
    groups = []
    for rl in derived.resource_logs:
        res = {kv.key: kv.value.string_value for kv in rl.resource.attributes}
        n = sum(len(sl.log_records) for sl in rl.scope_logs)
        attrs = {kv.key for sl in rl.scope_logs for r in sl.log_records for kv in r.attributes}
        groups.append((res[sc.SERVICE_NAME], res[sc.GENAI_PROVIDER_NAME],
                       res[sc.GENAI_REQUEST_MODEL], n))
        assert sc.GENAI_REQUEST_MODEL not in attrs and sc.GENAI_OPERATION_NAME in attrs
    assert sorted(groups) == [("chat-app", "openai", "gpt-4o", 2),
                              ("chat-app", "openai", "gpt-4o-mini", 1)]


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("hello   world", "hello world", id="plain-collapsed"),
    pytest.param('[{"role":"user","parts":[{"type":"text","content":"hi <PERSON>"}]}]',
                 "hi <PERSON>", id="json-messages"),
    pytest.param("x" * 40, "x" * 19 + "…", id="cut"),
    pytest.param("[not json", "[not json", id="bad-json-kept-as-text"),
])
def test_preview_text(text: str, expected: str) -> None:
    from opentelemetry.proto.common.v1 import common_pb2

    assert preview(common_pb2.AnyValue(string_value=text), 20) == expected


def test_previews_are_off_by_default() -> None:
    derived = _derive(logs.create(logs.default_config()), request([llm_span(extra={
        "gen_ai.prompt": "hello", sc.REDACTION_STATUS: "clean"})]))
    keys = {kv.key for rl in derived.resource_logs for sl in rl.scope_logs
            for r in sl.log_records for kv in r.attributes}
    assert sc.LOG_PROMPT_PREVIEW not in keys


@pytest.mark.parametrize("settings", [
    pytest.param({"resource_fields": ["tenant"]}, id="unknown-field"),
    pytest.param({"preview_length": 3}, id="preview-too-short"),
])
def test_invalid_settings_are_refused(settings: dict) -> None:
    with pytest.raises(ValidationError):
        LogsConfig.model_validate(settings)
