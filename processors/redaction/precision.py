"""After the recognizers: drop the findings that are not personal data, then spread the names.

`Refiner.refine` runs on the findings of one text, in the analyzing process:

1. Precision rules, one per look-alike class that destroys useful content:
   * IP addresses that are loopback or unspecified (127.0.0.0/8, 0.0.0.0, ::1, ::), and
     dotted numbers that are versions (``v1.2.3.4``, ``build 10.0.19045.2``, ``Python
     3.11.7.0``, a changelog heading ``## 1.4.37.212``, five parts);
   * secrets that are placeholders or references, not values (``os.environ["KEY"]``,
     ``$AWS_ACCESS_KEY_ID``, ``${STRIPE_KEY}``, ``<YOUR_API_KEY>``, ``sk-...``, ``xxxx``);
   * PERSON findings made only of technology, product or role words (rules/not_names.yaml,
     rules/software_names.txt: widely used packages),
     or shaped like code (``snake_case``, ``dotted.names``, ``CamelCase()`` calls), or that
     are a date written out (``Sat Sep 13 05:31:53``);
   * LOCATION findings that are host names (``localhost``) or technology words (Ruby).
2. Propagation: every other occurrence of a name found in the text, and of each of its
   capitalised words standing alone (the first name used after the full name), is a PERSON
   finding too.

`foreign_aware` wraps Presidio's SpacyRecognizer for the English model on text in another
language: German, French and Spanish capitalise words the English model takes for names
(German nouns above all: "Vollmacht", "Kein Problem"). In a text whose stop words say it is
German, French or Spanish (spaCy's stop word lists, no model), a name or place of the model is
kept only when it has at least two capitalised words and none of them is a stop word of that
language. It filters before Presidio merges overlapping results, so a name that a rule found
too (a key, a cue, a greeting) stays.

The word lists and patterns are compiled once, when the engines are built.
"""

from __future__ import annotations

import ipaddress
import unicodedata

import regex

from processors.redaction.keys import rules, word_list

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
    r"|.*(?:%[-+ 0#]?\d*[sdifxr]|\{\d*\}|\{[a-z_]+\}).*"
    r"|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_VERSION_BEFORE = regex.compile(
    r"(?i:(?:\bv|version|ver\.?|build|release|rel\.?|firmware|os|kernel|chrome|firefox"
    r"|windows|android|ios|tls|sdk|api|agent|plugin|package|library|image|tag|driver|patch"
    r"|update|upgrade|python|py|node|nodejs|java|jdk|jre|go|golang|ruby|php|perl|rustc?"
    r"|gcc|clang|dotnet|\.net|postgres(?:ql)?|mysql|redis|nginx|openssl|glibc|libc)"
    r"[ :=/-]{0,2})$")
#: A changelog or release-notes heading: "## 1.4.37.212 (8.4.2026)".
_HEADING_BEFORE = regex.compile(r"(?m:^[ \t]*#{1,6}[ \t]*\[?v?)$")
_VERSION_WORD = regex.compile(
    r"(?i:version|versión|versão|release|build|binary|client|agent|server|upgrade|update"
    r"|aktualisiert|mise à jour|actualiz|firmware|kernel|driver|sdk|runtime|cluster)")
#: A "name" that is a date written out (git's "Sat Sep 13 05:31:53 2025"): weekday or month
#: words, then a number.
_DATE_WORDS = regex.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)"
    r"\.?,?[ ]+){1,2}\d")
_CODE_SHAPE = regex.compile(r"[_/\\=(){}\[\]<>@#$%^&*+|~`]|\.\w|^[a-z]+[A-Z]\w*$")
_WORD = regex.compile(r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿA-ZÀ-ÖØ-Þ'\u2019-]{2,}")
_SEPARATORS = regex.compile(r"[\s,/-]+")
_NOT_LETTERS = regex.compile(r"[^a-z]+")
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
        self._software = frozenset(w.casefold() for w in word_list("software_names"))
        self._not_names = frozenset(w.casefold() for w in rules("not_names")["words"])
        self._company_words = frozenset(
            w.casefold() for w in rules("not_names")["company_words"])

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
        if kind == "PHONE_NUMBER":
            # A time zone offset (+0100) or a short code is not a phone number.
            return sum(c.isdigit() for c in value) < 7
        if kind == "PERSON":
            return (self.not_a_name(value) or self._company(value)
                    or _DATE_WORDS.match(text, start, end + 4) is not None)
        if kind == "LOCATION":
            return (value.casefold() in ("localhost", "localhost.localdomain")
                    or self.not_a_name(value))
        return False

    def not_a_name(self, value: str) -> bool:
        """True for a value no person is called: only technology / role words, or code."""
        if _CODE_SHAPE.search(value):
            return True
        # The capitalised words decide: "Celery con Redis" is two tools, "Ana de la Cruz" one
        # person; "Jenkins-Pipelines" is a tool's pipelines.
        words = [w.casefold().strip(".'") for w in _SEPARATORS.split(value.strip(" .,'\""))
                 if w[:1].isupper()]
        if not words:
            return False
        # (a technology word beside another word may be a person: Jenkins Okafor)
        return all(w in self._not_names or w in self._software for w in words)

    def _company(self, value: str) -> bool:
        """A name whose last word says it is a company (Northwind Outfitters, Acme GmbH)."""
        words = value.strip(" .,").split()
        return len(words) >= 2 and words[-1].casefold().strip(".") in self._company_words

    # -- propagation ----------------------------------------------------------------------
    def _email_names(self, text: str, found: list[Finding]) -> set[str]:
        """Capitalised words of the text that spell a part of an e-mail address found in it
        (Sherine Davis next to davis.sherine@...): names, whoever else missed them."""
        parts: set[str] = set()
        for s, e, kind, _ in found:
            if kind == "EMAIL_ADDRESS":
                local = text[s:e].split("@", 1)[0].casefold()
                folded = _fold(local)
                parts.update(p for p in _NOT_LETTERS.split(folded) if len(p) >= 3)
                parts.add(_NOT_LETTERS.sub("", folded))
        if not parts:
            return set()
        names = set()
        for w in _WORD.findall(text):
            folded = _fold(w.casefold())
            if (len(folded) >= 3 and w not in _COMMON and folded not in self._not_names
                    and (folded in parts or any(len(folded) >= 4 and folded in p
                                                for p in parts))):
                names.add(w)
        return names

    def _propagate(self, text: str, found: list[Finding]) -> list[Finding]:
        names = {text[s:e].strip() for s, e, kind, _ in found if kind == "PERSON"}
        names |= self._email_names(text, found)
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
        # Every whole-word occurrence, longest names first (str.find, not a regex compiled
        # per text: that compile cost more than the rest of the patterns pass).
        n = len(text)
        for w in sorted(words, key=len, reverse=True):
            i = text.find(w)
            while i >= 0:
                e = i + len(w)
                if ((i == 0 or not _is_word_char(text[i - 1]))
                        and (e == n or not _is_word_char(text[e]))
                        and not any(a <= i and e <= b for a, b in covered)):
                    out.append((i, e, "PERSON", 0.6))
                    covered.append((i, e))
                i = text.find(w, i + 1)
        return sorted(out)


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


_MODEL_TYPES = frozenset({"PERSON", "LOCATION"})
_TOKEN = regex.compile(r"[^\W\d_]+")


class StopWords:
    """Which of English, German, French, Spanish a text is in, by its stop words (spaCy's
    lists: no model)."""

    def __init__(self) -> None:
        from spacy.lang.de.stop_words import STOP_WORDS as DE
        from spacy.lang.en.stop_words import STOP_WORDS as EN
        from spacy.lang.es.stop_words import STOP_WORDS as ES
        from spacy.lang.fr.stop_words import STOP_WORDS as FR

        self._stop = {"en": frozenset(EN), "de": frozenset(DE), "fr": frozenset(FR),
                      "es": frozenset(ES)}

    def foreign(self, text: str) -> frozenset[str] | None:
        """The stop words of the text's language when it is German, French or Spanish."""
        words = [w.casefold() for w in _TOKEN.findall(text[:4000])]
        if len(words) < 3:
            return None
        best, best_hits = None, sum(w in self._stop["en"] for w in words)
        for lang in ("de", "fr", "es"):
            hits = sum(w in self._stop[lang] for w in words)
            if hits > best_hits:
                best, best_hits = lang, hits
        return self._stop[best] if best else None


def foreign_aware(recognizer):
    """Presidio's SpacyRecognizer, keeping on German / French / Spanish text only the names
    and places the English model could mean (`_plausible_in`); on English text, all."""
    languages = StopWords()
    inner = recognizer.analyze

    def analyze(text, entities, nlp_artifacts=None, *args, **kwargs):
        results = inner(text, entities, nlp_artifacts, *args, **kwargs)
        if not results or not any(r.entity_type in _MODEL_TYPES for r in results):
            return results
        stop = languages.foreign(text)
        if stop is None:
            return results
        kept = []
        for r in results:
            if r.entity_type in _MODEL_TYPES:
                start = _trim_stop_words(text, r.start, r.end, stop)
                if not _plausible_in(text[start:r.end], stop):
                    continue
                r.start = start
            kept.append(r)
        return kept

    recognizer.analyze = analyze
    return recognizer


def _trim_stop_words(text: str, start: int, end: int, stop: frozenset[str]) -> int:
    """The start of the finding without its leading stop words ("Mein Vater Heinrich...")."""
    for m in _TOKEN.finditer(text, start, end):
        if m.group().casefold() not in stop:
            return m.start()
    return end


def _plausible_in(value: str, stop: frozenset[str]) -> bool:
    """A model-made name in a foreign text: two or more capitalised words, no stop word."""
    words = _TOKEN.findall(value)
    capitalised = [w for w in words if w[:1].isupper()]
    return len(capitalised) >= 2 and not any(w.casefold() in stop for w in words)


def _fold(word: str) -> str:
    """Lower case without accents: Lafrenière -> lafreniere (as e-mail addresses write it)."""
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()


def _not_personal_ip(text: str, start: int, end: int, value: str) -> bool:
    try:
        ip = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None and (ip.is_loopback or ip.is_unspecified):
        return True
    if ":" in value:
        return False
    # A dotted number with a fifth part, or after a version word, or an image tag
    # (web:2.7.1.4), is a version.
    if (text[end:end + 1] == "." and text[end + 1:end + 2].isdigit()) or (
            start and text[start - 1] in ".-"):
        return True
    if start >= 2 and text[start - 1] == ":" and text[start - 2].isalnum():
        return True
    if value.startswith("0."):
        return True  # 0.0.0.0/8 is "this network": never a host's address
    if _VERSION_BEFORE.search(text[max(0, start - 12):start]) or _HEADING_BEFORE.search(
            text[max(0, start - 12):start]):
        return True
    # Small numbers after a version word earlier on the line: version = "0.14.2.1",
    # "Versión 6.1.0.44", "binary 0.9.1.12", "auf 1.31.4.2 aktualisiert".
    if all(int(p) < 64 for p in value.split(".") if p.isdigit()):
        line = text[text.rfind("\n", 0, start) + 1:start]
        return _VERSION_WORD.search(line[-60:]) is not None
    return False
