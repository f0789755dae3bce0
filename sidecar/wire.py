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


def _fields(buf: bytes, i: int, end: int, tag: int):
    """(start, end) of each value of the length-delimited field ``tag`` in ``buf[i:end]``,
    in order; every other field is skipped by its wire type."""
    while i < end:
        key, i = _varint(buf, i, end)
        wire = key & 7
        if wire == 2:
            n, i = _varint(buf, i, end)
            if i + n > end:
                raise _Malformed
            if key == tag:
                yield i, i + n
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
