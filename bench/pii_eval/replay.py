"""Replay of real instrumentation libraries: labelled personal data that survives redaction.

The recall figures of ``python -m bench.pii_eval`` score the analyzer on bare texts. What
reaches a backend, though, is the telemetry an instrumentation library writes: the prompt and
the answer inside JSON documents, indexed attributes, log event bodies, whole request dumps.
This evaluation measures that path end to end, per library:

1. a deterministic sample of labelled test cases (`sample`) is sent, one chat call per case,
   through the openai SDK instrumented by a real library, against the fake LLM server in echo
   mode (the answer quotes the prompt, so completions carry the personal data too);
2. each library runs in its own child process (instrumentors of one SDK do not stack) with
   in-memory exporters, and writes its spans and log records as OTLP protobuf requests;
3. the parent runs every request through the redaction processor (default detection config;
   overload policy ``wait`` so that nothing is withheld for lack of time, which would hide
   leaks) and collects, per case (its trace), every string of the output: span names, status
   messages, span / event / log attributes and log bodies (nested arrays and kvlists
   included), and every key and string inside those that parse as JSON;
4. a labelled value *leaks* if it occurs verbatim in one of those strings. For names and street
   addresses a *leaked word* is also counted: a word of 3+ letters of the value found as a
   whole word (this over-counts when the word is also elsewhere in the case's text). Values
   the library never captured (absent before redaction) are *not captured*, not scored.

Run: ``python -m bench.pii_eval.replay [--cases N] [--record]``. The table goes to stdout (and
with ``--record`` into docs/PERFORMANCE.md); leaked values go to stderr only.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

from bench.pii_eval import score

ROOT = Path(__file__).resolve().parents[2]
#: Library variant -> what it captures (for the report).
LIBRARIES = {
    "openai-v2": "opentelemetry-instrumentation-openai-v2, latest GenAI conventions, content "
                 "on spans and as log events",
    "openllmetry": "Traceloop opentelemetry-instrumentation-openai, content as span attributes",
    "openllmetry-events": "the same with use_attributes=False: content as gen_ai.* log events",
    "openinference": "Arize openinference-instrumentation-openai, llm.* and input/output.value",
}
MAX_TEXT = 6000
#: Types for which a left-over word counts (a surname alone still identifies).
WORD_TYPES = ("PERSON", "STREET_ADDRESS")
WITHHELD = ("[REDACTION_DEFERRED]", "[REDACTION_FAILED]")
SYSTEM = "You are a support assistant."


def sample(n: int) -> list[score.Case]:
    """The first ``n`` labelled test cases of at most MAX_TEXT characters, by sha256 of id."""
    cases = [c for c in score.load(split=score.TEST) if c.pii and len(c.text) <= MAX_TEXT]
    cases.sort(key=lambda c: hashlib.sha256(c.id.encode()).hexdigest())
    return cases[:n]


# --------------------------------------------------------------------------------------------
# Child: one library, in-memory exporters, OTLP requests to files
# --------------------------------------------------------------------------------------------
def _instrument(library: str, tracer_provider, logger_provider) -> None:
    if library == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider,
                                        logger_provider=logger_provider)
    elif library in ("openllmetry", "openllmetry-events"):
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor(use_attributes=library == "openllmetry").instrument(
            tracer_provider=tracer_provider, logger_provider=logger_provider)
    elif library == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    else:
        raise SystemExit(f"unknown library {library!r}; choose from {', '.join(LIBRARIES)}")


def _child(library: str, tmp: Path) -> None:
    """Make one chat call per case of ``tmp/cases.json``; write ``LIBRARY.{traces,logs}.pb``
    (OTLP export requests) and ``LIBRARY.ids.json`` (case id -> trace id, hex)."""
    # Content capture switches, read by the instrumentations at instrument() time.
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_and_event"
    os.environ["TRACELOOP_TRACE_CONTENT"] = "true"

    import openai
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tests.e2e.fake_llm import FakeLLM

    resource = Resource.create({"service.name": f"pii-replay-{library}"})
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    _instrument(library, tracer_provider, logger_provider)

    ids: dict[str, str] = {}
    with FakeLLM(echo=True) as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key="sk-replay-not-a-real-key",
                               max_retries=0)
        for case in json.loads((tmp / "cases.json").read_text("utf-8")):
            done = len(spans.get_finished_spans())
            client.chat.completions.create(model="gpt-4o-mini", messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": case["text"]}])
            new = {f"{s.context.trace_id:032x}" for s in spans.get_finished_spans()[done:]}
            if len(new) != 1:
                raise SystemExit(f"{library}: case {case['id']} made {len(new)} traces")
            ids[case["id"]] = new.pop()
    tracer_provider.force_flush()
    logger_provider.force_flush()
    (tmp / f"{library}.traces.pb").write_bytes(
        encode_spans(spans.get_finished_spans()).SerializeToString())
    (tmp / f"{library}.logs.pb").write_bytes(
        encode_logs(logs.get_finished_logs()).SerializeToString())
    (tmp / f"{library}.ids.json").write_text(json.dumps(ids), "utf-8")


# --------------------------------------------------------------------------------------------
# Parent: strings per trace, before and after redaction
# --------------------------------------------------------------------------------------------
Strings = dict[str, list[tuple[str, str]]]  # trace id (hex) -> [(where, text)]


def _expand(text: str) -> Iterator[str]:
    """``text`` and, if it is a JSON object or array, every key and string inside it (JSON
    strings that are JSON themselves included)."""
    yield text
    if text.lstrip()[:1] not in ("{", "["):
        return
    try:
        doc = json.loads(text)
    except ValueError:
        return
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield from _expand(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _value_strings(value) -> Iterator[str]:
    """Every string of an OTLP AnyValue (arrays and kvlists, keys included)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        yield value.string_value
    elif kind == "bytes_value":
        yield value.bytes_value.decode("utf-8", "replace")
    elif kind == "array_value":
        for item in value.array_value.values:
            yield from _value_strings(item)
    elif kind == "kvlist_value":
        for kv in value.kvlist_value.values:
            yield kv.key
            yield from _value_strings(kv.value)


def _attributes(where: str, attributes) -> Iterator[tuple[str, str]]:
    for kv in attributes:
        for text in _value_strings(kv.value):
            yield f"{where} {kv.key}", text


def _collect(traces, logs) -> Strings:
    """The strings of the requests, per trace, each with where it was found."""
    out: Strings = defaultdict(list)

    def add(trace_id: bytes, found: Iterator[tuple[str, str]]) -> None:
        out[trace_id.hex()].extend((w, s) for w, text in found for s in _expand(text))

    for rs in traces.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                add(span.trace_id, iter([("span name", span.name),
                                         ("status message", span.status.message)]))
                add(span.trace_id, _attributes("span attribute", span.attributes))
                for event in span.events:
                    add(span.trace_id, _attributes(f"event {event.name}", event.attributes))
    for rl in logs.resource_logs:
        for sl in rl.scope_logs:
            for record in sl.log_records:
                name = record.event_name or "log"
                body = _value_strings(record.body)
                add(record.trace_id, ((f"{name} body", s) for s in body))
                add(record.trace_id, _attributes(f"{name} attribute", record.attributes))
    return out


def _words(value: str) -> list[str]:
    """Words of 3+ letters of a value (split on whitespace and punctuation)."""
    return [w for w in re.split(r"[\W_]+", value) if sum(ch.isalpha() for ch in w) >= 3]


def _has_word(word: str, strings: list[tuple[str, str]]) -> list[str]:
    pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
    return [w for w, s in strings if pattern.search(s)]


def _capture(library: str, cases: list[score.Case], tmp: Path):
    """Run the child for ``library``; its OTLP requests and case id -> trace id."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    (tmp / "cases.json").write_text(
        json.dumps([{"id": c.id, "text": c.text} for c in cases]), "utf-8")
    subprocess.run([sys.executable, "-m", "bench.pii_eval.replay", "--child", library,
                    "--tmp", str(tmp)], cwd=ROOT, check=True)
    traces = ExportTraceServiceRequest.FromString((tmp / f"{library}.traces.pb").read_bytes())
    logs = ExportLogsServiceRequest.FromString((tmp / f"{library}.logs.pb").read_bytes())
    return traces, logs, json.loads((tmp / f"{library}.ids.json").read_text("utf-8"))


def _bare(analyzer, case: score.Case, start: int, end: int) -> str:
    """Whether the analyzer removes the value from the case's bare text (as the recall
    figures count it): tells a recognizer miss from one the telemetry format causes."""
    covered = set()
    for s, e, *_ in analyzer.analyze([case.text], [False])[0]:
        covered.update(range(s, e))
    removed = all(i in covered for i in range(start, end) if case.text[i].isalnum())
    return "removed from the bare text" if removed else "also missed on the bare text"


def _score(cases: list[score.Case], ids: dict[str, str], before: Strings, after: Strings,
           analyzer) -> dict:
    """Counts of one library; leaks go to the returned lists (for stderr only)."""
    row = {"captured": 0, "leaked": 0, "words": 0, "not_captured": 0, "withheld": 0,
           "types": Counter(), "leaks": [], "word_leaks": []}
    for case in cases:
        pre, post = before.get(ids[case.id], []), after.get(ids[case.id], [])
        row["withheld"] += sum(any(m in s for m in WITHHELD) for _, s in post)
        for start, end, kind in case.pii:
            value = case.text[start:end]
            if not any(value in s for _, s in pre):
                row["not_captured"] += 1
                continue
            row["captured"] += 1
            where = sorted({w for w, s in post if value in s})
            if where:
                row["leaked"] += 1
                row["types"][kind] += 1
                row["leaks"].append((kind, value, case.id, where,
                                     _bare(analyzer, case, start, end)))
            elif kind in WORD_TYPES:
                left = {w: _has_word(w, post) for w in _words(value)}
                left = {w: sorted(set(found)) for w, found in left.items() if found}
                if left:
                    row["words"] += 1
                    row["word_leaks"].append((kind, value, case.id, left,
                                              _bare(analyzer, case, start, end)))
    return row


def run(cases: int = 60) -> str:
    """Capture, redact and score every library variant; the Markdown section."""
    from processors.redaction import RedactionConfig, create
    from processors.redaction.engine import Analyzer, EngineSpec
    from sidecar.component import BatchContext, Signal

    t0 = time.monotonic()
    chosen = sample(cases)
    config = RedactionConfig.model_validate({"overload": {"policy": "wait"}})
    analyzer = Analyzer(EngineSpec.from_config(config))
    proc = create(config, analyzer=analyzer)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="pii-replay-") as tmp:
        for library in LIBRARIES:
            print(f"== {library}: capturing {len(chosen)} calls", file=sys.stderr, flush=True)
            traces, logs, ids = _capture(library, chosen, Path(tmp))
            before = _collect(traces, logs)
            asyncio.run(proc.process(traces, BatchContext(Signal.TRACES)))
            asyncio.run(proc.process(logs, BatchContext(Signal.LOGS)))
            rows[library] = _score(chosen, ids, before, _collect(traces, logs), analyzer)
    elapsed = time.monotonic() - t0
    _diagnose(rows)
    return _render(rows, len(chosen), elapsed)


def _diagnose(rows: dict[str, dict]) -> None:
    """Leaked values, where they were found: stderr only, never into the docs."""
    for library, row in rows.items():
        for kind, value, case_id, where, bare in row["leaks"][:10]:
            print(f"LEAK {library} {kind} {value!r} ({case_id}; {bare}) in "
                  f"{', '.join(where)}", file=sys.stderr)
        for kind, value, case_id, left, bare in row["word_leaks"][:10]:
            found = "; ".join(f"{w!r} in {', '.join(ws)}" for w, ws in left.items())
            print(f"WORD {library} {kind} {value!r} ({case_id}; {bare}): {found}",
                  file=sys.stderr)


def _render(rows: dict[str, dict], n: int, elapsed: float) -> str:
    kinds = sorted({k for row in rows.values() for k in row["types"]})
    lines = [
        "### Replay of real instrumentation libraries", "",
        f"`python -m bench.pii_eval.replay --cases {n}`, {datetime.date.today().isoformat()}, "
        f"{elapsed:.0f} s. {n} labelled test cases (first by sha256 of id, at most "
        f"{MAX_TEXT} characters), one chat call each through the openai SDK instrumented by "
        "each library, against the fake LLM in echo mode (the answer quotes the prompt); the "
        "captured spans and log records, as OTLP requests, through the redaction processor "
        "(default detection config, overload policy wait). A value *leaks* if it is found "
        "verbatim in any string of its trace after redaction (attributes, event and log "
        "bodies, and the strings inside JSON); *leaked words*: names and addresses with a "
        "word of 3+ letters left as a whole word. Values absent before redaction are *not "
        "captured*. Withheld: strings replaced by a deferred/failed marker.", "",
        "| library | cases | labelled values captured | leaked (exact) | "
        "leaked words (names/addresses) | not captured | withheld |",
        "|---|---|---|---|---|---|---|",
    ]
    for library, row in rows.items():
        lines.append(f"| {library} | {n} | {row['captured']} | {row['leaked']} | "
                     f"{row['words']} | {row['not_captured']} | {row['withheld']} |")
    lines += ["", "Exact leaks per type:", ""]
    if kinds:
        lines += ["| type | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
        lines += [f"| {k} | " + " | ".join(str(r["types"][k]) for r in rows.values()) + " |"
                  for k in kinds]
    else:
        lines.append("none.")
    lines += ["", "Libraries: " + "; ".join(f"{k}: {v}" for k, v in LIBRARIES.items()) + ".",
              "", "OpenLIT: not covered (not installed in the lock)"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pii_eval.replay",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=60, help="labelled cases to replay")
    parser.add_argument("--record", action="store_true",
                        help="write the section into docs/PERFORMANCE.md")
    parser.add_argument("--child", choices=list(LIBRARIES), help=argparse.SUPPRESS)
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.tmp is None:
            parser.error("--child needs --tmp")
        _child(args.child, args.tmp)
        return 0
    section = run(args.cases)
    print(section)
    if args.record:
        from bench.__main__ import record

        record("pii-replay", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
