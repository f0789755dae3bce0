"""Redaction behaviour: operators, pseudonyms, fail-closed paths, config errors, allow-lists."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal

import pytest

from processors.redaction import RedactionConfig, create
from processors.redaction.engine import ModelError, preseed_tldextract
from processors.redaction.operators import KeyError_
from sidecar import otlpjson, semconv
from sidecar.cli import main as cli_main
from sidecar.component import Signal
from sidecar.config import ConfigError
from sidecar.registry import build_config
from tests.unit.redaction.conftest import CountingAnalyzer, RaisingAnalyzer, make, run

KEY = "k" * 32


def span_request(**attrs: str):
    return otlpjson.from_dict(Signal.TRACES, {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7",
        "name": "chat", "attributes": [{"key": k, "value": {"stringValue": v}}
                                       for k, v in attrs.items()]}]}]}]})


def attrs_of(request) -> dict:
    span = request.resource_spans[0].scope_spans[0].spans[0]
    out = {}
    for kv in span.attributes:
        v = kv.value
        kind = v.WhichOneof("value")
        out[kv.key] = ([x.string_value for x in v.array_value.values]
                       if kind == "array_value" else getattr(v, kind))
    return out


def redact_one(processor, text: str) -> dict:
    return attrs_of(run(processor, Signal.TRACES, span_request(**{"gen_ai.prompt": text})))


TEXT = "Write to jane.roe@example.com today"


@pytest.mark.parametrize(("operator", "expected"), [
    pytest.param({"type": "replace"}, "Write to <EMAIL_ADDRESS> today", id="replace"),
    pytest.param({"type": "mask", "keep_last": 4}, "Write to " + "*" * 16 + ".com today",
                 id="mask-keep-last"),
    pytest.param({"type": "mask", "masking_char": "#"}, "Write to " + "#" * 20 + " today",
                 id="mask-char"),
    pytest.param("redact", "Write to  today", id="redact"),
    pytest.param("drop", semconv.REDACTION_DROPPED_TEXT, id="drop"),
])
def test_operators(patterns_analyzer, operator, expected):
    """Each operator replaces the finding as documented; the summary counts it."""
    p = make(patterns_analyzer, operators={"EMAIL_ADDRESS": operator})
    out = redact_one(p, TEXT)
    assert out["gen_ai.prompt"] == expected
    assert out[semconv.REDACTION_COUNT] == 1
    assert out[semconv.REDACTION_TYPES] == ["EMAIL_ADDRESS"]
    assert out[semconv.REDACTION_STATUS] == "redacted"


def test_pseudonym_is_keyed_stable_and_publishes_nothing_of_the_key(patterns_analyzer,
                                                                    monkeypatch):
    """Same key -> same 64-bit token across processors; another key -> another token; no key
    id unless the operator names one (nothing derived from the key is published)."""
    monkeypatch.setenv("RED_KEY", KEY)
    settings = {"default_operator": "pseudonym", "pseudonym": {"key_env": "RED_KEY"}}
    a = redact_one(make(patterns_analyzer, **settings), TEXT)
    b = redact_one(make(patterns_analyzer, **settings), "Again: jane.roe@example.com")
    token = re.fullmatch(r"Write to (<EMAIL_ADDRESS:[0-9a-f]{16}>) today",
                         a["gen_ai.prompt"]).group(1)
    assert token in b["gen_ai.prompt"]
    assert semconv.REDACTION_KEY_ID not in a
    monkeypatch.setenv("RED_KEY", "z" * 32)
    c = redact_one(make(patterns_analyzer, **settings), TEXT)
    assert token not in c["gen_ai.prompt"]


def test_short_pseudonym_key_stops_start_up(patterns_analyzer, monkeypatch):
    monkeypatch.setenv("RED_KEY", "k" * 31)
    with pytest.raises(KeyError_, match=r"at least 32 bytes.*genai-sidecar keygen"):
        make(patterns_analyzer, default_operator="pseudonym", pseudonym={"key_env": "RED_KEY"})


def test_keygen_prints_a_usable_key(patterns_analyzer, capsys, monkeypatch):
    assert cli_main(["keygen"]) == 0
    key = capsys.readouterr().out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert cli_main(["keygen"]) == 0
    assert capsys.readouterr().out.strip() != key
    monkeypatch.setenv("RED_KEY", key)
    out = redact_one(make(patterns_analyzer, default_operator="pseudonym",
                          pseudonym={"key_env": "RED_KEY"}), TEXT)
    assert re.fullmatch(r"Write to <EMAIL_ADDRESS:[0-9a-f]{16}> today", out["gen_ai.prompt"])


def test_pseudonym_key_from_file(patterns_analyzer, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    p = make(patterns_analyzer, default_operator="pseudonym",
             pseudonym={"key_file": str(key_file), "key_id": "k2026"})
    out = redact_one(p, TEXT)
    assert out[semconv.REDACTION_KEY_ID] == "k2026"
    assert "jane.roe" not in out["gen_ai.prompt"]


def test_missing_pseudonym_key_stops_start_up(patterns_analyzer, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(KeyError_, match="NO_SUCH_KEY_VAR is not set"):
        make(patterns_analyzer, default_operator="pseudonym",
             pseudonym={"key_env": "NO_SUCH_KEY_VAR"})


def test_analyzer_error_fails_closed(patterns_analyzer):
    """An analysis error withholds the text, marks the span failed and counts it."""
    p = make(RaisingAnalyzer())
    out = redact_one(p, TEXT)
    assert out["gen_ai.prompt"] == semconv.REDACTION_FAILED_TEXT
    assert out[semconv.REDACTION_STATUS] == "failed"
    assert p.stats.failures.labels("error")._value.get() == 1


async def test_deadline_fails_closed(blocking_analyzer):
    p = make(blocking_analyzer, limits={"value_timeout": "50ms"})
    from sidecar.component import BatchContext
    req = span_request(**{"gen_ai.prompt": TEXT})
    out = attrs_of(await p.process(req, BatchContext(Signal.TRACES)))
    blocking_analyzer.release.set()  # let the abandoned thread end
    assert out["gen_ai.prompt"] == semconv.REDACTION_FAILED_TEXT
    assert out[semconv.REDACTION_STATUS] == "failed"
    assert p.stats.failures.labels("timeout")._value.get() == 1


async def test_content_not_analyzed_within_the_budget_is_withheld_and_the_item_forwarded(
        blocking_analyzer):
    import time

    from sidecar.component import BatchContext
    p = make(blocking_analyzer, overload={"budget": "200ms"})
    req = span_request(**{"gen_ai.prompt": TEXT, "gen_ai.request.model": "gpt-4o"})
    t0 = time.perf_counter()
    out = attrs_of(await p.process(req, BatchContext(Signal.TRACES)))
    elapsed = time.perf_counter() - t0
    blocking_analyzer.release.set()
    assert out["gen_ai.prompt"] == semconv.REDACTION_DEFERRED_TEXT
    assert out["gen_ai.request.model"] == "gpt-4o"
    assert out[semconv.REDACTION_STATUS] == "deferred"
    assert p.stats.deferred.labels("deadline")._value.get() == 1
    assert p.stats.values.labels("deferred")._value.get() == 1
    assert elapsed < 5  # answered at the budget, not at the analyzer's pace


async def test_the_request_deadline_caps_the_budget(blocking_analyzer):
    import asyncio

    from sidecar.component import BatchContext
    p = make(blocking_analyzer, overload={"budget": "30s"})
    loop = asyncio.get_running_loop()
    ctx = BatchContext(Signal.TRACES, deadline=loop.time() + 0.7)  # answer 0.5 s before
    out = attrs_of(await p.process(span_request(**{"gen_ai.prompt": TEXT}), ctx))
    blocking_analyzer.release.set()
    assert out["gen_ai.prompt"] == semconv.REDACTION_DEFERRED_TEXT
    assert loop.time() < ctx.deadline


class Backlogged:
    """A backend that reports a long backlog and must never be asked."""

    def __init__(self) -> None:
        self.asked = 0

    def admissible_chars(self, budget: float, busy_budget: float, wanted: float) -> float:
        return -1.0

    async def start(self):
        return None

    async def analyze(self, texts, flags):
        self.asked += 1
        return [[] for _ in texts]

    async def shutdown(self):
        return None


def test_content_the_backlog_cannot_reach_is_withheld_without_queueing():
    backend = Backlogged()
    p = create(RedactionConfig.model_validate({"overload": {"budget": "1s"}}), backend=backend)
    out = attrs_of(run(p, Signal.TRACES, span_request(**{"gen_ai.prompt": TEXT})))
    assert out["gen_ai.prompt"] == semconv.REDACTION_DEFERRED_TEXT
    assert backend.asked == 0 and p.stats.deferred.labels("backlog")._value.get() == 1
    # With the wait policy the same backlog is waited for.
    q = create(RedactionConfig.model_validate({"overload": {"policy": "wait"}}),
               backend=backend)
    out = attrs_of(run(q, Signal.TRACES, span_request(**{"gen_ai.prompt": TEXT})))
    assert out["gen_ai.prompt"] == TEXT and backend.asked == 1


async def test_worker_pool_backlog_is_pending_characters_over_the_measured_rate():
    import asyncio

    from processors.redaction.engine import EngineSpec
    from processors.redaction.pool import _INITIAL_RATE, WorkerPool, _Job

    pool = WorkerPool(EngineSpec.from_config(RedactionConfig(mode="patterns")), 1, "spawn",
                      16, 5.0, 60.0)
    assert pool.backlog_seconds() == 0
    loop = asyncio.get_running_loop()
    live, gone = loop.create_future(), loop.create_future()
    gone.cancel()  # a caller that gave up: its chunk will be skipped, it is no backlog
    pool._queue.extend([_Job(["a" * 50_000], [False], live),
                        _Job(["b" * 70_000], [False], gone)])
    assert pool.backlog_seconds() == 50_000 / _INITIAL_RATE
    pool._rate = 10_000.0
    assert pool.backlog_seconds() == 5.0
    assert pool.active_calls() == 1
    assert pool.admissible_chars(6.0, 10.0) == 10_000.0  # (6 s - 5 s of backlog) x rate
    assert pool.admissible_chars(2.0, 0.25) < 0
    # A small call behind the 50,000-character one waits for about its own size of it only.
    assert pool.admissible_chars(2.0, 0.25, wanted=1_000) == 0.25 * 10_000.0 - 1_000
    live.cancel()
    assert pool.active_calls() == 0 and pool.admissible_chars(2.0, 0.25) == 0.25 * 10_000.0


async def test_worker_pool_serves_the_shortest_call_first_and_lets_none_starve():
    """A small call's chunk goes out ahead of a large call's; calls of equal size go one after
    the other; a call kept waiting past the starvation limit goes first."""
    import asyncio

    from processors.redaction import pool as pool_mod
    from processors.redaction.pool import _FairQueue, _Job

    loop = asyncio.get_running_loop()
    now = [0.0]
    q = _FairQueue(clock=lambda: now[0])

    def jobs(group, n, name):
        return [_Job([f"{name}-{i}"], [False], loop.create_future(), group) for i in range(n)]

    q.extend(jobs(1, 5, "big"))
    q.extend(jobs(2, 1, "small"))
    q.extend(jobs(3, 2, "mid"))
    order = [q.popleft().texts[0] for _ in range(4)]
    assert order == ["small-0", "mid-0", "mid-1", "big-0"]
    q.extend(jobs(4, 1, "late"))
    now[0] += pool_mod._STARVATION_S + 0.1  # big last served long ago
    assert q.popleft().texts[0] == "big-1"
    q.requeue(jobs(5, 1, "requeued"))
    assert q.popleft().texts[0] == "requeued-0"


async def test_wait_policy_waits_for_the_analysis():
    import asyncio

    class Slow:
        def analyze(self, texts, flags):
            import time
            time.sleep(0.5)
            return [[] for _ in texts]

    p = make(Slow(), overload={"policy": "wait", "budget": "100ms"})
    from sidecar.component import BatchContext
    out = attrs_of(await p.process(span_request(**{"gen_ai.prompt": TEXT}),
                                   BatchContext(Signal.TRACES)))
    await asyncio.sleep(0)
    assert out["gen_ai.prompt"] == TEXT and out[semconv.REDACTION_STATUS] == "clean"


async def test_flood_loses_nothing_and_forwards_no_raw_content(patterns_analyzer):
    """64 concurrent requests of 10 spans each, every span with its own e-mail, against an
    analyzer that takes 20 ms a chunk: every span comes back, each prompt either redacted or
    withheld, none raw, and every request answered near its budget."""
    import asyncio
    import time

    class Slow:
        def analyze(self, texts, flags):
            time.sleep(0.02)
            return patterns_analyzer.analyze(texts, flags)

    p = make(Slow(), overload={"budget": "300ms"})
    from sidecar.component import BatchContext

    def request(r: int):
        req = span_request(**{"gen_ai.prompt": "x"})
        spans = req.resource_spans[0].scope_spans[0].spans
        template = spans[0]
        del spans[:]
        for i in range(10):  # one chunk (workers.batch_size 16)
            s = spans.add()
            s.CopyFrom(template)
            s.attributes[0].value.string_value = f"Mail user{r}x{i}@example.com now"
        return req

    async def one(r: int):
        t0 = time.perf_counter()
        out = await p.process(request(r), BatchContext(Signal.TRACES))
        return out, time.perf_counter() - t0

    results = await asyncio.gather(*(one(r) for r in range(64)))
    statuses = []
    for out, elapsed in results:
        spans = out.resource_spans[0].scope_spans[0].spans
        assert len(spans) == 10
        for s in spans:
            a = {kv.key: kv.value.string_value for kv in s.attributes}
            assert "@example.com" not in a["gen_ai.prompt"]
            assert a["gen_ai.prompt"] in ("Mail <EMAIL_ADDRESS> now",
                                          semconv.REDACTION_DEFERRED_TEXT)
            statuses.append(a[semconv.REDACTION_STATUS])
        assert elapsed < 3
    assert "deferred" in statuses and "redacted" in statuses


def test_size_cap_fails_closed_without_analysis(patterns_analyzer):
    counting = CountingAnalyzer(patterns_analyzer)
    p = make(counting, limits={"max_text_chars": 10})
    out = redact_one(p, TEXT)
    assert out["gen_ai.prompt"] == semconv.REDACTION_FAILED_TEXT
    assert out[semconv.REDACTION_STATUS] == "failed"
    assert counting.seen == []
    assert p.stats.failures.labels("size_cap")._value.get() == 1


def test_failed_leaf_keeps_json_structure(patterns_analyzer):
    msgs = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "x" * 50},
                                                   {"type": "text", "content": "a@b.com ok"}]}])
    p = make(patterns_analyzer, limits={"max_text_chars": 20})
    out = attrs_of(run(p, Signal.TRACES, span_request(**{"gen_ai.input.messages": msgs})))
    parsed = json.loads(out["gen_ai.input.messages"])
    assert [x["content"] for x in parsed[0]["parts"]] == [semconv.REDACTION_FAILED_TEXT,
                                                         "<EMAIL_ADDRESS> ok"]
    assert out[semconv.REDACTION_STATUS] == "failed"


def test_cache_and_batch_deduplication(patterns_analyzer):
    """Identical texts are analyzed once per batch, and not again in the next batch."""
    counting = CountingAnalyzer(patterns_analyzer)
    p = make(counting)
    req = span_request(**{"gen_ai.prompt": TEXT, "gen_ai.completion": TEXT, "input.value": TEXT})
    run(p, Signal.TRACES, req)
    assert counting.seen == [TEXT]
    out = redact_one(p, TEXT)
    assert counting.seen == [TEXT]
    assert out["gen_ai.prompt"] == "Write to <EMAIL_ADDRESS> today"
    assert p.stats.cache.labels("hit")._value.get() == 1


@pytest.mark.parametrize(("allow", "expected"), [
    pytest.param({"exact": ["jane.roe@example.com"]}, TEXT, id="exact"),
    pytest.param({"regex": [r".*@example\.com"]}, TEXT, id="regex"),
    pytest.param({"exact": ["jane.roe@example.co"]}, "Write to <EMAIL_ADDRESS> today",
                 id="exact-is-exact"),
])
def test_allow_list(patterns_analyzer, allow, expected):
    from processors.redaction.engine import Analyzer, EngineSpec

    cfg = RedactionConfig.model_validate({"mode": "patterns", "allow_list": allow,
                                          "entities": ["EMAIL_ADDRESS"]})
    p = create(cfg, analyzer=Analyzer(EngineSpec.from_config(cfg)))
    assert redact_one(p, TEXT)["gen_ai.prompt"] == expected


def test_custom_recognizer_and_per_entity_enable():
    from processors.redaction.engine import Analyzer, EngineSpec
    cfg = RedactionConfig.model_validate({
        "mode": "patterns", "entities": ["PHONE_NUMBER"],
        "custom_recognizers": [{"entity": "EMPLOYEE_ID",
                                "patterns": [{"regex": r"\bEMP-\d{6}\b"}]}],
    })
    p = create(cfg, analyzer=Analyzer(EngineSpec.from_config(cfg)))
    out = redact_one(p, "EMP-123456 wrote from jane.roe@example.com")
    assert out["gen_ai.prompt"] == "<EMPLOYEE_ID> wrote from jane.roe@example.com"


def test_custom_and_allow_regexes_take_the_regex_modules_syntax():
    """Presidio runs them with the ``regex`` module: Unicode properties, variable-width
    lookbehinds and inline flags after the start, all refused by the standard library's ``re``,
    pass config and work (these regexes get no prefilter relaxation: they always run)."""
    from processors.redaction.engine import Analyzer, EngineSpec
    cfg = RedactionConfig.model_validate({
        "mode": "patterns", "entities": ["EMAIL_ADDRESS"],
        "custom_recognizers": [{"entity": "HONORIFIC_NAME", "patterns": [
            {"regex": r"(?<=\b(?:Mr|Mrs|Dr)\.? )\p{Lu}\p{Ll}+"}]}],
        "allow_list": {"regex": [r"Öberg|noreply@(?i)EXAMPLE\.com"]},
    })
    p = create(cfg, analyzer=Analyzer(EngineSpec.from_config(cfg)))
    out = redact_one(p, "Mrs Łukasiewicz and Dr. Öberg wrote to noreply@example.com")
    assert out["gen_ai.prompt"] == "Mrs <HONORIFIC_NAME> and Dr. Öberg wrote to noreply@example.com"


def test_non_content_is_untouched_and_unmarked(patterns_analyzer):
    req = span_request(**{"user.email": "a@example.com"})
    before = req.SerializeToString()
    out = run(make(patterns_analyzer), Signal.TRACES, req)
    assert out.SerializeToString() == before


def test_scan_all_attributes_pattern_pass(patterns_analyzer):
    p = make(patterns_analyzer, content={"scan_all_attributes": True})
    out = attrs_of(run(p, Signal.TRACES, span_request(**{"user.email": "a.b@example.com"})))
    assert out["user.email"] == "<EMAIL_ADDRESS>"


class FlagRecorder:
    """Records (text, patterns_only) of each text analyzed; finds nothing unless wrapping."""

    def __init__(self, inner=None) -> None:
        self.inner = inner
        self.seen: list[tuple[str, bool]] = []

    def analyze(self, texts, flags):
        self.seen.extend(zip(texts, flags, strict=True))
        return self.inner.analyze(texts, flags) if self.inner else [[] for _ in texts]


def log_request(body: str, event_name: str = "", **attrs: str):
    record = {"body": {"stringValue": body},
              "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()]}
    if event_name:
        record["eventName"] = event_name
    return otlpjson.from_dict(Signal.LOGS, {"resourceLogs": [{"scopeLogs": [{
        "logRecords": [record]}]}]})


def body_of(request) -> str:
    return request.resource_logs[0].scope_logs[0].log_records[0].body.string_value


@pytest.mark.parametrize(("event_name", "attrs"), [
    pytest.param("gen_ai.user.message", {}, id="event-name"),
    pytest.param("", {"event.name": "gen_ai.choice"}, id="event-name-attribute"),
    pytest.param("", {"gen_ai.system": "openai"}, id="genai-attribute"),
])
def test_genai_log_bodies_get_the_full_engine_by_default(event_name, attrs):
    recorder = FlagRecorder()
    out = run(make(recorder), Signal.LOGS, log_request(TEXT, event_name, **attrs))
    assert (TEXT, False) in recorder.seen  # not patterns-only: NER too
    attrs_out = {kv.key: kv.value.string_value
                 for kv in out.resource_logs[0].scope_logs[0].log_records[0].attributes}
    assert attrs_out[semconv.REDACTION_STATUS] == "clean"


def test_plain_application_log_bodies_pass_as_received_by_default(patterns_analyzer):
    counting = CountingAnalyzer(patterns_analyzer)
    req = log_request("user jane.roe@example.com logged in", **{"http.route": "/login"})
    before = req.SerializeToString()
    out = run(make(counting), Signal.LOGS, req)
    assert out.SerializeToString() == before and counting.seen == []


def test_other_log_bodies_patterns_is_a_pattern_pass(patterns_analyzer):
    recorder = FlagRecorder(patterns_analyzer)
    p = make(recorder, content={"other_log_bodies": "patterns"})
    out = run(p, Signal.LOGS, log_request("user jane.roe@example.com logged in"))
    assert body_of(out) == "user <EMAIL_ADDRESS> logged in"
    assert recorder.seen == [("user jane.roe@example.com logged in", True)]


def test_log_bodies_all_is_todays_full_pass(patterns_analyzer):
    p = make(patterns_analyzer, content={"log_bodies": "all"})
    out = run(p, Signal.LOGS, log_request("user jane.roe@example.com logged in"))
    assert body_of(out) == "user <EMAIL_ADDRESS> logged in"


def test_model_missing_stops_start_up():
    cfg = RedactionConfig.model_validate({"model": {"name": "en_core_web_nonexistent_xyz"}})
    with pytest.raises(ModelError, match="is not installed"):
        create(cfg)


def test_model_pin_mismatch_stops_start_up():
    cfg = RedactionConfig.model_validate({"model": {"files_sha256": "0" * 64}})
    with pytest.raises(ModelError, match="does not match the pinned"):
        create(cfg)


def test_tldextract_uses_the_bundled_snapshot():
    import tldextract.tldextract as impl
    preseed_tldextract()
    assert impl.TLD_EXTRACTOR.suffix_list_urls == ()
    assert impl.TLD_EXTRACTOR.fallback_to_snapshot
    assert impl.TLD_EXTRACTOR("x.example.co.uk").suffix == "co.uk"


@pytest.mark.parametrize(("settings", "message"), [
    pytest.param({"entities": ["PERSON", "EMAIL"]},
                 "processors.redaction.entities[1]: Input should be", id="unknown-entity"),
    pytest.param({"mode": "fast"},
                 "processors.redaction.mode: Input should be 'ner' or 'patterns'", id="mode"),
    pytest.param({"operators": {"EMAIL": "replace"}},
                 "processors.redaction.operators: unknown entity 'EMAIL'; "
                 "allowed: ANTHROPIC_API_KEY",
                 id="operator-entity"),
    pytest.param({"operators": {"EMAIL_ADDRESS": "hash"}},
                 "processors.redaction.operators.EMAIL_ADDRESS.type: Input should be 'replace', "
                 "'mask', 'redact', 'pseudonym' or 'drop'", id="operator-type"),
    pytest.param({"default_operator": "pseudonym"},
                 "processors.redaction.pseudonym: the pseudonym operator needs key_env or key_file",
                 id="pseudonym-key"),
    pytest.param({"allow_list": {"regex": ["("]}},
                 "processors.redaction.allow_list.regex[0]: invalid regular expression '('",
                 id="allow-regex"),
    pytest.param({"custom_recognizers": [{"entity": "EMPLOYEE_ID",
                                          "patterns": [{"regex": r"EMP-\d{2,1}"}]}]},
                 "processors.redaction.custom_recognizers[0].patterns[0].regex: invalid regular "
                 "expression 'EMP-\\\\d{2,1}': min repeat greater than max repeat",
                 id="custom-regex"),
    pytest.param({"content": {"key_patterns": [r"\p{L}+\.content"]}},
                 "processors.redaction.content.key_patterns[0]: invalid regular expression",
                 id="key-pattern-is-stdlib"),
    pytest.param({"custom_recognizers": [{"entity": "employee", "patterns": [{"regex": "x"}]}]},
                 "processors.redaction.custom_recognizers[0].entity: invalid entity name "
                 "'employee'; use upper case, e.g. EMPLOYEE_ID", id="custom-name"),
    pytest.param({"unknown_key": 1}, "processors.redaction.unknown_key: unknown key",
                 id="unknown-key"),
])
def test_config_errors_name_the_yaml_path(settings, message):
    with pytest.raises(ConfigError) as err:
        build_config({"processors": {"redaction": settings},
                      "pipelines": {"traces": ["redaction"]}})
    assert any(e.startswith(message) for e in err.value.errors), err.value.errors


def test_cli_redact(capsys):
    code = cli_main(["redact", "Mail jane.roe@example.com"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == "Mail <EMAIL_ADDRESS>"
    assert "EMAIL_ADDRESS 5-25" in out


#: A custom recognizer whose regex backtracks for minutes on STUCK: the worker analyzing it
#: does not answer until it is killed (by its deadline or by the test). (The prefilter lets
#: it run: without the lookahead, "x...xy" would match.)
_STUCK_RECOGNIZER = {"entity": "STUCK",
                     "patterns": [{"regex": r"(?:(x+)(\1)*)+y(?=Q)", "score": 0.9}]}
STUCK = "x" * 40 + "y"


def _stuck_pool(value_timeout: str):
    return create(RedactionConfig.model_validate({
        "mode": "patterns", "custom_recognizers": [_STUCK_RECOGNIZER],
        "workers": {"count": 1, "batch_size": 1},
        "limits": {"cache_size": 0, "value_timeout": value_timeout}}))


@pytest.mark.parametrize("how", ["killed", "deadline"])
async def test_lost_worker_fails_its_chunk_closed_and_the_next_chunk_is_not_lost(how):
    """The worker dies (SIGKILL) or overruns its deadline while analyzing one chunk, with the
    next chunk already waiting in its pipe: the first fails closed, the second was never
    started and is analyzed by the replacement; the replacement serves later batches."""
    p = _stuck_pool("60s" if how == "killed" else "300ms")
    try:
        await p.start(None)
        (pid,) = p.backend.worker_pids()
        task = asyncio.ensure_future(p.backend.analyze([STUCK, TEXT], [False, False]))
        await asyncio.sleep(0)  # analyze() has sent both chunks (one text each)
        if how == "killed":
            os.kill(pid, signal.SIGKILL)
        stuck, text = await task
        assert stuck is None
        assert [f[2] for f in text] == ["EMAIL_ADDRESS"]
        reason = "worker_crash" if how == "killed" else "timeout"
        assert p.stats.failures.labels(reason)._value.get() == 1
        assert p.stats.restarts._value.get() == 1
        await p.backend.restarts_settled()
        assert p.backend.worker_pids() not in ([], [pid])
        again = await p.redact_texts({(TEXT, False)})
        assert again[(TEXT, False)].text == "Write to <EMAIL_ADDRESS> today"
    finally:
        await p.shutdown()
        await p.shutdown()  # idempotent


async def test_cancelled_caller_leaves_the_pool_serving():
    """A request that gives up (its deadline) while its chunk is analyzed: the answer that
    arrives later is dropped, the worker is kept, and the next caller gets its own answer."""
    p = create(RedactionConfig.model_validate(
        {"mode": "patterns", "workers": {"count": 1}, "limits": {"cache_size": 0}}))
    try:
        await p.start(None)
        (pid,) = p.backend.worker_pids()
        task = asyncio.ensure_future(p.backend.analyze([TEXT] * 64, [False] * 64))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        other = "Call me on 415-555-0132 please"
        (found,) = await p.backend.analyze([other], [False])
        assert [f[2] for f in found] == ["PHONE_NUMBER"]
        assert p.backend.worker_pids() == [pid]
        assert p.stats.restarts._value.get() == 0
    finally:
        await p.shutdown()


def test_counters_join_the_host_registry(patterns_analyzer):
    """With a host that offers the sidecar's registry, the counters appear in its scrape."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    host = type("Host", (), {"telemetry": type("T", (), {"registry": registry})()})()
    p = make(RaisingAnalyzer())
    asyncio.run(p.start(host))
    redact_one(p, TEXT)
    text = generate_latest(registry).decode()
    assert f'{semconv.OWN_REDACTION_FAILURES}_total{{reason="error"}} 1.0' in text


#: Shapes at the edge of the triggers and pattern gates (case, separators, spacing).
_EDGE_TEXTS = [
    "AWS secret: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1 and rue de la Paix",
    "iban de89370400440532013000 (lower case), mac 00:1a:2B:3c:4D:5e",
    "IBAN GB82 WEST 1234 5698 7654 32",
    "router 001a.2b3c.4d5e",
    "aa-bb-cc-dd-ee-ff, fe80::1ff:fe23:4567:890a",
    "loopback ::1 only; v4 at 10.0.0.7",
    "dead:beef::cafe, ::ffff:192.0.2.1, 64:ff9b::198.51.100.7 and :: alone",
    "FE80:0:0:0:202:B3FF:FE1E:8329 at 10:30: note: done",
    "api_key = 'abcdEFGH12345678' password: hunter2hunter2 TOKEN=\"zzzzzzzzzz\"",
    "Wohnt in der HAUPTSTRASSE 12, Am Ring\t\t7a, Lindenweg\n3 und Schloßallee 1-2.",
    "Lieferung an Paulo-Schleich-Straße 19 oder 682, avenue de Toussaint, 75001 Paris",
    "Sincerely,\nAna López", "Doña Inés García llamó", "avec Mlle Chloé Martin",
    "was speaking with Jane Doe",
    '{"customer_name": "Ana Lopez", "note": "call back"}',
]


def test_triggers_gates_and_direct_pass_never_change_a_finding(patterns_analyzer,
                                                               monkeypatch):
    """Skipping recognizers by trigger, patterns by gate, and running the pattern
    recognizers without AnalyzerEngine's orchestration give the findings of plain Presidio
    with every recognizer run."""
    from bench.pii_eval.faker_legacy import Generator
    from processors.redaction import recognizers

    texts = [s.text for s in Generator(seed=99).samples(60)] + _EDGE_TEXTS
    fast = patterns_analyzer.analyze(texts, [False] * len(texts))
    assert patterns_analyzer._direct is not None  # the direct pass is in use
    monkeypatch.setattr(recognizers, "TRIGGERS", {})
    monkeypatch.setattr(patterns_analyzer, "_direct", None)
    for rec in patterns_analyzer._patterns.registry.recognizers:
        if hasattr(rec, "_gates"):
            monkeypatch.setattr(rec, "_gates", {})
    plain = patterns_analyzer.analyze(texts, [False] * len(texts))
    assert fast == plain
    assert sum(map(len, fast)) > 100
    found = {e for f in fast[-len(_EDGE_TEXTS):] for _, _, e, _ in f}
    assert sum(e == "IP_ADDRESS" for f in fast[-len(_EDGE_TEXTS):] for _, _, e, _ in f) >= 6
    assert {"IBAN_CODE", "MAC_ADDRESS", "IP_ADDRESS", "GENERIC_SECRET",
            "STREET_ADDRESS", "PERSON"} <= found


def test_a_second_pass_replaces_the_summary(patterns_analyzer):
    """Redacting an already redacted span (two sidecars in a row, a retried batch) leaves
    one set of summary attributes, describing the last pass."""
    p = make(patterns_analyzer)
    once = run(p, Signal.TRACES, span_request(**{"gen_ai.prompt": TEXT}))
    twice = run(p, Signal.TRACES, once)
    keys = [kv.key for kv in twice.resource_spans[0].scope_spans[0].spans[0].attributes]
    assert sorted(keys) == sorted(["gen_ai.prompt", semconv.REDACTION_COUNT,
                                   semconv.REDACTION_TYPES, semconv.REDACTION_STATUS])
    attrs = attrs_of(twice)
    assert attrs["gen_ai.prompt"] == "Write to <EMAIL_ADDRESS> today"
    assert attrs[semconv.REDACTION_STATUS] == "clean"
    assert attrs[semconv.REDACTION_TYPES] == []


@pytest.mark.parametrize("raw", [
    pytest.param('{"id": 123456789012345678901234567890, "content": "mail jane.roe@example.com"}',
                 id="integer-beyond-64-bits"),
    pytest.param('{"big": 1e19, "n": -9223372036854775809, "content": "mail jane.roe@example.com"}',
                 id="float-and-integer-at-the-edge"),
    pytest.param('{"score": NaN, "max": Infinity, "content": "mail jane.roe@example.com"}',
                 id="nan-and-infinity"),
    pytest.param('{"odd": "\\ud800", "content": "mail jane.roe@example.com"}',
                 id="lone-surrogate"),
    pytest.param('[{"role": "user", "content": "Th\\u00e9r\\u00e8se: jane.roe@example.com"}]',
                 id="escaped-non-ascii"),
])
def test_changed_json_keeps_every_value(patterns_analyzer, raw):
    """Whatever parser reads a JSON value, the one written back holds the same values with
    the finding replaced: integers beyond 64 bits stay exact, NaN stays NaN."""
    import json
    import math

    out = attrs_of(run(make(patterns_analyzer), Signal.TRACES,
                       span_request(**{"gen_ai.input.messages": raw})))["gen_ai.input.messages"]
    before, after = json.loads(raw), json.loads(out)

    def same(a, b):
        if isinstance(a, str):
            return b == a.replace("jane.roe@example.com", "<EMAIL_ADDRESS>")
        if isinstance(a, float) and math.isnan(a):
            return isinstance(b, float) and math.isnan(b)
        if isinstance(a, dict):
            return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        return type(a) is type(b) and a == b

    assert same(before, after), out
    out.encode("utf-8")  # writable to OTLP (no lone surrogate left unescaped)


def test_untouched_json_stays_byte_identical_and_changed_json_is_compact(patterns_analyzer):
    clean = '[{"role": "user",  "content": "Th\\u00e9r\\u00e8se asks about the plan"}]'
    dirty = '[{"role": "user", "content": "Th\\u00e9r\\u00e8se: jane.roe@example.com"}]'
    out = attrs_of(run(make(patterns_analyzer), Signal.TRACES, span_request(
        **{"gen_ai.input.messages": clean, "gen_ai.output.messages": dirty})))
    assert out["gen_ai.input.messages"] == clean
    assert out["gen_ai.output.messages"] == (
        '[{"role":"user","content":"Thérèse: <EMAIL_ADDRESS>"}]')


def test_json_member_under_a_personal_key_is_replaced_whole(patterns_analyzer):
    """In parsed JSON the key is not in the analyzed text: the walker's key rules decide."""
    tool = json.dumps({"full_name": "Oyelaran Adebayo", "holder": "Siobhán Ní Bhriain",
                       "dob": "1984-03-07", "service_name": "Checkout", "name": "checkout-api"})
    msgs = json.dumps([{"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                                   "response": tool}]}])
    out = attrs_of(run(make(patterns_analyzer), Signal.TRACES,
                       span_request(**{"gen_ai.input.messages": msgs})))
    inner = json.loads(json.loads(out["gen_ai.input.messages"])[0]["parts"][0]["response"])
    assert inner == {"full_name": "<PERSON>", "holder": "<PERSON>", "dob": "<DATE_OF_BIRTH>",
                     "service_name": "Checkout", "name": "checkout-api"}
    assert out[semconv.REDACTION_STATUS] == "redacted"
    assert out[semconv.REDACTION_COUNT] == 3
    assert out[semconv.REDACTION_TYPES] == ["DATE_OF_BIRTH", "PERSON"]


def test_exception_event_and_status_message_of_an_llm_span_are_content(patterns_analyzer):
    """An LLM call's error quotes its input: the exception event and the status message of a
    span with content are redacted; those of a span without content are left alone."""
    def span(content: bool) -> dict:
        attrs = [{"key": "gen_ai.prompt", "value": {"stringValue": "hello"}}] if content else []
        return {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7",
                "name": "chat", "attributes": attrs,
                "status": {"code": 2, "message": "invalid input for jane.roe@example.com"},
                "events": [{"name": "exception", "attributes": [
                    {"key": "exception.message",
                     "value": {"stringValue": "BadRequest: jane.roe@example.com"}},
                    {"key": "exception.stacktrace",
                     "value": {"stringValue": "File app.py, in ask('jane.roe@example.com')"}}]}]}

    request = otlpjson.from_dict(Signal.TRACES, {"resourceSpans": [{"scopeSpans": [{"spans": [
        span(True), span(False)]}]}]})
    out = run(make(patterns_analyzer), Signal.TRACES, request)
    llm, plain = out.resource_spans[0].scope_spans[0].spans
    assert llm.status.message == "invalid input for <EMAIL_ADDRESS>"
    assert [kv.value.string_value for kv in llm.events[0].attributes] == [
        "BadRequest: <EMAIL_ADDRESS>", "File app.py, in ask('<EMAIL_ADDRESS>')"]
    assert plain.status.message == "invalid input for jane.roe@example.com"
    assert "jane.roe@example.com" in plain.events[0].attributes[0].value.string_value


@pytest.mark.parametrize("key", [
    "gcp.vertex.agent.llm_request", "mlflow.spanInputs", "lmnr.span.output",
    "haystack.component.input"])
def test_other_instrumentations_content_keys(patterns_analyzer, key):
    out = redact_one_key(make(patterns_analyzer), key, TEXT)
    assert out[key] == "Write to <EMAIL_ADDRESS> today"


def redact_one_key(processor, key: str, text: str) -> dict:
    return attrs_of(run(processor, Signal.TRACES, span_request(**{key: text})))


def test_json_keys_that_hold_personal_data_are_redacted(patterns_analyzer):
    """A tool that keys its result by e-mail address: the key is replaced, order and values
    kept; plain identifier keys are never analyzed."""
    counting = CountingAnalyzer(patterns_analyzer)
    tool = json.dumps({"ana.souza@example.org": 120.5, "total": 3, "+49 30 1234567": "ok"})
    msgs = json.dumps([{"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                                   "response": tool}]}])
    out = attrs_of(run(make(counting), Signal.TRACES,
                       span_request(**{"gen_ai.input.messages": msgs})))
    inner = json.loads(json.loads(out["gen_ai.input.messages"])[0]["parts"][0]["response"])
    assert list(inner.items()) == [("<EMAIL_ADDRESS>", 120.5), ("total", 3),
                                   ("<PHONE_NUMBER>", "ok")]
    assert "total" not in counting.seen and "role" not in counting.seen


def test_numbers_and_utf8_bytes_in_content_are_scanned(patterns_analyzer):
    """Content sent as an integer, as UTF-8 bytes or as a JSON number is scanned like text;
    a redacted one becomes the replacement string; small numbers and binary bytes stay."""
    tool = json.dumps({"card": 4111111111111111, "ssn": 123456789, "tokens": 42})
    request = otlpjson.from_dict(Signal.TRACES, {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7",
        "name": "chat", "attributes": [
            {"key": "gen_ai.prompt", "value": {"intValue": "4111111111111111"}},
            {"key": "gen_ai.completion", "value": {"bytesValue": "bWFpbCBhbmFAZXhhbXBsZS5vcmc="}},
            {"key": "input.value", "value": {"bytesValue": "/9j/4AAQSkZJRg=="}},
            {"key": "output.value", "value": {"stringValue": tool}}]}]}]}]})
    out = run(make(patterns_analyzer), Signal.TRACES, request)
    attrs = {kv.key: kv.value for kv in out.resource_spans[0].scope_spans[0].spans[0].attributes}
    assert attrs["gen_ai.prompt"].string_value == "<CREDIT_CARD>"
    assert attrs["gen_ai.completion"].string_value == "mail <EMAIL_ADDRESS>"
    assert attrs["input.value"].bytes_value == b"\xff\xd8\xff\xe0\x00\x10JFIF"
    assert json.loads(attrs["output.value"].string_value) == {
        "card": "<CREDIT_CARD>", "ssn": "<US_SSN>", "tokens": 42}


def test_structural_fields_holding_more_than_a_token_are_scanned(patterns_analyzer):
    """role / type / mime_type are skipped when they hold the usual token; anything else in
    them (an e-mail address smuggled into "type") gets the pattern engine."""
    msgs = json.dumps([{"role": "user", "parts": [
        {"type": "text", "content": "hi"},
        {"type": "note for ana.souza@example.org", "content": "ok"},
        {"type": "blob", "mime_type": "image/png", "content": "x"}]}])
    out = attrs_of(run(make(patterns_analyzer), Signal.TRACES,
                       span_request(**{"gen_ai.input.messages": msgs})))
    parts = json.loads(out["gen_ai.input.messages"])[0]["parts"]
    assert [p["type"] for p in parts] == ["text", "note for <EMAIL_ADDRESS>", "blob"]
    assert parts[2]["mime_type"] == "image/png"


def test_the_main_process_never_loads_the_nlp_stack():
    """The processor, its walker and operators import neither Presidio nor spaCy nor numpy:
    those load in the worker processes only (in the main process they cost NER throughput)."""
    import subprocess
    import sys

    code = ("import sys, processors.redaction, processors.redaction.content, sidecar.cli; "
            "print(sorted(m for m in ('presidio_analyzer', 'spacy', 'numpy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "[]", out
