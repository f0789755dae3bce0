"""The pipeline's prefilter over serialized OTLP: which requests, and which of their scopes, can
hold anything for a chain (`sidecar.component.Processor.interest`).

A chain whose processors all declare an interest gets one `WireFilter`, the union of their
patterns in one Hyperscan database (Python's ``re`` when Hyperscan is not installed: the same
answers, slower). The pipeline then

* forwards a request whose bytes match nowhere exactly as received, without running the chain
  (a byte scan of ~0.1 us per span instead of a walk of every attribute);
* otherwise hands the chain only the (resource, scope) containers whose bytes match
  (`BatchContext.scopes`), found by walking the two outer levels of the message at wire level:
  an export request of every signal is ``repeated Resource* = 1``, each ``repeated Scope* = 2``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

#: Wire type 2 (length-delimited) of fields 1 and 2.
_TAG_1 = 0x0A
_TAG_2 = 0x12


class WireFilter:
    """``search(data)``: does any of ``patterns`` match the bytes."""

    def __init__(self, patterns: Sequence[re.Pattern[bytes]]) -> None:
        sources = sorted({p.pattern for p in patterns})
        self._regex = re.compile(b"|".join(b"(?:" + s + b")" for s in sources))
        self._db = self._scratch = None
        try:
            import hyperscan as hs
        except ImportError:
            return
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        try:
            db.compile(expressions=sources, ids=list(range(len(sources))),
                       elements=len(sources), flags=[hs.HS_FLAG_SINGLEMATCH] * len(sources))
        except hs.error:
            return  # a pattern Hyperscan does not take: ``re`` gives the same answers
        self._hs_error = hs.error
        self._db, self._scratch = db, hs.Scratch(db)

    def search(self, data: bytes) -> bool:
        if self._db is not None:
            hit: list[int] = []
            try:
                self._db.scan(data, match_event_handler=_stop, context=hit,
                              scratch=self._scratch)
            except self._hs_error:
                if hit:
                    return True  # the handler stopped the scan at the first match
                return self._regex.search(data) is not None
            return bool(hit)
        return self._regex.search(data) is not None

    def scopes(self, payload: bytes) -> tuple[list[tuple[int, int]], int] | None:
        """``([(resource index, scope index) whose bytes match], number of scopes)``, or None
        when the payload does not have the expected outer shape (then look at everything)."""
        try:
            out: list[tuple[int, int]] = []
            total = 0
            for ri, (start, end) in enumerate(_fields(payload, 0, len(payload), _TAG_1)):
                for si, (s, e) in enumerate(_fields(payload, start, end, _TAG_2)):
                    total += 1
                    if self.search(payload[s:e]):
                        out.append((ri, si))
            return out, total
        except _Malformed:
            return None


def _stop(_id: int, _start: int, _end: int, _flags: int, hit: list[int]) -> bool:
    hit.append(_id)
    return True


class _Malformed(Exception):
    pass


def _varint(buf: bytes, i: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= end or shift > 63:
            raise _Malformed
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _len_fields(buf: bytes, i: int, end: int):
    """(key, start, end) of every length-delimited field of ``buf[i:end]``, in order; fields
    of other wire types are skipped."""
    while i < end:
        key, i = _varint(buf, i, end)
        wire = key & 7
        if wire == 2:
            n, i = _varint(buf, i, end)
            if i + n > end:
                raise _Malformed
            yield key, i, i + n
            i += n
        elif wire == 0:
            _, i = _varint(buf, i, end)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise _Malformed
    if i != end:
        raise _Malformed


def _fields(buf: bytes, i: int, end: int, tag: int):
    """(start, end) of each value of the length-delimited field ``tag`` in ``buf[i:end]``."""
    for key, s, e in _len_fields(buf, i, end):
        if key == tag:
            yield s, e


# --------------------------------------------------------------------------------------------
# Salvage: a request that protobuf refuses as a whole (most often a value nested deeper than
# the decoder's depth limit, which the Go collector accepts) loses only its bad items.
# --------------------------------------------------------------------------------------------
#: Per signal: the request type, then (resource type, its scope field), (scope type, its item
#: field), the item type. Every level's repeated child is field 2 but the request's (field 1).
def _shapes():
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as ls
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as ms
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts
    from opentelemetry.proto.logs.v1 import logs_pb2
    from opentelemetry.proto.metrics.v1 import metrics_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2

    return {
        "traces": (ts.ExportTraceServiceRequest, trace_pb2.ResourceSpans, trace_pb2.ScopeSpans,
                   trace_pb2.Span),
        "logs": (ls.ExportLogsServiceRequest, logs_pb2.ResourceLogs, logs_pb2.ScopeLogs,
                 logs_pb2.LogRecord),
        "metrics": (ms.ExportMetricsServiceRequest, metrics_pb2.ResourceMetrics,
                    metrics_pb2.ScopeMetrics, metrics_pb2.Metric),
    }


def _varint_bytes(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(key: int, body: bytes) -> bytes:
    return _varint_bytes(key) + _varint_bytes(len(body)) + body


def salvage(signal: str, payload: bytes) -> tuple[Any, int] | None:
    """The request without the items that do not decode where they stand, and how many were
    left out (spans, log records, or metrics); None when the payload is not an export request
    of that shape at all (then it is the client's error as a whole).

    Each item is tried inside a minimal request of its own (resource, scope, item), so what is
    kept decodes at its real depth; a resource or scope whose own fields do not decode loses
    its items.
    """
    from google.protobuf.message import DecodeError

    request_type, resource_type, scope_type, item_type = _shapes()[signal]
    out = request_type()
    outer = out.DESCRIPTOR.fields_by_number[1].name
    resource_items = resource_type.DESCRIPTOR.fields_by_number[2].name
    scope_items = scope_type.DESCRIPTOR.fields_by_number[2].name
    rejected = 0
    try:
        for rs, rs_end in _fields(payload, 0, len(payload), _TAG_1):
            head = b"".join(_len_field(tag, payload[s:e]) if tag != _TAG_2 else b""
                            for tag, s, e in _len_fields(payload, rs, rs_end))
            try:
                resource = resource_type.FromString(head)
            except DecodeError:
                rejected += sum(1 for ss, se in _fields(payload, rs, rs_end, _TAG_2)
                                for _ in _fields(payload, ss, se, _TAG_2))
                continue
            kept_resource = getattr(out, outer).add()
            kept_resource.CopyFrom(resource)
            for ss, ss_end in _fields(payload, rs, rs_end, _TAG_2):
                scope_head = b"".join(_len_field(tag, payload[s:e]) if tag != _TAG_2 else b""
                                      for tag, s, e in _len_fields(payload, ss, ss_end))
                items = list(_fields(payload, ss, ss_end, _TAG_2))
                try:
                    scope = scope_type.FromString(scope_head)
                    request_type.FromString(_len_field(_TAG_1, head + _len_field(
                        _TAG_2, scope_head)))
                except DecodeError:
                    rejected += len(items)
                    continue
                kept_scope = getattr(kept_resource, resource_items).add()
                kept_scope.CopyFrom(scope)
                for s, e in items:
                    body = payload[s:e]
                    try:
                        # At its real depth: inside a request, a resource and a scope.
                        request_type.FromString(_len_field(_TAG_1, _len_field(
                            _TAG_2, _len_field(_TAG_2, body))))
                        getattr(kept_scope, scope_items).append(item_type.FromString(body))
                    except DecodeError:
                        rejected += 1
    except _Malformed:
        return None
    return out, rejected
