"""The prefilter's relaxations: every match of a pattern is a match of its relaxation.

The relaxations are checked with the stdlib ``re`` over the text's ASCII image (their syntax is
a subset of it), independently of Hyperscan, and Hyperscan's answers are checked against
those. A relaxation that missed a match would let the pattern's PII through.
"""

from __future__ import annotations

import re
import sys

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.pii_eval.faker_legacy import Generator
from processors.redaction import RedactionConfig
from processors.redaction.config import NER_ENTITIES, Entity
from processors.redaction.engine import Analyzer, EngineSpec
from processors.redaction.prefilter import Prefilter, Unrelaxable, relax


def image(text: str) -> bytes:
    return text.encode("ascii", "replace")


def relaxed_matches(pattern: str, flags: int, text: str) -> bool:
    return re.search(relax(pattern, flags).encode(), image(text)) is not None


@pytest.fixture(scope="module")
def every_pattern() -> tuple[Analyzer, list[tuple[str, int]]]:
    """A patterns-mode analyzer with every entity it can find and two custom recognizers;
    its pattern recognizers' (regex, flags), in the prefilter's order."""
    config = RedactionConfig.model_validate({
        "mode": "patterns",
        "entities": [e.value for e in Entity if e not in NER_ENTITIES],
        "custom_recognizers": [
            {"entity": "EMPLOYEE_ID", "patterns": [{"regex": r"\bEMP-\d{6}\b", "score": 0.9}]},
            {"entity": "TICKET", "patterns": [
                {"regex": r"(?<=ticket [#:])([A-Z]{3})-\d{4}-\1", "score": 0.8}]},
        ],
    })
    analyzer = Analyzer(EngineSpec.from_config(config))
    sources = [(p.regex, rec.global_regex_flags)
               for rec, _, _, plain, indexed in analyzer._direct._recs for _, p in indexed]
    return analyzer, sources


# -- classes -----------------------------------------------------------------------------------
_EVERY_CHAR = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


@pytest.mark.parametrize("klass", [r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", r"[^\d]", r"[^\w]",
                                   r"[^\s]", r"[^\D]", r"[\w.-]", r"[^a-z\s]", r"[a-zé]",
                                   r"[^\u00e9x]", "\u00df", r"[\u0100-\u017f]"])
@pytest.mark.parametrize("flags", [0, regex.IGNORECASE])
def test_a_class_relaxation_holds_the_image_of_every_code_point_it_matches(klass, flags):
    rx = relax(klass, flags).encode()
    matched = regex.findall(klass, _EVERY_CHAR, flags=flags)
    assert matched  # the check below is not vacuous
    images = {image(ch) for ch in matched}
    missing = [i for i in images if not re.fullmatch(rx, i)]
    assert not missing, (klass, missing[:5])


def test_ignorecase_literals_keep_their_unicode_case_partners():
    # The Kelvin sign matches "k" and the long s matches "s" under IGNORECASE.
    assert regex.search(r"(?i)kelvins", "\u212aelvin\u017f")
    assert relaxed_matches(r"(?i)kelvins", 0, "\u212aelvin\u017f")
    assert relaxed_matches(r"kelvins", regex.IGNORECASE, "KELVINS")
    assert not relaxed_matches(r"kelvins", 0, "kelvin")


def test_a_leading_lookbehind_becomes_a_prefix_and_other_assertions_go():
    assert relaxed_matches(r"(?<=\bDear\s{1,3})[A-Z][a-z]+", 0, "Dear  Ana")
    assert not relaxed_matches(r"(?<=\bDear\s{1,3})[A-Z][a-z]+", 0, "Hello Ana")
    # Not leading: dropped, never concatenated (the text "ab" matches a(?<=a)b).
    assert regex.search(r"a(?<=a)b", "ab")
    assert relaxed_matches(r"a(?<=a)b", 0, "ab")
    assert relaxed_matches(r"\bfoo(?=bar)\b(?!x)$", regex.MULTILINE, "foo")
    assert relaxed_matches(r"(?i:aws.{0,20}key\s*)\K[A-Z0-9]{4}", 0, "AWS key ABCD")


def test_a_back_reference_becomes_its_group_case_folded_where_it_ignores_case():
    assert relaxed_matches(r"([0-9a-f]{2})([:-])(?:[0-9a-f]{2}\2){4}[0-9a-f]{2}", 0,
                           "aa-bb-cc-dd-ee-ff")
    assert not relaxed_matches(r"([0-9a-f]{2})([:-])(?:[0-9a-f]{2}\2){4}[0-9a-f]{2}", 0,
                               "aa-bb cc dd ee ff")
    assert regex.search(r"(ab)-(?i:\1)", "ab-AB")
    assert relaxed_matches(r"(ab)-(?i:\1)", 0, "ab-AB")


@pytest.mark.parametrize(("pattern", "flags"), [
    (r"[[:alpha:]]+", 0),             # a POSIX class (the stdlib reads a set of characters)
    (r"(?:colour){e<=1}", 0),         # fuzzy matching
    (r"\p{L}+", 0),                   # the stdlib rejects \p
    (r"(?V1)[\w--\d]", 0),            # version-1 set operations
    (r"strasse", regex.IGNORECASE | regex.FULLCASE),  # "ß" matches "ss"
    (r"\bword\b", regex.WORD),
])
def test_what_the_stdlib_reads_differently_gets_no_relaxation(pattern, flags):
    with pytest.raises(Unrelaxable):
        relax(pattern, flags)
    assert Prefilter([(pattern, flags), (r"\d{3}", 0)]).always == {0}


# -- the real patterns -------------------------------------------------------------------------
_EDGE_TEXTS = [
    "mac 00:1a:2B:3c:4D:5e, 00-1A-2B-3C-4D-5E and 001a.2b3c.4d5e; ::1, fe80::1ff:fe23:4567:890a",
    "IBAN GB82 WEST 1234 5698 7654 32; iban de89370400440532013000",
    "Call +44 (0)113 496 0273 or (381)946-8454 x12, or 001-721-843-0443x24451",
    "phone: 0958969350, tel 00839 08788; SSN 078-05-1120 / 078 05 1120 / 078051120",
    "card 4111 1111 1111 1111 and 2221-0000-0000-0009, NHS 943 476 5919",
    "AWS secret: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1 AKIAIOSFODNN7EXAMPLE",
    "Authorization: Bearer abcdefghijklmnop0123 ghp_" + "a" * 36 + " sk-proj-" + "b" * 24,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU -----BEGIN RSA PRIVATE KEY-----",
    'password = "hunter2hunter2" {"customer_name": "Ana L\u00f3pez"} Sincerely,\nZo\u00eb Saldana',
    "Paulo-Schleich-Stra\u00dfe 19, 682, avenue de Toussaint, Paseo de Joaqu\u00edn Feliu 98",
    "2328 Figueroa Skyway Apt. 290, Lake Amanda, NV 77080; Flat 3, Smith Road",
    "ticket #ABC-1234-ABC and EMP-004211; bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "\u212aelvin \u0663\u0664\u0665-\u0661\u0662-\u0663\u0664\u0665\u0666 \uff11\uff12\uff13",
]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return [s.text for s in Generator(seed=5).samples(300)] + _EDGE_TEXTS


def test_every_recognizer_pattern_is_relaxed_and_compiled(every_pattern):
    analyzer, sources = every_pattern
    prefilter = analyzer._direct.prefilter
    assert len(sources) > 40
    assert prefilter.always == frozenset()  # every pattern is filtered (Hyperscan present)
    assert sorted(prefilter.relaxed) == list(range(len(sources)))


def test_no_pattern_matches_where_its_relaxation_does_not(every_pattern, corpus):
    analyzer, sources = every_pattern
    prefilter = analyzer._direct.prefilter
    compiled = [regex.compile(p, f) for p, f in sources]
    relaxed = [re.compile(prefilter.relaxed[i].encode()) for i in range(len(sources))]
    matched = filtered = 0
    for text in corpus:
        possible = prefilter.candidates(text)
        img = image(text)
        for i, rx in enumerate(compiled):
            hs_says = i in possible
            assert hs_says == (relaxed[i].search(img) is not None), (sources[i][0], text)
            if rx.search(text):
                matched += 1
                assert hs_says, (sources[i][0], text)
            elif not hs_says:
                filtered += 1
    # Not vacuous: many matches, and most of the non-matching runs are skipped.
    assert matched > 500
    assert filtered > 0.8 * (len(corpus) * len(sources) - matched)


_PIECES = st.sampled_from([
    "0", "1", "4", "9", "07", "123", "4111", "-", " ", ".", ":", "::", "/", "+", "(", ")", "@",
    "x", "a", "F", "e", "Z", "_", "é", "ß", "\u212a", "\u017f", "\u0663", "\uff11", "\u00a0",
    "\n", "\t", "'", '"', "=", ",", "Dear ", "Mr. ", "phone ", "call me at ", "Street", "Ave",
    "rue ", "Calle ", "straße ", "Flat ", "sk-", "sk-ant-", "ghp_", "AKIA", "eyJ", "aws ",
    "secret", "Bearer ", "password: ", "api_key=", '"name": "', "-----BEGIN ", "PRIVATE KEY",
    "-----", "bc1", "GB82", "EMP-", "ticket #", "ABC", "This is ", "Ana", "López",
])


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(st.lists(_PIECES, min_size=1, max_size=40).map("".join))
def test_generated_texts_never_match_outside_the_candidates(every_pattern, text):
    analyzer, sources = every_pattern
    possible = analyzer._direct.prefilter.candidates(text)
    for i, (pattern, flags) in enumerate(sources):
        if i not in possible:
            assert not regex.search(pattern, text, flags=flags), (pattern, text)


def test_a_failed_scan_runs_every_pattern(every_pattern, corpus, monkeypatch):
    import hyperscan

    analyzer, _ = every_pattern
    texts = corpus[:40]
    expected = analyzer.analyze(texts, [False] * len(texts))

    class Busy:
        def scan(self, *_args, **_kwargs):
            raise hyperscan.ScratchInUseError("in use")

    monkeypatch.setattr(analyzer._direct.prefilter, "_db", Busy())
    assert analyzer._direct.prefilter.candidates("x") is None
    assert analyzer.analyze(texts, [False] * len(texts)) == expected


def test_without_hyperscan_every_pattern_runs(monkeypatch):
    monkeypatch.setitem(sys.modules, "hyperscan", None)
    prefilter = Prefilter([(r"\d{3}", 0), (r"abc", 0)])
    assert prefilter.always == {0, 1}
    assert prefilter.candidates("nothing here") == {0, 1}


def test_only_i_k_and_s_have_case_partners_outside_ascii():
    from processors.redaction import prefilter

    outside = _EVERY_CHAR[128:]
    partners = {letter for letter in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                if regex.search(regex.escape(letter), outside, flags=regex.IGNORECASE)}
    assert partners == {ch for ch in "IiKkSs"}
    assert prefilter._mask("".join(partners)) == prefilter._FOLDED_FROM_OUTSIDE


# -- regressions found by review, and a differential search over generated patterns ----------
@pytest.mark.parametrize(("pattern", "text"), [
    (r"(a)\1\K00\d{4}", "aa001234"),           # \K removed must not turn \1 00 into \100
    (r"\0\K7\d{3}", "\x007123"),
    (r"ID\K{2}\d{6}", "ID123456"),             # the regex module reads \K{2} as repeated \K
    (r"a{1\K,2}b", "a{1,2}b"),
    (r"([^a-z0-9])-\d{6}-(?i:\1)", "Q-123456-q"),  # a case-blind reference to a negated class
    (r"(?i)(?-i:([^a-z]))\d{6}\1", "Q123456q"),
    (r"([^a-z])(?i:\1)", "\u212ak"),
    (r"x[^\s\S]", "xy"),                       # the regex module matches anything there
    (r"[^a\w\W]b", "zb"),
])
def test_review_counterexamples_are_candidates(pattern, text):
    flags = regex.DOTALL | regex.MULTILINE
    assert regex.search(pattern, text, flags=flags)
    assert relaxed_matches(pattern, flags, text)


@pytest.mark.parametrize("pattern", [r"(?x) \bEMP - \d{4, 6} \b", "(?x) EMP\u00a0- \\d{6}",
                                     "(?x:a\u00a0b)", r"a(?x: b )"])
def test_verbose_patterns_always_run(pattern):
    # The regex module skips more whitespace than the stdlib in verbose mode (inside {m,n},
    # any str.isspace() character).
    with pytest.raises(Unrelaxable):
        relax(pattern, 0)
    with pytest.raises(Unrelaxable):
        relax(pattern.replace("(?x)", "").replace("(?x:", "(?:"), regex.VERBOSE)


_ALPHABET = [*"abkKsSiI?0 -_.\n", "é", "ß", "\u212a", "\u017f", "\u0130", "\u0131", "\u01c5",
             "\u00a0", "\u0663"]


class _PatternGenerator:
    """Small random regexes over the constructs the relaxation handles."""

    def __init__(self, seed: int) -> None:
        import random

        self.rng = random.Random(seed)
        self.groups: list[int] = []

    def literal(self) -> str:
        ch = self.rng.choice(_ALPHABET)
        return regex.escape(ch) if ch in ".?-\n" else ch

    def klass(self) -> str:
        r = self.rng
        items = []
        for _ in range(r.randint(1, 3)):
            k = r.random()
            if k < 0.5:
                items.append(self.literal().replace("-", "\\-"))
            elif k < 0.75:
                a, b = sorted(r.sample(["0", "9", "A", "Z", "a", "k", "s", "z", "\u00e0",
                                        "\u017f", "\u2200"], 2))
                items.append(f"{a}-{b}")
            else:
                items.append(r.choice([r"\d", r"\w", r"\s", r"\D", r"\W", r"\S"]))
        return "[" + ("^" if r.random() < 0.4 else "") + "".join(items) + "]"

    def atom(self, depth: int) -> str:
        r = self.rng
        k = r.random()
        if depth > 3 or k < 0.3:
            return self.literal()
        if k < 0.42:
            return self.klass()
        if k < 0.47:
            return r.choice([r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", "."])
        if k < 0.55:
            return r.choice([r"\b", r"\B", "^", "$", r"\A", r"\Z"])
        if k < 0.68:
            kind = r.choice(["(", "(", "(?:", "(?i:", "(?-i:", "(?>"])
            body = self.seq(depth + 1)
            if kind == "(":
                self.groups.append(len(self.groups) + 1)
            return f"{kind}{body})"
        if k < 0.78:
            kind = r.choice(["?=", "?!", "?<=", "?<!"])
            body = "".join(r.choice([self.literal(), self.klass(), "."])
                           for _ in range(r.randint(1, 2)))
            return f"({kind}{body})"
        if k < 0.88 and self.groups:
            n = r.choice(self.groups)
            return r.choice([f"\\{n}", f"(?i:\\{n})", f"(?-i:\\{n})"])
        if k < 0.93 and self.groups:
            n = r.choice(self.groups)
            return f"(?({n}){self.seq(depth + 1)}|{self.seq(depth + 1)})"
        if k < 0.95:
            return r.choice([r"\K", r"\K0", r"\0\K1"])
        return self.literal()

    def piece(self, depth: int) -> str:
        a = self.atom(depth)
        if self.rng.random() < 0.3 and not a.startswith(("\\b", "\\B", "^", "$", "\\A", "\\Z",
                                                          "(?=", "(?!", "(?<", "\\K")):
            a += self.rng.choice(["?", "*", "+", "{2}", "{0,1}", "{1,3}", "{2,}", "{40}"])
            a += self.rng.choice(["", "", "?", "+"])
        return a

    def seq(self, depth: int) -> str:
        return "|".join("".join(self.piece(depth) for _ in range(self.rng.randint(1, 3)))
                        for _ in range(1 if self.rng.random() < 0.8 else 2))

    def pattern(self) -> str:
        self.groups = []
        return self.seq(0)


def test_generated_patterns_never_match_where_their_relaxation_does_not():
    gen = _PatternGenerator(seed=20261122)
    rng = gen.rng
    checked = matched = 0
    while checked < 2500:
        pattern = gen.pattern()
        flags = rng.choice([0, regex.I, regex.I | regex.M, regex.A, regex.I | regex.A, regex.S])
        try:
            original = regex.compile(pattern, flags)
            relaxed = re.compile(relax(pattern, flags).encode())
        except (regex.error, Unrelaxable):
            continue
        checked += 1
        for _ in range(30):
            text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 8)))
            try:
                found = original.search(text, timeout=0.05)
            except TimeoutError:
                continue
            if found is not None:
                matched += 1
                assert relaxed.search(image(text)), (pattern, hex(flags), text, found)
    assert matched > 5000
