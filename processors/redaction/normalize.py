"""Detection on a normalized view of a text, redaction on the original.

Copy-paste from web pages and PDFs, and people who mean to, hide personal data from pattern
matching: zero-width characters and soft hyphens inside values, fullwidth digits and signs,
HTML entities (``&#64;``, ``&commat;``), percent-encoding (``%40``), base64 blobs. `View`
builds what a reader would see: format characters (Unicode category Cf) dropped, each
character NFKC-normalized, HTML entities and percent-escapes decoded; and it maps every
character of the view back to the span of the original it came from, so a finding on the view
replaces exactly the original text that produced it.

`base64_runs` finds base64 runs that decode to UTF-8 text: the caller analyzes the decoded
text and, when it holds personal data, replaces the whole run.

Texts that need none of this (ASCII without ``&`` or ``%``, the common case) cost one
``isascii`` call and two substring searches.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from collections.abc import Iterator

import regex

_ENTITY = regex.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
_PERCENT = regex.compile(r"(?:%[0-9A-Fa-f]{2})+")
#: A run of 24+ base64 characters (the standard library's engine: several times faster here
#: than the ``regex`` module for this scan; its edges are checked in `base64_runs`).
_BASE64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_BASE64_EDGE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")


def needs_view(text: str) -> bool:
    """False when the view would equal the text."""
    return not (text.isascii() and "&" not in text and "%" not in text)


class View:
    """The normalized view of ``text`` and the map back to it."""

    __slots__ = ("_ends", "_starts", "text")

    def __init__(self, text: str) -> None:
        out: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "&":
                m = _ENTITY.match(text, i)
                if m:
                    decoded = html.unescape(m.group())
                    if decoded != m.group():
                        self._emit(decoded, i, m.end(), out, starts, ends)
                        i = m.end()
                        continue
            elif ch == "%":
                m = _PERCENT.match(text, i)
                if m:
                    try:
                        decoded = bytes.fromhex(m.group().replace("%", "")).decode("utf-8")
                    except UnicodeDecodeError:
                        decoded = None
                    # (an escaped space stays escaped: decoded, it would split the URL)
                    if decoded is not None and not any(c.isspace() for c in decoded):
                        self._emit(decoded, i, m.end(), out, starts, ends)
                        i = m.end()
                        continue
            if ch.isascii():
                out.append(ch)
                starts.append(i)
                ends.append(i + 1)
            elif unicodedata.category(ch) != "Cf":
                self._emit(unicodedata.normalize("NFKC", ch), i, i + 1, out, starts, ends)
            i += 1
        self.text = "".join(out)
        self._starts = starts
        self._ends = ends

    @staticmethod
    def _emit(piece: str, start: int, end: int, out: list[str], starts: list[int],
              ends: list[int]) -> None:
        for ch in piece:
            if unicodedata.category(ch) == "Cf":
                continue
            out.append(ch)
            starts.append(start)
            ends.append(end)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that view[start:end] came from."""
        return self._starts[start], self._ends[end - 1]


def base64_runs(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, decoded text) of every base64 run that decodes to printable UTF-8."""
    for m in _BASE64.finditer(text):
        s, e = m.span()
        if (s and text[s - 1] in _BASE64_EDGE) or (e < len(text) and text[e] in _BASE64_EDGE):
            continue  # part of a longer token (base64url, an identifier with - or _)
        run = m.group()
        if run.isalpha() or run.isdigit():
            continue  # a word or a number, not an encoding
        try:
            raw = base64.b64decode(run + "=" * (-len(run) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in decoded)
        if decoded and printable >= 0.95 * len(decoded):
            yield m.start(), m.end(), decoded
