"""Find content in spans and log records and put the redacted text back.

Phase one (`ContentWalker.collect`) visits a batch and returns one `Record` per span or log
record that holds content, each with its `Leaf` texts: plain string attributes, every string
leaf of a JSON-string attribute (parsed, so escaped non-ASCII such as ``Th\\u00e9r\\u00e8se``
is seen as ``Thérèse``; a JSON string inside a leaf, like tool call arguments, is parsed in
turn), every string leaf of structured AnyValues (kvlist / array) in attributes, span events
and log bodies. Phase two (`Record.apply`) writes the results back: leaves first, then JSON
values are re-serialized with the same structure, then the summary attributes.

Nothing here analyzes text and nothing is logged; values over the size caps become failed
leaves without being looked at. A JSON member whose key names personal data and whose value
has that data's shape (``"full_name": "Ana Souza"``, rules/personal_keys.yaml) is marked with
its entity: the processor replaces it whole, since the key is not in the text the analyzer
would see.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from processors.genai.routing import is_genai_log, wire_pattern
from processors.redaction.config import LogBodies, OtherLogBodies, RedactionConfig
from processors.redaction.keys import KeyedValues
from processors.redaction.operators import FAILED, Redacted
from sidecar import semconv

#: Keys inside messages whose values are structure, not content.
_STRUCTURAL_KEYS = frozenset({"role", "type", "finish_reason", "mime_type", "modality"})
_SUMMARY_KEYS = frozenset({semconv.REDACTION_COUNT, semconv.REDACTION_TYPES,
                           semconv.REDACTION_STATUS, semconv.REDACTION_KEY_ID})
_MAX_JSON_DEPTH = 4
#: Integers (attribute values, JSON numbers) this large or larger are scanned as text: seven
#: digits and more can be a phone, account, card or social security number.
_NUMBER_FLOOR = 1_000_000
#: orjson reads an integer beyond 64 bits as a float at least this large.
_BIG_FLOAT = float(2**63)
_KEY_MEMO_LIMIT = 8192
#: The default ``content.key_patterns`` (indexed keys under the GenAI prefixes): covered by
#: the GenAI wire pattern; any other pattern makes the processor look at everything.
_DEFAULT_KEY_PATTERNS = frozenset(re.escape(p) + ".+" for p in semconv.GENAI_CONTENT_KEY_PREFIXES)


class Status:
    CLEAN = "clean"
    REDACTED = "redacted"
    FAILED = "failed"
    #: Some content withheld unanalyzed (overload); the rest redacted as usual.
    DEFERRED = "deferred"


#: `Leaf.slot` of a leaf that is an AnyValue's ``string_value``.
_ANY_VALUE = object()


@dataclass(slots=True)
class Leaf:
    """One text to analyze and where its replacement goes: ``holder.string_value`` (an
    AnyValue) or ``holder[slot]`` (a dict or list of a parsed JSON value, whose ``dirty``
    flag is then raised so that it is re-serialized)."""

    text: str
    patterns_only: bool
    holder: Any
    slot: Any = _ANY_VALUE
    dirty: list[bool] | None = None
    #: Decided without analysis (over the size cap).
    forced: Redacted | None = None
    #: A JSON member under a personal-data key with the value shape of this entity: replaced
    #: whole, without analysis (`rulesets.KeyedValues`).
    entity: str | None = None

    def set(self, text: str) -> None:
        if self.slot is _ANY_VALUE:
            self.holder.string_value = text
        else:
            self.holder[self.slot] = text
            self.dirty[0] = True  # type: ignore[index]


@dataclass(slots=True)
class Record:
    """One span or log record with content."""

    attributes: Any  # the repeated KeyValue field that receives the summary
    leaves: list[Leaf] = field(default_factory=list)
    #: Re-serializers of JSON values, innermost first.
    finalizers: list[Callable[[], None]] = field(default_factory=list)
    #: ``attributes`` already hold summary keys (from an earlier pass) to be replaced.
    summarized: bool = False

    def apply(self, results: dict[tuple[str, bool], Redacted], key_id: str | None) -> Redacted:
        """Write replacements and the summary; returns the record's total (text unused)."""
        count = 0
        types: set[str] = set()
        failed = pseudo = deferred = False
        for leaf in self.leaves:
            r = leaf.forced or results.get((leaf.text, leaf.patterns_only), FAILED)
            if r.failed:
                failed = True
            elif r.deferred:
                deferred = True
                leaf.set(r.text)
                continue
            elif r.count:
                count += r.count
                types.update(r.types)
                pseudo = pseudo or r.pseudonymized
            if r.failed or r.count:
                leaf.set(r.text)
        for fin in self.finalizers:
            fin()
        status = (Status.FAILED if failed else Status.DEFERRED if deferred
                  else Status.REDACTED if count else Status.CLEAN)
        _set_summary(self.attributes, count, sorted(types), status,
                     key_id if pseudo else None, self.summarized)
        return Redacted("", count, frozenset(types), failed=failed,
                        deferred=deferred and not failed)


def _set_summary(attrs, count: int, types: list[str], status: str, key_id: str | None,
                 replace: bool) -> None:
    if replace:
        kept = [kv for kv in attrs if kv.key not in _SUMMARY_KEYS]
        del attrs[:]
        attrs.extend(kept)
    kv = attrs.add()
    kv.key = semconv.REDACTION_COUNT
    kv.value.int_value = count
    kv = attrs.add()
    kv.key = semconv.REDACTION_TYPES
    kv.value.array_value.SetInParent()  # an empty array when there are no types
    values = kv.value.array_value.values
    for t in types:
        values.add().string_value = t
    kv = attrs.add()
    kv.key = semconv.REDACTION_STATUS
    kv.value.string_value = status
    if key_id:
        kv = attrs.add()
        kv.key = semconv.REDACTION_KEY_ID
        kv.value.string_value = key_id


class _Key:
    """A key of a parsed JSON object as a `Leaf` holder: setting it renames the key in place,
    keeping the members' order (``holder[old] = new``)."""

    __slots__ = ("_node",)

    def __init__(self, node: dict) -> None:
        self._node = node

    def __setitem__(self, old: str, new: str) -> None:
        node = self._node
        if new in node and new != old:
            new = f"{new}#{len(node)}"  # two keys redacted alike stay two members
        items = [(new if k == old else k, v) for k, v in node.items()]
        node.clear()
        node.update(items)


_ENUM = re.compile(r"[A-Za-z][A-Za-z0-9_.+/-]{0,63}")


def _plain_enum(value: str) -> bool:
    """A structural field's usual value: one short token (user, tool_call, image/png)."""
    return _ENUM.fullmatch(value) is not None


#: A JSON key worth scanning has an @, a digit or a space (an e-mail, a phone number or a
#: name used as a key); plain identifiers like "role" or "total" are not scanned.
_KEY_MAY_HOLD_DATA = re.compile(r"[@\d ]").search


class _Field:
    """A protobuf message's string field as a `Leaf` holder: ``holder[name] = text``."""

    __slots__ = ("_message",)

    def __init__(self, message: Any) -> None:
        self._message = message

    def __setitem__(self, name: str, text: str) -> None:
        setattr(self._message, name, text)


class KeyMatcher:
    """Is an attribute key a content key? Exact keys plus precompiled patterns, memoized."""

    def __init__(self, keys: Iterable[str], patterns: Iterable[str]) -> None:
        self._exact = frozenset(keys)
        pats = list(patterns)
        self._rx = re.compile("|".join(f"(?:{p})" for p in pats)) if pats else None
        self._memo: dict[str, bool] = {}

    def __call__(self, key: str) -> bool:
        hit = self._memo.get(key)
        if hit is None:
            hit = key in self._exact or bool(self._rx is not None and self._rx.fullmatch(key))
            if len(self._memo) >= _KEY_MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = hit
        return hit


class ContentWalker:
    """Collects the content of a traces or logs request. Built once from config."""

    def __init__(self, config: RedactionConfig) -> None:
        c = config.content
        self._config = config
        self._is_content_key = KeyMatcher(c.keys, c.key_patterns)
        self._event_names = frozenset(c.event_names)
        self._log_bodies = c.log_bodies
        self._other_bodies_patterns = c.other_log_bodies is OtherLogBodies.PATTERNS
        self._scan_all = c.scan_all_attributes
        self._max_text = config.limits.max_text_chars
        self._max_value = config.limits.max_value_chars
        self._keyed = KeyedValues(frozenset(config.enabled_entities()))

    # -- entry points ---------------------------------------------------------------------
    def collect_traces(self, request: Any) -> list[Record]:
        return list(self.iter_traces(request))

    def collect_logs(self, request: Any) -> list[Record]:
        return list(self.iter_logs(request))

    def interest(self) -> re.Pattern[bytes] | None:
        """What this configuration looks at, over serialized OTLP (`Processor.interest`):
        GenAI telemetry plus any content keys and event names of its own; None when it also
        scans other items (``scan_all_attributes``, every log body, key patterns of its own)."""
        c = self._config.content
        if (c.scan_all_attributes or c.log_bodies is LogBodies.ALL
                or self._other_bodies_patterns
                or set(c.key_patterns) - _DEFAULT_KEY_PATTERNS):
            return None
        return wire_pattern(tuple(set(c.keys) - semconv.GENAI_CONTENT_KEYS),
                            tuple(set(c.event_names) - semconv.GENAI_CONTENT_EVENT_NAMES))

    def iter_traces(self, request: Any,
                    scopes: list[tuple[Any, Any]] | None = None) -> Iterator[Record]:
        """The spans with content, one `Record` each, in request order (of ``scopes`` only,
        when given: `BatchContext.scopes`)."""
        pairs = scopes if scopes is not None else (
            (rs, ss) for rs in request.resource_spans for ss in rs.scope_spans)
        for _rs, ss in pairs:
            for span in ss.spans:
                attrs = span.attributes
                rec = Record(attrs)
                self._attributes(rec, attrs, content_event=False, own=True)
                genai = bool(rec.leaves)
                for event in span.events:
                    self._attributes(rec, event.attributes, content_event=(
                        event.name in self._event_names
                        or (genai and event.name == semconv.EVENT_EXCEPTION)))
                if genai and span.status.message:
                    # The status message of a span with content (an LLM call's error
                    # often quotes its input).
                    self._string(rec, span.status.message, _Field(span.status),
                                 "message", [False], patterns_only=False, depth=0)
                if rec.leaves:
                    yield rec

    def iter_logs(self, request: Any,
                  scopes: list[tuple[Any, Any]] | None = None) -> Iterator[Record]:
        """The log records with content, one `Record` each, in request order (of ``scopes``
        only, when given)."""
        pairs = scopes if scopes is not None else (
            (rl, sl) for rl in request.resource_logs for sl in rl.scope_logs)
        for _rl, sl in pairs:
            for lr in sl.log_records:
                attrs = lr.attributes
                rec = Record(attrs)
                event = self._is_content_event(lr)
                self._attributes(rec, attrs, content_event=event, own=True)
                if lr.HasField("body"):
                    full = self._log_bodies is LogBodies.ALL or (
                        self._log_bodies is LogBodies.GENAI_EVENTS
                        and (event or is_genai_log(lr)))
                    if full or self._scan_all or self._other_bodies_patterns:
                        self._any_value(rec, lr.body, patterns_only=not full, depth=0)
                if rec.leaves:
                    yield rec

    # -- visitors -------------------------------------------------------------------------
    def _is_content_event(self, lr: Any) -> bool:
        if lr.event_name in self._event_names:
            return True
        for kv in lr.attributes:
            if kv.key == "event.name":
                return kv.value.string_value in self._event_names
        return False

    def _attributes(self, rec: Record, attrs: Any, content_event: bool,
                    own: bool = False) -> None:
        """``own``: ``attrs`` are the record's attributes (which receive the summary)."""
        for kv in attrs:
            key = kv.key
            if key in _SUMMARY_KEYS:
                if own:
                    rec.summarized = True
                continue
            if self._is_content_key(key) or (
                content_event and key not in semconv.REDACTION_METADATA_KEYS
            ):
                self._any_value(rec, kv.value, patterns_only=False, depth=0)
            elif self._scan_all:
                self._any_value(rec, kv.value, patterns_only=True, depth=0)

    def _any_value(self, rec: Record, av: Any, patterns_only: bool, depth: int) -> None:
        kind = av.WhichOneof("value")
        if kind == "string_value":
            self._string(rec, av.string_value, av, _ANY_VALUE, None, patterns_only, depth)
        elif kind == "int_value":
            # A card, phone or account number sent as an integer (a redacted one becomes
            # the replacement string).
            if abs(av.int_value) >= _NUMBER_FLOOR:
                rec.leaves.append(Leaf(str(av.int_value), patterns_only, av))
        elif kind == "bytes_value":
            # Bytes that are UTF-8 text are text (else they are left as they are: an image,
            # a protobuf); a redacted value becomes the replacement string.
            try:
                text = av.bytes_value.decode("utf-8")
            except UnicodeDecodeError:
                return
            head = text[:4096]
            if head and sum(c.isprintable() or c in "\n\r\t" for c in head) >= 0.95 * len(head):
                self._string(rec, text, av, _ANY_VALUE, None, patterns_only, depth)
        elif kind == "array_value":
            for v in av.array_value.values:
                self._any_value(rec, v, patterns_only, depth)
        elif kind == "kvlist_value":
            for kv in av.kvlist_value.values:
                if kv.key not in _STRUCTURAL_KEYS:
                    self._any_value(rec, kv.value, patterns_only, depth)
                elif not _plain_enum(kv.value.string_value):
                    self._any_value(rec, kv.value, True, depth)

    def _string(self, rec: Record, text: str, holder: Any, slot: Any,
                dirty: list[bool] | None, patterns_only: bool, depth: int) -> None:
        if not text or text.isspace():
            return
        if len(text) > self._max_value:
            rec.leaves.append(Leaf("", patterns_only, holder, slot, dirty, forced=FAILED))
            return
        head = text.lstrip()[:1]
        if (head == "{" or head == "[") and depth < _MAX_JSON_DEPTH:
            obj, exact = _parse_json(text)
            if type(obj) is dict or type(obj) is list:
                inner = [False]
                mark = (len(rec.leaves), len(rec.finalizers))
                if not self._json(rec, obj, patterns_only, depth + 1, inner) and exact:
                    # orjson read an integer beyond 64 bits as a float: undo, use the stdlib.
                    del rec.leaves[mark[0]:], rec.finalizers[mark[1]:]
                    obj, exact = json.loads(text), False
                    self._json(rec, obj, patterns_only, depth + 1, inner)
                outer = Leaf("", patterns_only, holder, slot, dirty)
                rec.finalizers.append(functools.partial(_reserialize, obj, outer, inner, exact,
                                                        text))
                return
        if len(text) > self._max_text:
            rec.leaves.append(Leaf("", patterns_only, holder, slot, dirty, forced=FAILED))
            return
        rec.leaves.append(Leaf(text, patterns_only, holder, slot, dirty))

    def _json(self, rec: Record, root: Any, patterns_only: bool, depth: int,
              dirty: list[bool]) -> bool:
        """Collect the string leaves of a parsed JSON value, in document order. Returns False
        if it holds a float beyond +-2**63 (orjson's reading of a larger integer)."""
        # Parsed JSON holds exact dicts, lists and strs: type() checks are enough. Strings that
        # are plain text under the caps become leaves here; the others go through _string.
        leaves = rec.leaves
        max_text = self._max_text
        exact = True
        stack = [iter(root.items() if type(root) is dict else enumerate(root))]
        holders = [root]
        while stack:
            node = holders[-1]
            for k, v in stack[-1]:
                if type(k) is str and len(k) > 2 and _KEY_MAY_HOLD_DATA(k):
                    # Keys are content too ({"ana@example.org": 120.5}): patterns only.
                    leaves.append(Leaf(k, True, _Key(node), k, dirty))
                kind = type(v)
                if kind is str:
                    if k in _STRUCTURAL_KEYS:  # (never a list index)
                        # Structure ("user", "tool_call", "image/png") is skipped; anything
                        # else in such a field gets the pattern engine.
                        if not _plain_enum(v):
                            leaves.append(Leaf(v, True, node, k, dirty))
                        continue
                    head = v[:1]
                    if (head and not head.isspace() and head != "{" and head != "["
                            and len(v) <= max_text):
                        entity = self._keyed(k, v) if type(k) is str else None
                        leaves.append(Leaf(v, patterns_only, node, k, dirty, entity=entity))
                    else:
                        self._string(rec, v, node, k, dirty, patterns_only, depth)
                elif kind is dict or kind is list:
                    stack.append(iter(v.items() if kind is dict else enumerate(v)))
                    holders.append(v)
                    break
                elif kind is int and abs(v) >= _NUMBER_FLOOR:
                    # A JSON number long enough to be a card, phone or account number.
                    entity = self._keyed(k, str(v)) if type(k) is str else None
                    leaves.append(Leaf(str(v), patterns_only, node, k, dirty, entity=entity))
                elif kind is float and not -_BIG_FLOAT < v < _BIG_FLOAT:
                    exact = False
            else:
                stack.pop()
                holders.pop()
        return exact


def _parse_json(text: str) -> tuple[Any, bool]:
    """The parsed value and whether orjson read it (else the stdlib: NaN, Infinity, numbers
    beyond a double, lone surrogates); (None, False) if ``text`` is not JSON."""
    try:
        return orjson.loads(text), True
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text), False
    except ValueError:
        return None, False


def _reserialize(obj: Any, outer: Leaf, changed: list[bool], exact: bool, text: str) -> None:
    """Write a JSON value back if one of its leaves changed (untouched JSON stays
    byte-identical). Changed JSON keeps its structure and is written compactly by orjson,
    non-ASCII characters as they are; what orjson did not read goes through the stdlib in the
    original's style."""
    if not changed[0]:
        return
    if exact:
        try:
            outer.set(orjson.dumps(obj).decode())
            return
        except orjson.JSONEncodeError:
            pass
    compact = '", "' not in text and '": ' not in text
    outer.set(json.dumps(obj, ensure_ascii="\\u" in text,
                         separators=(",", ":") if compact else None))
