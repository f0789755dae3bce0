"""Value shapes, personal-data keys and the rule files: what the recognizers and the content
walker share, without Presidio (the walker runs in the main process, which never loads the
NLP stack; importing Presidio there made the main process load spaCy and numpy and cut NER
throughput by two thirds in `make bench`).

`KeyedValues` decides JSON members the walker has parsed, from their key and value shape;
`rulesets.key_value_recognizers` applies the same keys and shapes to raw text.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import regex
import yaml

RULES = Path(__file__).with_name("rules")
_FLAGS = regex.DOTALL | regex.MULTILINE


@functools.cache
def rules(name: str) -> dict[str, Any]:
    """The parsed rules file ``rules/<name>.yaml``."""
    with (RULES / f"{name}.yaml").open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@functools.cache
def word_list(name: str) -> tuple[str, ...]:
    """The words of the list ``rules/<name>.txt``: one per line, ``#`` lines are comments."""
    text = (RULES / f"{name}.txt").read_text("utf-8")
    return tuple(w for line in text.splitlines() if (w := line.strip()) and w[0] != "#")


# --------------------------------------------------------------------------------------------
# Value shapes
# --------------------------------------------------------------------------------------------
# Latin letters with Latin-1, Extended-A/B and Extended Additional (Ś, Ł, Ğ, Ư ...).
_UPPER = "A-ZÀ-ÖØ-Þ\u0100-\u024F\u1E00-\u1EFF"
_LETTER = "a-zà-öø-ÿA-ZÀ-ÖØ-Þ\u0100-\u024F\u1E00-\u1EFF"
_PARTICLES = ("de la|de los|de las|de|du|del|della|van der|van den|van|von der|von|der|den|le|"
              "la|da|das|dos|do|di|y|e|bin|ibn|al|el|ten|ter|zu")
#: One to five capitalised words, particles allowed between them (Ana de la Cruz, O'Neil,
#: Jean-Luc, Müller-Lüdenscheidt).
NAME = (rf"[{_UPPER}][{_LETTER}'\u2019.-]*(?:[ ]+(?:(?:{_PARTICLES})[ ]+)?"
        rf"[{_UPPER}][{_LETTER}'\u2019.-]*){{0,4}}")
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec|"
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|"
    "novembre|décembre|decembre|janv|févr|avr|juil|sept|déc|"
    "Januar|Jänner|Februar|März|Maerz|April|Mai|Juni|Juli|August|September|Oktober|November|"
    "Dezember|Okt|Dez|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|"
    "noviembre|diciembre|ene|abr|ago|dic")
#: The common ways to write a calendar date (ISO, day-month-year with / . -, day month year
#: in English, French, German, Spanish, month day, year).
DATE = (r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)"
        r"|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})(?!\d|\.\d)"
        rf"|\d{{1,2}}(?:st|nd|rd|th|er)?\.?(?:[ ]+(?:de|of))?[ ]+(?i:{_MONTHS})\.?(?:[ ]+de)?,?"
        r"[ ]+\d{4}"
        rf"|(?i:{_MONTHS})\.?[ ]+\d{{1,2}}(?:st|nd|rd|th)?,?[ ]+\d{{4}})")
_SHAPES = {
    "name": NAME,
    # An address value has a digit somewhere (a house number or a postcode).
    # A postal address: a digit and a word of letters, not a URL, an IP or a host:port.
    "address": (r"(?![^\n\"']*://)(?!(?i:localhost))(?![\d.:\[\]a-fA-F]+(?:[\s\"',;&|]|$))"
                r"(?=[^\n\"']{0,150}\d)(?=[^\n\"']{0,150}[^\W\d_]{2})"
                r"[^\n\"'<>{}\[\];&|=]{5,150}?"),
    "email": r"[^\s@\"'<>&,;]{1,64}@[^\s@\"'<>&,;]{1,255}\.[A-Za-z]{2,24}",
    "date": DATE,
    "phone": r"\+?[\d(][\d ().-]{5,20}\d",
    "ssn": r"\d{3}[- ]?\d{2}[- ]?\d{4}",
    "iban": r"[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){10,30}",
}


#: Where an unquoted field's value ends, per shape: a name at the end of the field (line,
#: comma, two spaces); an address may run on past its commas; an e-mail, a date, a number at
#: the next space or delimiter.
_FIELD_END = {
    "name": r"(?=[ \t]*(?:$|[\n,;&|)]|[ \t]{2}))",
    "address": r"(?=[ \t]*(?:$|[\n;&|]))",
    "email": r"(?=[\s,;&|)\]\"'}<>]|$)",
    "date": r"(?=[\s,;&|)\]\"'}<>.]|$)",
    "phone": r"(?=[\s,;&|)\]\"'}<>.]|$)",
    "ssn": r"(?=[\s,;&|)\]\"'}<>.]|$)",
    "iban": r"(?=[\s,;&|)\]\"'}<>.]|$)",
}


def _key_alternation(keys: list[str]) -> str:
    parts = []
    for key in sorted(set(keys), key=len, reverse=True):
        words = [regex.escape(w) for w in key.split()]
        parts.append(r"[ _-]?".join(words))
    return "|".join(parts)


class KeyedValues:
    """Which entity a JSON member is, from its key and the shape of its value.

    The same rules as `key_value_recognizers`, for JSON that the content walker has already
    parsed into (key, value) pairs, where the key is no longer in the text analyzed:
    ``{"full_name": "Ana Souza"}`` -> PERSON, ``{"name": "checkout-service"}`` -> None.
    Memoized per key; the shape is matched per value.
    """

    def __init__(self, enabled: frozenset[str]) -> None:
        spec = rules("personal_keys")
        prefixes = "|".join(regex.escape(p) for p in sorted(set(spec["prefixes"]), key=len,
                                                             reverse=True))
        self._groups = []
        for entity, group in spec["groups"].items():
            if entity in enabled:
                key = regex.compile(
                    rf"(?i:(?:(?:{prefixes})[_-]?)?(?:{_key_alternation(group['keys'])}))")
                self._groups.append((entity, key, regex.compile(_SHAPES[group["shape"]],
                                                                _FLAGS)))
        self._memo: dict[str, tuple[tuple[str, Any], ...]] = {}

    def __call__(self, key: str, value: str) -> str | None:
        groups = self._memo.get(key)
        if groups is None:
            groups = tuple((entity, shape) for entity, rx, shape in self._groups
                           if rx.fullmatch(key.strip()))
            if len(self._memo) < 8192:
                self._memo[key] = groups
        value = value.strip()
        for entity, shape in groups:
            if shape.fullmatch(value):
                return entity
        return None
