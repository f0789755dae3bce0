"""One multi-pattern scan per text that says which recognizer patterns can match it at all.

Patterns mode runs some 40 backtracking regexes (Presidio's and ours) over every text; most
match nothing in most texts, yet each one tries every position. Here each pattern gets a
*relaxation*: a pattern without assertions, over bytes, that matches wherever the original
can. All relaxations are compiled into one Hyperscan database, which scans a text once and
reports the relaxations that match anywhere in it. A pattern whose relaxation does not match
cannot match either, so only the reported patterns run (with the ``regex`` module, as
before): the findings are exactly those of running every pattern.

The scan runs over the text's ASCII image, ``text.encode("ascii", "replace")``: each
character outside ASCII becomes ``?``. So a relaxation's every character class is a set of
ASCII bytes: its ASCII members, plus ``?`` when it holds ``?`` or could hold any character
outside ASCII. A match of the original maps, character by character, onto a match of the
relaxation in the image.

How a pattern is relaxed (from the stdlib parser's tree; never from the source text):

* assertions go (``\\b``, ``^``, ``$``, ``\\A``, ``\\Z``, lookaheads, negative lookbehinds;
  ``\\K`` only moves the reported start). A lookbehind met before anything is consumed
  becomes a prefix: its text ends where the match starts.
* a back-reference becomes its group's relaxation (what the group matched is in it), a
  conditional group either branch;
* lazy, greedy, possessive and atomic forms become plain repeats and groups (these match
  everything the originals match, and more); repeat counts above 32 are lowered to 32 (lower
  bounds) or dropped (upper bounds);
* classes: ``\\d``, ``\\w``, ``\\s`` and their negations by their exact ASCII members (the
  stdlib and the ``regex`` module agree on ASCII; ``\\s`` also gets ``\\x1c``-``\\x1f``, which
  only the stdlib counts); under IGNORECASE a literal gets the ASCII characters the ``regex``
  module folds to it, and ``?`` if it is i, k or s (the dotted and dotless i, the Kelvin sign,
  the long s).

Patterns the stdlib parser reads differently from the ``regex`` module (POSIX classes, fuzzy
matching, verbose patterns) or with flags that change what matches (``FULLCASE``, ``WORD``,
``POSIX``, ``REVERSE``, ``BESTMATCH``, ``ENHANCEMATCH``, ``VERSION1``) get no relaxation and
always run.
So does every pattern if Hyperscan is not installed or fails to compile or scan.

tests/unit/redaction/test_prefilter.py checks the classes against every code point and the
relaxations against the originals on the evaluation corpus and on generated texts.
"""

from __future__ import annotations

import functools
import logging

import regex

log = logging.getLogger(__name__)

try:  # the stdlib's regex parser (``re._parser`` since 3.11, ``sre_parse`` before)
    import re._constants as _c
    import re._parser as _parser
except ImportError:  # pragma: no cover - other Python versions
    try:
        import sre_constants as _c  # type: ignore[no-redef]
        import sre_parse as _parser  # type: ignore[no-redef]
    except ImportError:
        _parser = None  # type: ignore[assignment]

#: Flags of the ``regex`` module a relaxation is derived under (others: no relaxation).
_SUPPORTED_FLAGS = (regex.IGNORECASE | regex.MULTILINE | regex.DOTALL | regex.VERBOSE
                    | regex.ASCII | regex.UNICODE | regex.VERSION0)
#: Source text the stdlib parser would read as something else than the ``regex`` module
#: does: POSIX classes (``[[:alpha:]]``) and fuzzy constraints (``{e<=1}``). (``\\p{..}``,
#: ``\\m``, ``(?|..)``, ``(?V1)``... are rejected by the stdlib parser itself.)
_FOREIGN_SYNTAX = regex.compile(r"\[:\^?\w+:\]|\{[^{}]*[eids][^{}]*\}")

#: Repeat counts above this are relaxed (see `_node`).
_MAX_COUNT = 32
#: What a character outside ASCII becomes in a text's ASCII image.
PLACEHOLDER = ord("?")
_ALL = (1 << 128) - 1
_Q = 1 << PLACEHOLDER


def _mask(chars: str) -> int:
    m = 0
    for ch in chars:
        m |= 1 << ord(ch)
    return m


_DIGIT = _mask("0123456789")
_LETTERS = _mask("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_WORD = _DIGIT | _LETTERS | _mask("_")
#: ``\s`` on ASCII: the ``regex`` module's members, and the stdlib's (which adds \x1c-\x1f).
_SPACE_REGEX = _mask("\t\n\x0b\x0c\r ")
_SPACE = _SPACE_REGEX | _mask("\x1c\x1d\x1e\x1f")
#: A category as a class item: a superset of its members (ASCII, and ``?`` for the rest).
_CATEGORIES = {
    _c.CATEGORY_DIGIT: _DIGIT | _Q, _c.CATEGORY_NOT_DIGIT: (_ALL & ~_DIGIT) | _Q,
    _c.CATEGORY_WORD: _WORD | _Q, _c.CATEGORY_NOT_WORD: (_ALL & ~_WORD) | _Q,
    _c.CATEGORY_SPACE: _SPACE | _Q, _c.CATEGORY_NOT_SPACE: (_ALL & ~_SPACE_REGEX) | _Q,
}
#: A category inside a negated class: a subset of its ASCII members (so that the class's
#: complement is a superset).
_CATEGORIES_NEGATED = {
    _c.CATEGORY_DIGIT: _DIGIT, _c.CATEGORY_NOT_DIGIT: _ALL & ~_DIGIT,
    _c.CATEGORY_WORD: _WORD, _c.CATEGORY_NOT_WORD: _ALL & ~_WORD,
    _c.CATEGORY_SPACE: _SPACE_REGEX, _c.CATEGORY_NOT_SPACE: _ALL & ~_SPACE,
}


class Unrelaxable(ValueError):
    """The pattern gets no relaxation (it always runs)."""


def relax(pattern: str, flags: int) -> str:
    """A Hyperscan pattern over ASCII images matching wherever ``regex.compile(pattern,
    flags)`` can match the original text. Raises `Unrelaxable` when none is derived."""
    if _parser is None:
        raise Unrelaxable("the stdlib regex parser is not available")
    if flags & ~_SUPPORTED_FLAGS or regex.DEFAULT_VERSION != regex.VERSION0:
        raise Unrelaxable(f"flags {flags:#x} change what matches")
    source = _drop_keep_out(pattern)
    if _FOREIGN_SYNTAX.search(source):
        raise Unrelaxable("syntax the stdlib parser reads differently")
    std_flags = 0
    for ours, theirs in ((regex.IGNORECASE, _c.SRE_FLAG_IGNORECASE),
                         (regex.VERBOSE, _c.SRE_FLAG_VERBOSE)):
        if flags & ours:
            std_flags |= theirs
    try:
        tree = _parser.parse(source, std_flags)
    except Exception as exc:  # the stdlib rejects it: regex-module syntax
        raise Unrelaxable(f"not parsable by the stdlib: {exc}") from None
    if tree.state.flags & _c.SRE_FLAG_VERBOSE:
        # The regex module skips more whitespace (any str.isspace(), also inside {m,n})
        # and comments than the stdlib parser does.
        raise Unrelaxable("verbose patterns")
    ignore_case = bool(tree.state.flags & _c.SRE_FLAG_IGNORECASE)
    return _seq(list(tree), ignore_case, _Walk())


def _drop_keep_out(pattern: str) -> str:
    r"""``pattern`` with each ``\K`` (an escaped backslash before K is kept) as an empty group,
    so that its neighbours stay apart (``\1\K00`` must not become ``\100``)."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i:i + 2] if pattern[i + 1] != "K" else "(?:)")
            i += 2
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


class _Walk:
    """State of one relaxation: is the next node still where every match starts? and the
    relaxation of each capture group seen so far (for back-references)."""

    __slots__ = ("groups", "leading")

    def __init__(self) -> None:
        self.leading = True
        #: group id -> (its items, IGNORECASE inside it)
        self.groups: dict[int, tuple[list, bool]] = {}


def _seq(items: list, ic: bool, walk: _Walk) -> str:
    return "".join(_node(op, av, ic, walk) for op, av in items)


def _group(body: str) -> str:
    return f"(?:{body})" if body else ""


def _node(op, av, ic: bool, walk: _Walk) -> str:
    if op in (_c.AT, _c.ASSERT_NOT):
        return ""  # zero-width: the next node is still where the match starts
    if op is _c.ASSERT:
        direction, item = av
        if direction < 0 and walk.leading:
            walk.leading = False
            inner = _Walk()
            inner.groups = walk.groups
            return _group(_seq(list(item), ic, inner))
        return ""
    if op is _c.SUBPATTERN:
        group_id, add, delete, item = av
        if add & _c.SRE_FLAG_VERBOSE:
            raise Unrelaxable("verbose groups")  # see relax()
        if add & _c.SRE_FLAG_IGNORECASE:
            ic = True
        if delete & _c.SRE_FLAG_IGNORECASE:
            ic = False
        if group_id is not None:
            walk.groups[group_id] = (list(item), ic)
        return _group(_seq(list(item), ic, walk))
    walk.leading = False
    if op is _c.LITERAL:
        return _emit(_literal(av, ic))
    if op is _c.NOT_LITERAL:
        return _emit(_folded((_ALL & ~(1 << av) if av < 128 else _ALL) | _Q, ic))
    if op is _c.ANY:
        return _emit(_ALL)
    if op is _c.IN:
        return _emit(_klass(av, ic))
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        lo, hi, item = av
        body = _seq(list(item), ic, walk)
        if not body:
            return ""
        # Large counts are costly for Hyperscan (a URL's {1,253}) and add little: kept up to
        # _MAX_COUNT, beyond it the bound goes (lower bounds: lowered to it).
        top = "" if hi == _c.MAXREPEAT or hi > _MAX_COUNT else str(hi)
        return f"(?:{body}){{{min(lo, _MAX_COUNT)},{top}}}"
    if op is _c.ATOMIC_GROUP:
        return _group(_seq(list(av), ic, walk))
    if op is _c.BRANCH:
        return "(?:" + "|".join(_seq(list(b), ic, walk) for b in av[1]) + ")"
    if op is _c.GROUPREF:
        # The text the group matched is in the group's relaxation (case-folded if either
        # side ignores case). A group not seen yet, or only in a dropped lookaround: anything.
        if av not in walk.groups:
            return _emit(_ALL) + "*"
        items, group_ic = walk.groups[av]
        inner = _Walk()
        inner.leading = False
        inner.groups = walk.groups
        return _group(_seq(items, ic or group_ic, inner))
    if op is _c.GROUPREF_EXISTS:
        _group_id, yes, no = av
        return f"(?:{_seq(list(yes), ic, walk)}|{_seq(list(no), ic, walk) if no else ''})"
    raise Unrelaxable(f"opcode {op}")


@functools.lru_cache(maxsize=4096)
def _folds(code: int) -> int:
    """ASCII characters the ``regex`` module matches to ``chr(code)`` under IGNORECASE."""
    literal = regex.compile(regex.escape(chr(code)), regex.IGNORECASE)
    return _mask("".join(chr(b) for b in range(128) if literal.fullmatch(chr(b))))


#: ASCII letters that a character outside ASCII matches under IGNORECASE (dotted and dotless
#: i, the Kelvin sign, the long s); the test checks every code point.
_FOLDED_FROM_OUTSIDE = _mask("IiKkSs")


def _literal(code: int, ic: bool) -> int:
    m = (1 << code) if code < 128 else _Q
    if ic:
        m |= _folds(code)
        if m & _FOLDED_FROM_OUTSIDE or code >= 128:
            m |= _Q
    return m


def _folded(mask: int, ic: bool) -> int:
    """``mask`` with the case partners of its members under IGNORECASE. (A back-reference
    that ignores case to a group that does not can match them: ``([^a-z])(?i:\\1)`` matches
    "Qq".)"""
    if not ic:
        return mask
    out = mask
    for code in range(128):
        if mask >> code & 1:
            out |= _literal(code, True)
    if mask & _Q:
        out |= _FOLDED_FROM_OUTSIDE
    return out


#: A category and its complement: together in a negated class, the regex module matches
#: every character there (``[^\s\S]`` matches "y"), not none.
_COMPLEMENTS = ((_c.CATEGORY_DIGIT, _c.CATEGORY_NOT_DIGIT), (_c.CATEGORY_WORD,
                _c.CATEGORY_NOT_WORD), (_c.CATEGORY_SPACE, _c.CATEGORY_NOT_SPACE))


def _klass(items: list, ic: bool) -> int:
    negated = bool(items) and items[0][0] is _c.NEGATE
    if negated:
        items = items[1:]
    m = 0
    wide = False  # holds characters outside ASCII
    for op, av in items:
        if op is _c.LITERAL:
            if av < 128:
                m |= 1 << av
            else:
                wide = True
            if ic and not negated:
                m |= _literal(av, ic)
        elif op is _c.RANGE:
            lo, hi = av
            for code in range(lo, min(hi, 127) + 1):
                m |= 1 << code
                if ic and not negated:
                    m |= _literal(code, ic)
            if hi >= 128:
                wide = True
                if ic and not negated:
                    m |= _FOLDED_FROM_OUTSIDE | _Q  # a range outside ASCII may fold into it
        elif op is _c.CATEGORY and av in _CATEGORIES:
            m |= (_CATEGORIES_NEGATED if negated else _CATEGORIES)[av]
        else:
            raise Unrelaxable(f"class item {op}")
    if negated:
        categories = {av for op, av in items if op is _c.CATEGORY}
        if any(a in categories and b in categories for a, b in _COMPLEMENTS):
            return _ALL
        # Everything outside the members: exact on ASCII, "?" for the rest (under
        # IGNORECASE the real class is smaller still), closed over case for back-references.
        return _folded((_ALL & ~m) | _Q, ic)
    if wide:
        m |= _Q
    return m


def _emit(mask: int) -> str:
    """A byte class for ``mask`` (bit i: byte i), as short as it comes (long alternations,
    such as a list of top-level domains, must stay under Hyperscan's pattern length limit)."""
    if not mask:
        raise Unrelaxable("an empty class")
    if mask & (mask - 1) == 0:  # one byte
        return _byte(mask.bit_length() - 1)
    ranges = []
    code = 0
    while code < 128:
        if mask >> code & 1:
            start = code
            while code + 1 < 128 and mask >> (code + 1) & 1:
                code += 1
            if code - start > 1:
                ranges.append(f"{_byte(start)}-{_byte(code)}")
            else:
                ranges.extend(_byte(c) for c in range(start, code + 1))
        code += 1
    return f"[{''.join(ranges)}]"


def _byte(code: int) -> str:
    ch = chr(code)
    if ch.isalnum():
        return ch
    return f"\\{ch}" if 0x21 <= code <= 0x7E else f"\\x{code:02x}"


class Prefilter:
    """The relaxations of a list of patterns, in one Hyperscan database.

    ``candidates(text)`` is the set of indices (into the list given) of the patterns that may
    match ``text``: those whose relaxation matches, and those without a relaxation
    (``always``). None when the scan failed: then every pattern must run.
    """

    def __init__(self, patterns: list[tuple[str, int]]) -> None:
        self.relaxed: dict[int, str] = {}
        always = set(range(len(patterns)))
        self._db = None
        self._scratch = None
        try:
            import hyperscan as hs
        except ImportError:
            log.warning("hyperscan is not installed: every pattern recognizer runs on every "
                        "text (slower; the findings are the same)")
            self.always = frozenset(always)
            return
        self._hs_error = hs.error
        for i, (source, flags) in enumerate(patterns):
            try:
                self.relaxed[i] = relax(source, flags)
            except Unrelaxable as exc:
                log.debug("pattern %d runs on every text: %s", i, exc)
        flag = hs.HS_FLAG_SINGLEMATCH | hs.HS_FLAG_ALLOWEMPTY
        ids = sorted(self.relaxed)
        try:
            db = self._compile(hs, ids, flag)
        except hs.error:
            # Find the relaxations Hyperscan rejects (resource limits); the rest still filter.
            ids = [i for i in ids if self._compiles(hs, i, flag)]
            try:
                db = self._compile(hs, ids, flag) if ids else None
            except hs.error as exc:
                log.warning("hyperscan cannot compile the prefilter (%s): every pattern "
                            "recognizer runs on every text", exc)
                db = None
        if db is not None:
            self._db = db
            self._scratch = hs.Scratch(db)
            always.difference_update(ids)
        self.always = frozenset(always)

    def _compile(self, hs, ids: list[int], flag: int):
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        db.compile(expressions=[self.relaxed[i].encode() for i in ids], ids=ids,
                   elements=len(ids), flags=[flag] * len(ids))
        return db

    def _compiles(self, hs, i: int, flag: int) -> bool:
        try:
            self._compile(hs, [i], flag)
        except hs.error as exc:
            log.debug("pattern %d runs on every text: hyperscan: %s", i, exc)
            return False
        return True

    def candidates(self, text: str) -> frozenset[int] | None:
        """Indices of the patterns that may match ``text``; None: every pattern must run."""
        if self._db is None:
            return self.always
        hits: list[int] = []
        try:
            self._db.scan(text.encode("ascii", "replace"), match_event_handler=_on_match,
                          context=hits, scratch=self._scratch)
        except self._hs_error:
            return None  # e.g. the scratch in use by another thread
        return self.always.union(hits)


def _on_match(pattern_id: int, _start: int, _end: int, _flags: int, hits: list[int]) -> None:
    hits.append(pattern_id)
