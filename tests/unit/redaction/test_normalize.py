"""Detection on the normalized view, redaction on the original (redaction/normalize.py)."""
# ruff: noqa: RUF001 - the fullwidth characters are what these tests are about

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.redaction.engine import Analyzer
from processors.redaction.normalize import View, base64_runs, needs_view


def test_view_drops_format_characters_and_maps_back() -> None:
    text = "ana\u200b.souza@exa\u00admple.org"
    view = View(text)
    assert view.text == "ana.souza@example.org"
    assert view.span(0, len(view.text)) == (0, len(text))


@pytest.mark.parametrize(("text", "seen"), [
    pytest.param("ana&#64;example.org", "ana@example.org", id="numeric-entity"),
    pytest.param("ana&commat;example.org", "ana@example.org", id="named-entity"),
    pytest.param("ana%40example.org", "ana@example.org", id="percent"),
    pytest.param("１２３-４５-６７８９", "123-45-6789", id="fullwidth-digits"),
    pytest.param("ana＠example．org", "ana@example.org", id="fullwidth-at"),
    pytest.param("Tom &amp; Jerry 100%", "Tom & Jerry 100%", id="plain-ampersand-percent"),
])
def test_view_decodes(text: str, seen: str) -> None:
    assert View(text).text == seen


@given(st.text(max_size=200))
def test_view_spans_stay_inside_the_original(text: str) -> None:
    view = View(text)
    for i in range(len(view.text)):
        s, e = view.span(i, i + 1)
        assert 0 <= s < e <= len(text)


@given(st.text(alphabet=st.characters(max_codepoint=127, blacklist_characters="&%"),
               max_size=200))
def test_plain_ascii_needs_no_view(text: str) -> None:
    assert not needs_view(text)


def test_base64_runs_decode_only_text() -> None:
    blob = base64.b64encode(b'{"email": "ana.souza@example.org"}').decode()
    assert [(d) for _, _, d in base64_runs(f"x {blob} y")] == ['{"email": "ana.souza@example.org"}']
    assert not list(base64_runs("trace 4bf92f3577b34da6a3ce929d0e0e4736 ThisIsOnlyALongWordHere"))


@pytest.fixture(params=["ner", "patterns"])
def analyzer(request, ner_analyzer: Analyzer, patterns_analyzer: Analyzer) -> Analyzer:
    return ner_analyzer if request.param == "ner" else patterns_analyzer


@pytest.mark.parametrize(("text", "value"), [
    pytest.param("mail ana\u200b.souza@exa\u00admple.org now", "ana\u200b.souza@exa\u00admple.org",
                 id="zero-width-soft-hyphen"),
    pytest.param("write to ana&#64;example.org", "ana&#64;example.org", id="html-entity"),
    pytest.param("SSN １２３-４５-６７８９", "１２３-４５-６７８９", id="fullwidth"),
    pytest.param("card 4111\u200b1111\u200b1111\u200b1111", "4111\u200b1111\u200b1111\u200b1111",
                 id="zero-width-card"),
    pytest.param("see https://x.example/p?e=ana%40example.org.", "https://x.example/p?e=ana%40example.org",
                 id="percent-in-url"),
    pytest.param("attachment " + base64.b64encode(b"Contact: ana.souza@example.org").decode(),
                 base64.b64encode(b"Contact: ana.souza@example.org").decode(), id="base64"),
])
def test_obfuscated_value_is_removed_whole(analyzer: Analyzer, text: str, value: str) -> None:
    start = text.index(value)
    found = analyzer.analyze([text], [False])[0]
    assert any(s <= start and start + len(value) <= e for s, e, *_ in found), found


def test_base64_without_pii_is_untouched(patterns_analyzer: Analyzer) -> None:
    blob = base64.b64encode(b"The quarterly report is attached as a PDF.").decode()
    assert patterns_analyzer.analyze([f"file {blob}"], [False]) == [[]]
