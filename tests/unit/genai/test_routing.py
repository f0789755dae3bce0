"""The one definition of GenAI telemetry (processors/genai/routing.py), its OTTL rendering, and
every shipped collector config carrying exactly that rendering.

What the processors act on must be GenAI by this definition, or the shipped routing would send
it past the sidecar: every span of every golden input that the GenAI view recognizes or whose
content the redaction walker collects, and every log record the walker treats as a GenAI event,
is checked here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from processors import redaction
from processors.genai import routing, view
from processors.redaction.content import ContentWalker
from sidecar import otlpjson
from sidecar import semconv as sc
from sidecar.component import Signal
from tests.harness import kv

ROOT = Path(__file__).resolve().parents[3]
GOLDEN_INPUTS = sorted(ROOT.glob("processors/*/testdata/golden*/*.input.json"))


def _span(attributes: dict) -> trace_pb2.Span:
    return trace_pb2.Span(name="s", attributes=[kv(k, v) for k, v in attributes.items()])


def _spans(path: Path):
    data = json.loads(path.read_text("utf-8"))
    if "resourceSpans" not in data:
        return
    req = otlpjson.from_dict(Signal.TRACES, data)
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                yield ss.scope.name, span


def _logs(path: Path):
    data = json.loads(path.read_text("utf-8"))
    if "resourceLogs" not in data:
        return
    req = otlpjson.from_dict(Signal.LOGS, data)
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            yield from sl.log_records


def test_golden_inputs_are_found():
    assert len(GOLDEN_INPUTS) >= 15
    assert any("resourceLogs" in p.read_text("utf-8") for p in GOLDEN_INPUTS)


@pytest.mark.parametrize("path", GOLDEN_INPUTS, ids=lambda p: f"{p.parts[-4]}/{p.name}")
def test_every_span_a_processor_acts_on_is_genai(path):
    walker = ContentWalker(redaction.default_config())
    for scope, span in _spans(path):
        acts = view(span, scope) is not None
        single = trace_pb2.TracesData()
        single.resource_spans.add().scope_spans.add().spans.append(span)
        acts = acts or bool(walker.collect_traces(single))
        if acts:
            assert routing.has_genai_key(span.attributes), (
                f"{path.name}: span {span.name!r} is processed but not routed to the sidecar: "
                f"{[a.key for a in span.attributes]}")


@pytest.mark.parametrize("path", [p for p in GOLDEN_INPUTS if "resourceLogs" in p.read_text()],
                         ids=lambda p: p.name)
def test_golden_log_records_with_genai_events_are_genai(path):
    for lr in _logs(path):
        names = {lr.event_name} | {a.value.string_value for a in lr.attributes
                                   if a.key == "event.name"}
        if names & sc.GENAI_CONTENT_EVENT_NAMES:
            assert routing.is_genai_log(lr)


#: Read only on a span that something else already marks as GenAI (a service tier, an
#: OpenInference ``tool.name`` or ``session.id`` alone makes no LLM call; `view` needs a marker).
_SECONDARY = {"GENAI_SERVICE_TIER_KEYS", "GENAI_AGENT_NAME_KEYS", "GENAI_TOOL_NAME_KEYS",
              "GENAI_SESSION_KEYS"}


@pytest.mark.parametrize("key", sorted(
    {k for name in dir(sc) if name.startswith("GENAI_") and name.endswith("_KEYS")
     and name not in _SECONDARY for k in getattr(sc, name)}
    | sc.GENAI_CONTENT_KEYS
    | {p + "0.content" for p in sc.GENAI_CONTENT_KEY_PREFIXES}
    | {sc.GENAI_OPERATION_NAME, sc.GENAI_OPENLLMETRY_REQUEST_TYPE,
       sc.GENAI_OPENINFERENCE_SPAN_KIND, sc.GENAI_VERCEL_OPERATION_ID,
       sc.GENAI_INVOCATION_PARAMETERS, sc.GENAI_INPUT_VALUE, *sc.GENAI_FOREIGN_COST_KEYS,
       *sc.GENAI_PYDANTIC_AGENT_KEYS, *sc.PROMPT_TEMPLATE_KEYS}
))
def test_every_key_the_processors_read_is_a_genai_key(key):
    assert routing.is_genai_key(key)


@pytest.mark.parametrize("key", [
    "http.request.method", "db.statement", "service.name", "user.id", "url.full",
    "messaging.system", "rpc.service", "exception.message", "aid.x", "email", "input",
    "llm", "gen_ai", "events.count", "code.function",
])
def test_ordinary_keys_are_not(key):
    assert not routing.is_genai_key(key)


def _log(**fields) -> logs_pb2.LogRecord:
    attributes = fields.pop("attributes", {})
    lr = logs_pb2.LogRecord(**fields)
    lr.attributes.extend(kv(k, v) for k, v in attributes.items())
    return lr


@pytest.mark.parametrize(("record", "genai"), [
    (_log(event_name="gen_ai.user.message"), True),
    (_log(attributes={"event.name": "gen_ai.choice"}), True),
    (_log(attributes={"gen_ai.system": "openai"}), True),
    (_log(body=kv("b", '{"schemaType": "ModelInvocationLog", "modelId": "m"}').value), True),
    (_log(body=common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=[
        kv("modelId", "m"), kv("schemaType", "ModelInvocationLog")]))), True),
    (_log(body=kv("b", "GET /health 200 in 3ms").value), False),
    (_log(body=kv("b", "we read the ModelInvocationLog docs").value), False),
    (_log(event_name="app.login", attributes={"event.name": "gen_ai.unknown"}), False),
    (_log(attributes={"user.email": "a@b.example", "http.route": "/chat"}), False),
])
def test_log_classification(record, genai):
    assert routing.is_genai_log(record) is genai


def test_the_ottl_key_regex_agrees_with_the_python_test():
    """What the collector matches (the regex on the JSON array of keys) is what the sidecar
    classifies: checked on GenAI keys, ordinary keys, and keys that only contain a marker."""
    rx = re.compile(routing._keys_regex())
    keys = ["gen_ai.system", "http.method", "x.gen_ai.y", "input.value", "input.values",
            "my.input.value", "mlflow.spanInputs", "llm.input_messages.0.message.content",
            'we"ird', "events", "events.x", "ai.model.id", "aix", "final_result"]
    for key in keys:
        for others in ([], ["http.method"], ["db.statement", "service.version"]):
            attrs = [kv(k, "v") for k in [*others, key]]
            text = json.dumps([a.key for a in attrs])
            assert bool(rx.search(text)) == routing.has_genai_key(attrs), key


def _filters_of(path: Path) -> dict:
    processors = yaml.safe_load(path.read_text("utf-8"))["processors"]
    return {k: v for k, v in processors.items() if k.startswith("filter/")}


@pytest.mark.parametrize("name", ["stack.yaml", "local.yaml", "genai-routing.yaml"])
def test_shipped_configs_carry_the_rendered_conditions(name):
    path = ROOT / "collector-config" / name
    data = yaml.safe_load(path.read_text("utf-8"))
    got = data if name == "genai-routing.yaml" else _filters_of(path)
    assert got == routing.filter_processors(), (
        f"collector-config/{name} is out of date: regenerate with "
        "`python -m processors.genai.routing`")


def test_the_upstream_chart_example_carries_the_rendered_conditions():
    path = ROOT / "helm" / "genai-sidecar" / "examples" / "upstream-chart-values.yaml"
    processors = yaml.safe_load(path.read_text("utf-8"))["config"]["processors"]
    assert {k: v for k, v in processors.items() if k.startswith("filter/")} == (
        routing.filter_processors())


@pytest.mark.parametrize("name", ["stack.yaml", "local.yaml"])
def test_shipped_configs_split_every_input_pipeline(name):
    """Each traces / logs input goes through exactly one of the two filters per pipeline, and
    both filters see the same receiver: nothing is dropped by both, nothing kept by both."""
    pipelines = yaml.safe_load((ROOT / "collector-config" / name).read_text())["service"][
        "pipelines"]
    for signal in ("traces", "logs"):
        fed = {n: p for n, p in pipelines.items()
               if n.split("/")[0] == signal and "otlp" in p["receivers"]}
        filters = sorted(f for p in fed.values() for f in p["processors"]
                         if f.startswith("filter/"))
        assert filters == ["filter/genai", "filter/not_genai"], (signal, fed)
        genai = [p for p in fed.values() if "filter/genai" in p["processors"]]
        assert genai[0]["exporters"] == ["otlp_grpc/genai"]
        other = [p for p in fed.values() if "filter/not_genai" in p["processors"]]
        assert "otlp_grpc/genai" not in other[0]["exporters"]
