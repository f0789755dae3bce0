"""Which telemetry is GenAI telemetry: the sidecar's test and the collector's routing conditions.

`sidecar.semconv` holds the definition (key prefixes, exact keys, content event names, the
Bedrock invocation log marker). This module turns it into

* `is_genai_key` / `has_genai_key` / `is_genai_log`: the sidecar's own classification (log
  records whose bodies get the full engine by default, processors/redaction);
* `ottl_span_condition` / `ottl_log_condition`: the OTTL conditions of the shipped collector
  configs' ``filter/genai`` and ``filter/not_genai`` processors, which send GenAI telemetry
  to the sidecar and everything else straight to the backends. tests/unit/genai/test_routing.py
  checks that every shipped config carries exactly these conditions, and
  tests/integration/test_routing.py runs them in the real collector.

The OTTL form tests the JSON array of the attribute keys (``Keys(attributes)``) with one regular
expression: in that text every key is a quoted string, so ``"gen_ai.`` matches a key that starts
with ``gen_ai.`` and ``"input.value"`` the exact key, never a value.
"""

from __future__ import annotations

import re
from typing import Any

from sidecar import semconv as sc

_PREFIX_ALT = "|".join(re.escape(p) for p in sc.GENAI_ROUTE_KEY_PREFIXES)
_EXACT_ALT = "|".join(re.escape(k) for k in sorted(sc.GENAI_ROUTE_KEYS))
_EVENTS_ALT = "|".join(re.escape(n) for n in sorted(sc.GENAI_CONTENT_EVENT_NAMES))

_PREFIXES = sc.GENAI_ROUTE_KEY_PREFIXES
_EXACT = sc.GENAI_ROUTE_KEYS
_EVENTS = sc.GENAI_CONTENT_EVENT_NAMES
_BEDROCK = re.compile(r'"schemaType"\s*:\s*"' + sc.BEDROCK_INVOCATION_LOG_SCHEMA + '"')


def is_genai_key(key: str) -> bool:
    """``key`` marks its span or log record as GenAI."""
    return key in _EXACT or key.startswith(_PREFIXES)


def has_genai_key(attributes: Any) -> bool:
    """One of the (protobuf KeyValue) ``attributes`` is a GenAI key."""
    for kv in attributes:
        key = kv.key
        if key in _EXACT or key.startswith(_PREFIXES):
            return True
    return False


def is_genai_log(lr: Any) -> bool:
    """A GenAI log record: a content event (by ``event_name`` or the ``event.name``
    attribute), a record with a GenAI attribute key, or a Bedrock invocation log."""
    if lr.event_name in _EVENTS:
        return True
    for kv in lr.attributes:
        key = kv.key
        if key in _EXACT or key.startswith(_PREFIXES):
            return True
        if key == "event.name" and kv.value.string_value in _EVENTS:
            return True
    body = lr.body
    kind = body.WhichOneof("value")
    if kind == "string_value":
        text = body.string_value
        return sc.BEDROCK_INVOCATION_LOG_SCHEMA in text and _BEDROCK.search(text) is not None
    if kind == "kvlist_value":
        for kv in body.kvlist_value.values:
            if kv.key == "schemaType":
                return kv.value.string_value == sc.BEDROCK_INVOCATION_LOG_SCHEMA
    return False


#: Protobuf tags (field number << 3 | LEN) a GenAI marker follows in serialized OTLP: a
#: KeyValue key and an AnyValue string (field 1), a span event name (field 2), a log record's
#: event_name (field 12). Then the length as a varint of one or two bytes.
_WIRE_HEAD = rb"[\x0a\x12\x62][\x80-\xff]?[\x00-\x7f]"


def wire_pattern(keys: tuple[str, ...] = (), names: tuple[str, ...] = ()) -> re.Pattern[bytes]:
    """A regular expression over serialized OTLP that matches every span, log record, scope
    or request holding GenAI telemetry (plus ``keys`` / event ``names``): a key or string that
    starts with a GenAI prefix or exact key, a GenAI event name, a Bedrock invocation log.

    A superset by construction (a string *value* starting with ``gen_ai.`` matches too): the
    processors' wire prefilter (`sidecar.component.Processor.interest`). What does not match
    is nothing for them and costs a byte scan at C speed, not a walk of its attributes.
    """
    alts = sorted({*sc.GENAI_ROUTE_KEY_PREFIXES, *sc.GENAI_ROUTE_KEYS,
                   *sc.GENAI_CONTENT_EVENT_NAMES, *keys, *names})
    body = b"|".join(re.escape(a.encode("utf-8")) for a in alts)
    return re.compile(_WIRE_HEAD + b"(?:" + body + b")|"
                      + sc.BEDROCK_INVOCATION_LOG_SCHEMA.encode("ascii"))


#: The default: every processor that acts only on GenAI telemetry.
WIRE = wire_pattern()


def _ottl_string(text: str) -> str:
    """``text`` as an OTTL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _keys_regex() -> str:
    return f'"(?:{_PREFIX_ALT}|(?:{_EXACT_ALT})")'


def ottl_span_condition() -> str:
    """True for a GenAI span (OTTL, span context)."""
    return f"IsMatch(Keys(attributes), {_ottl_string(_keys_regex())})"


def ottl_log_condition() -> str:
    """True for a GenAI log record (OTTL, log context)."""
    events = _ottl_string(f"^(?:{_EVENTS_ALT})$")
    bedrock = _ottl_string(_BEDROCK.pattern)
    return (
        f"IsMatch(Keys(attributes), {_ottl_string(_keys_regex())})"
        f" or IsMatch(event_name, {events})"
        f' or IsMatch(attributes["event.name"], {events})'
        f" or IsMatch(body, {bedrock})"
    )


def filter_processors() -> dict[str, Any]:
    """The two filter processors of the shipped collector configs (stock ``filter``, which
    drops an item when a condition is true): ``filter/genai`` keeps GenAI telemetry (the
    pipelines to the sidecar), ``filter/not_genai`` keeps the rest (the pipelines straight to
    the backends). Fed by the same receiver, each item reaches exactly one of them."""
    span, log = ottl_span_condition(), ottl_log_condition()
    return {
        "filter/genai": {
            "error_mode": "ignore",
            "traces": {"span": [f"not ({span})"]},
            "logs": {"log_record": [f"not ({log})"]},
        },
        "filter/not_genai": {
            "error_mode": "ignore",
            "traces": {"span": [span]},
            "logs": {"log_record": [log]},
        },
    }


def main() -> None:
    """Print `filter_processors` as YAML: collector-config/genai-routing.yaml (the chart's
    copy, a link) is this output; collector-config/stack.yaml and local.yaml carry it inline."""
    import yaml

    print("# Generated by `python -m processors.genai.routing` from sidecar/semconv.py; "
          "do not edit.")
    print(yaml.safe_dump(filter_processors(), sort_keys=True, width=10_000), end="")


if __name__ == "__main__":
    main()
