"""After the recognizers: drop the findings that are not personal data, then spread the names.

`Refiner.refine` runs on the findings of one text, in the analyzing process:

1. Precision rules, one per look-alike class that destroys useful content:
   * IP addresses that are loopback or unspecified (127.0.0.0/8, 0.0.0.0, ::1, ::), and
     dotted numbers that are versions (``v1.2.3.4``, ``build 10.0.19045.2``, five parts);
   * secrets that are placeholders or references, not values (``os.environ["KEY"]``,
     ``$AWS_ACCESS_KEY_ID``, ``${STRIPE_KEY}``, ``<YOUR_API_KEY>``, ``sk-...``, ``xxxx``);
   * PERSON findings made only of technology, product or role words (rules/not_names.yaml),
     or shaped like code (``snake_case``, ``dotted.names``, ``CamelCase()`` calls);
   * LOCATION findings that are host names (``localhost``) or technology words (Ruby).
2. Propagation: every other occurrence of a name found in the text, and of each of its
   capitalised words standing alone (the first name used after the full name), is a PERSON
   finding too.

The word lists and patterns are compiled once, when the engines are built.
"""

from __future__ import annotations

import ipaddress

import regex

from processors.redaction.rulesets import rules

#: One finding: (start, end, entity type, score) -- engine.Finding.
Finding = tuple[int, int, str, float]

_SECRET_TYPES = frozenset({
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "GITHUB_TOKEN",
    "JWT", "PRIVATE_KEY", "BEARER_TOKEN", "GENERIC_SECRET", "SECRET"})
#: A reference to a secret kept elsewhere, or a placeholder (matched against the whole value).
_PLACEHOLDER = regex.compile(
    r"(?:os\.environ|os\.getenv|getenv|process\.env|ENV\[|env\(|System\.getenv|\$\{?|%\w+%"
    r"|\{\{|<[A-Za-z_ -]+>|\[[A-Za-z_ -]+\]).*"
    r"|.*(?:\.\.\.|\u2026|(?i:xxxx|\*\*\*\*|<redacted>|redacted|changeme"
    r"|your[_-]?(?:api[_-]?)?(?:key|token|secret|password))).*"
    r"|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_VERSION_BEFORE = regex.compile(
    r"(?i:(?:\bv|version|ver\.?|build|release|rel\.?|firmware|os|kernel|chrome|firefox"
    r"|windows|android|ios|tls|sdk|api)[ :=/-]{0,2})$")
_CODE_SHAPE = regex.compile(r"[_/\\=(){}\[\]<>@#$%^&*+|~`]|\.\w|^[a-z]+[A-Z]\w*$")
_WORD = regex.compile(r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿA-ZÀ-ÖØ-Þ'\u2019-]{2,}")
#: Capitalised words that stand alone at a sentence start or in a title: never spread.
_COMMON = frozenset((  # noqa: SIM905 - a word list reads better as one string
    "The This That These Those There Then When Where What Which Who Whom Whose Why How And "
    "But For Not Yes Please Thanks Thank Hello Dear Best Regards Monday Tuesday Wednesday "
    "Thursday Friday Saturday Sunday January February March April May June July August "
    "September October November December Mr Mrs Ms Miss Dr Prof Sir Madam Herr Frau Madame "
    "Monsieur Mme Mlle Señor Señora Don Doña"
).split())


class Refiner:
    """Precision rules and name propagation for one text's findings (see the module doc)."""

    def __init__(self) -> None:
        self._not_names = frozenset(w.casefold() for w in rules("not_names")["words"])

    def refine(self, text: str, found: list[Finding]) -> list[Finding]:
        """The findings worth acting on, plus the spread names; sorted by start."""
        kept = [f for f in found if not self._look_alike(text, f)]
        return self._propagate(text, kept)

    # -- precision rules ----------------------------------------------------------------
    def _look_alike(self, text: str, finding: Finding) -> bool:
        start, end, kind, _score = finding
        value = text[start:end]
        if kind == "IP_ADDRESS":
            return _not_personal_ip(text, start, end, value)
        if kind in _SECRET_TYPES:
            return kind != "PRIVATE_KEY" and _PLACEHOLDER.fullmatch(value.strip("\"'`")) is not None
        if kind == "PERSON":
            return self.not_a_name(value)
        if kind == "LOCATION":
            return (value.casefold() in ("localhost", "localhost.localdomain")
                    or self.not_a_name(value))
        return False

    def not_a_name(self, value: str) -> bool:
        """True for a value no person is called: only technology / role words, or code."""
        if _CODE_SHAPE.search(value):
            return True
        words = [w for w in regex.split(r"[\s,]+", value.strip(" .,'\"")) if w]
        return bool(words) and all(w.casefold().strip(".'") in self._not_names for w in words)

    # -- propagation ----------------------------------------------------------------------
    def _propagate(self, text: str, found: list[Finding]) -> list[Finding]:
        names = {text[s:e].strip() for s, e, kind, _ in found if kind == "PERSON"}
        if not names:
            return sorted(found)
        words = set(names)
        for name in names:
            for w in _WORD.findall(name):
                if w not in _COMMON and w.casefold() not in self._not_names:
                    words.add(w)
        words.discard("")
        covered = [(s, e) for s, e, *_ in found]
        out = list(found)
        pattern = regex.compile(
            r"(?<![\w])(?:" + "|".join(regex.escape(w) for w in sorted(words, key=len,
                                                                        reverse=True))
            + r")(?![\w])")
        for m in pattern.finditer(text):
            s, e = m.span()
            if not any(a <= s and e <= b for a, b in covered):
                out.append((s, e, "PERSON", 0.6))
                covered.append((s, e))
        return sorted(out)


def _not_personal_ip(text: str, start: int, end: int, value: str) -> bool:
    try:
        ip = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None and (ip.is_loopback or ip.is_unspecified):
        return True
    if ":" in value:
        return False
    # A dotted number with a fifth part, or after a version word, is a version.
    if regex.match(r"\.\d", text[end:end + 2]) or (start and text[start - 1] in ".-"):
        return True
    return _VERSION_BEFORE.search(text[max(0, start - 12):start]) is not None
