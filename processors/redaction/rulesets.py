"""Recognizers built from the data files of rules/: structure-aware detection and the wide rules.

* `key_value_recognizers`: a value under a personal-data key (rules/personal_keys.yaml) in
  JSON, code, forms or URL query strings is redacted whole, as its group's entity, when it has
  the group's shape (a name, an address with a digit, a date ...).
* `vendor_secret_recognizer`: credentials by vendor token format (rules/secrets.yaml).
* `entropy_secret_recognizer`: a random-looking token assigned to any variable.
* `birth_date_recognizer`, `ssn_cue_recognizer`, `personal_url_recognizer`,
  `person_header_recognizer` (commit trailers, greetings and sign-offs),
  `given_name_recognizer` (a known given name before capitalised surname words).

Everything is compiled once, when the engines are built; the patterns go through the
patterns pass's prefilter like every other recognizer's. The files are read once per process.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import regex
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from processors.redaction.config import Entity
from processors.redaction.keys import (
    _FIELD_END,
    _FLAGS,
    _LETTER,
    _SHAPES,
    _UPPER,
    DATE,
    NAME,
    _key_alternation,
    rules,
    word_list,
)
from processors.redaction.recognizers import GatedRecognizer


def key_value_recognizers(enabled: frozenset[str]) -> list[PatternRecognizer]:
    """One recognizer per group of rules/personal_keys.yaml whose entity is enabled."""
    spec = rules("personal_keys")
    prefixes = "|".join(regex.escape(p) for p in sorted(set(spec["prefixes"]), key=len,
                                                         reverse=True))
    out = []
    for entity, group in spec["groups"].items():
        if entity not in enabled:
            continue
        shape = _SHAPES[group["shape"]]
        # A parenthesis may stand between a form's key and its colon:
        # "Name (as shown on your income tax return): ..."
        key = (rf"(?<![\w-])(?i:(?:(?:{prefixes})[_-]?)?(?:{_key_alternation(group['keys'])}))"
               r"[\"']?(?:[ \t]*\([^()\n]{1,60}\))?")
        patterns = [
            # "key": "value" / key='value' / key = "value": the value up to its closing quote.
            Pattern(f"{entity.lower()}_quoted",
                    rf"{key}[ \t]{{0,3}}[:=][ \t]{{0,3}}([\"'])\K(?:{shape})(?=\1)", 0.85),
            # Key: value / key=value (forms, YAML, query strings): up to the end of the field
            # (an address runs on past its commas).
            Pattern(f"{entity.lower()}_field",
                    rf"{key}[ \t]{{0,3}}(?::[ \t]{{0,3}}|=)\K(?!\")(?:{shape})"
                    + _FIELD_END.get(group["shape"], _FIELD_END["name"]), 0.8),
        ]
        out.append(GatedRecognizer(
            gates={p.name: _has_separator for p in patterns},
            supported_entity=entity, name=f"sidecar_key_{entity.lower()}",
            patterns=patterns, global_regex_flags=_FLAGS))
    return out


def _has_separator(text: str) -> bool:
    return ":" in text or "=" in text


# --------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------
def vendor_secret_recognizer() -> PatternRecognizer:
    """The vendor token formats of rules/secrets.yaml, reported as SECRET."""
    patterns, gates = [], {}
    for rule in rules("secrets")["rules"]:
        patterns.append(Pattern(rule["id"], rule["regex"], float(rule["score"])))
        if rule.get("trigger"):
            gates[rule["id"]] = _any_of(rule["trigger"].split("|"))
    return GatedRecognizer(gates=gates, supported_entity=Entity.SECRET.value,
                           name="sidecar_vendor_secret", patterns=patterns,
                           global_regex_flags=_FLAGS)


def _any_of(literals: list[str]) -> Callable[[str], bool]:
    return lambda text: any(s in text for s in literals)


class _EntropyRecognizer(PatternRecognizer):
    """Tokens assigned to a variable, kept only when they look random (mixed classes,
    high Shannon entropy, not hexadecimal: hex ids, SHAs and digests are not secrets)."""

    def validate_result(self, pattern_text: str) -> bool:
        return looks_random(pattern_text)


_HEX = regex.compile(r"[0-9a-fA-F-]+")


def looks_random(token: str) -> bool:
    """A credential-like random token: 20+ characters, upper and lower case and digits,
    not hexadecimal, at least 4.2 bits of entropy per character."""
    if len(token) < 20 or _HEX.fullmatch(token):
        return False
    if not (any(c.isupper() for c in token) and any(c.islower() for c in token)
            and any(c.isdigit() for c in token)):
        return False
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return entropy >= 4.2


#: Variable names whose values are identifiers, never credentials.
_ID_NAMES = r"(?:id|ids|uuid|guid|sha|hash|digest|checksum|etag|version|model|trace|span|ref)"


def entropy_secret_recognizer() -> PatternRecognizer:
    pattern = Pattern(
        "entropy_assignment",
        rf"(?<![\w-])(?![\w-]*(?i:[_-]?{_ID_NAMES})[\"']?[ \t]{{0,3}}[:=])[A-Za-z_][\w-]{{1,40}}"
        r"[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?\K[A-Za-z0-9+/_=-]{20,200}(?![\w+/=-])",
        0.75)
    return _EntropyRecognizer(
        supported_entity=Entity.GENERIC_SECRET.value, name="sidecar_entropy_secret",
        patterns=[pattern], global_regex_flags=_FLAGS)


# --------------------------------------------------------------------------------------------
# Birth dates, SSNs with their cue, URLs carrying personal data, names in headers
# --------------------------------------------------------------------------------------------
_BIRTH_CUES = (r"born|b\.|DOB|D\.O\.B\.?|date[ _-]of[ _-]birth|birth[ _-]?date|birthday"
               r"|dateOfBirth|n[ée]e?|date de naissance|geboren|geb\.|Geburtsdatum|Geburtstag"
               r"|fecha de nacimiento|nacid[oa]|F\.[ ]?nac\.")


def birth_date_recognizer() -> PatternRecognizer:
    pattern = Pattern(
        "birth_cue",
        # The date may follow on the next line (a form's next field, the answer to a question).
        rf"(?<![\w])(?i:{_BIRTH_CUES})(?![\w])(?:[^\d\n]{{0,40}}?\n)?[^\d\n]{{0,30}}?\K{DATE}",
        0.85)
    return PatternRecognizer(supported_entity=Entity.DATE_OF_BIRTH.value,
                             name="sidecar_birth_date", patterns=[pattern],
                             global_regex_flags=_FLAGS)


def ssn_cue_recognizer() -> PatternRecognizer:
    """SSNs written without dashes (or with spaces), next to an SSN cue."""
    pattern = Pattern(
        "ssn_cue",
        r"(?<![\w])(?i:ssn|social[ _-]security(?:[ _-](?:number|no\.?|#))?|ss#|soc\.?[ ]?sec\.?)"
        r"(?![\w])[^\d\n]{0,60}?\K(?<!\d)\d{3}[ -]?\d{2}[ -]?\d{4}(?![\d-])", 0.85)
    return PatternRecognizer(supported_entity=Entity.US_SSN.value, name="sidecar_ssn_cue",
                             patterns=[pattern], global_regex_flags=_FLAGS)


_URL_KEYS = (r"first[_-]?name|last[_-]?name|full[_-]?name|given[_-]?name|family[_-]?name|"
             r"surname|name|fname|lname|e-?mail|mail|phone|tel|mobile|dob|birth[_-]?date|"
             r"birthday|ssn|address|street|zip|postcode|postal[_-]?code|user(?:[_-]?name)?|"
             r"patient|customer|nom|prenom|vorname|nachname|nombre|apellido")
_URL_END = r"[^\s\"'<>]*[^\s\"'<>.,;:!?)\]]"


def personal_url_recognizer() -> PatternRecognizer:
    patterns = [
        Pattern("query",
                rf"\bhttps?://[^\s\"'<>?]+\?(?:[^\s\"'<>]*&)?(?:\w+[_-])?(?i:{_URL_KEYS})="
                rf"[^&\s\"'<>]{{2,}}(?:{_URL_END})?", 0.8),
        # An e-mail address anywhere in the query string (?e=ana%40example.org, ?to=a@b.c).
        Pattern("query_email",
                rf"\bhttps?://[^\s\"'<>?]+\?[^\s\"'<>@]*?(?:@|%40)[^\s\"'<>]*?"
                rf"{_URL_END}", 0.8),
        Pattern("profile",
                r"\bhttps?://(?:[\w-]+\.)?(?:linkedin\.com/in|xing\.com/profile|facebook\.com"
                r"|instagram\.com|twitter\.com|x\.com|tiktok\.com/@|medium\.com/@)"
                rf"/?[\w.%-]{{2,}}{_URL_END}?", 0.8),
        # An account page: github.com/<user>, nothing after it.
        Pattern("account",
                r"\bhttps?://(?:www\.)?(?:github|gitlab)\.com/[A-Za-z0-9][\w.-]{0,38}"
                r"(?![\w/.-]*[\w/-])", 0.7),
    ]
    return GatedRecognizer(gates={p.name: _has_url for p in patterns},
                           supported_entity=Entity.PERSONAL_URL.value,
                           name="sidecar_personal_url", patterns=patterns,
                           global_regex_flags=_FLAGS)


def _has_url(text: str) -> bool:
    return "://" in text


_HEADER_CUES = (r"Author|Commit|Committer|Co-authored-by|Signed-off-by|Reviewed-by|Acked-by"
                r"|Tested-by|Reported-by|Suggested-by|Helped-by|Cc")
_GREETINGS = (r"Welcome|Bienvenue|Willkommen|Bienvenido|Bienvenida|Hi|Hello|Hey|Dear|Thanks"
              r"|Thank you|Many thanks|Thx|Cheers|Best|Best wishes"
              r"|Best regards|Kind regards|Regards|Warm regards|Warmly|All the best|Sincerely"
              r"|Yours|Yours sincerely|Bonjour|Salut|Merci|Cordialement|Bien cordialement"
              r"|Sincères salutations|Bien à vous|Hallo|Liebe|Lieber|Danke|Grüße|Gruß|Grüßen"
              r"|Viele Grüße|Beste Grüße|Mit freundlichen Grüßen|Freundliche Grüße|Hola|Gracias"
              r"|Saludos|Un saludo|Saludos cordiales|Atentamente|Un abrazo|Estimado|Estimada"
              r"|Querido|Querida")
_INTRODUCTIONS = (r"[Mm]y name is|[Ss]oy|[Jj]e suis|[Jj]e m'appelle|[Jj]e m\u2019appelle|[Ii]ch bin"
                  r"|[Ii]ch heiße|[Mm]ein Name ist|[Mm]e llamo|[Mm]i nombre es|[Ll]e atiende"
                  r"|[Ll]e habla|[Hh]ier spricht|[Aa]u nom de|[Mm]erci à|[Ii]m Namen von"
                  r"|[Aa] nombre de|[Ee]n nombre de|[Tt]itular|[Ii]nhaber(?:in)?|[Tt]itulaire"
                  r"|you're through to|you are through to|[Ss]ie sprechen mit"
                  r"|[Ss]ie sind verbunden mit"
                  r"|vous êtes en ligne avec|vous parlez à|[Hh]abla con|[Ee]stá hablando con")
#: Who speaks in a transcript: "Agent (Carmen):", "Agente Lorena:", "[10:02] Advisor Tom:".
_SPEAKER_ROLES = (r"Agent|Agente|Advisor|Adviser|Rep|Representative|Operator|Support|Conseiller"
                  r"|Conseillère|Berater|Beraterin|Mitarbeiter|Mitarbeiterin|Asesor|Asesora"
                  r"|Operadora|Operador|Técnico|Técnica|Doctor|Dr\.|Nurse|Infirmière")


def person_header_recognizer() -> PatternRecognizer:
    """Names in commit trailers (``Author: First Last <mail>``), greetings and sign-offs."""
    patterns = [
        Pattern("trailer",
                rf"(?m:^[ \t]*(?:{_HEADER_CUES}):[ \t]+)\K{NAME}(?=[ \t]+<)", 0.85),
        Pattern("speaker",
                rf"(?m:^[ \t]*(?:\[[^\]\n]{{0,30}}\][ \t]*)?(?:{_SPEAKER_ROLES})[ \t]*\(?[ \t]*)\K"
                rf"[{_UPPER}][{_LETTER}'\u2019-]+(?:[ ]+[{_UPPER}][{_LETTER}'\u2019-]+)?"
                r"(?=[ \t]*\)?[ \t]*:)", 0.7),
        # A dash sign-off on its own line: an em or en dash, or "--", then the name
        Pattern("dash_signoff",
                rf"(?m:^[ \t]*(?:\u2014|\u2013|--?)[ \t]*)\K[{_UPPER}][{_LETTER}'\u2019-]+"
                rf"(?:[ ]+[{_UPPER}][{_LETTER}'\u2019-]+)?(?=[ \t]*$)", 0.6),
        # A display name before its address: Judit Vila <judit@example.org>
        Pattern("display_name", rf"{NAME}(?=[ \t]*<[^<>\s@]+@[^<>\s]+>)", 0.7),
        # "Name à votre écoute" (the French agent's greeting)
        Pattern("a_votre_ecoute", rf"{NAME}(?=,?[ \t]+à votre écoute)", 0.6),
        # A form's first line "Surname, Firstname" alone on its line, before a field.
        Pattern("surname_first",
                rf"(?m:^[ \t]*)[{_UPPER}][{_LETTER}'\u2019-]+,[ \t]+[{_UPPER}][{_LETTER}'\u2019-]+"
                r"(?=[ \t]*\n[^\n]{1,40}:)", 0.6),
        Pattern("greeting",
                rf"(?<![\w])(?i:{_GREETINGS})[ \t]*[,!]?(?:[ \t]*\n)?[ \t]*\K{NAME}"
                r"(?=[ \t]*(?:[,.!:;\n]|$|\s+-))", 0.6),
        # Someone saying who they are, or naming whom a thing is for, in four languages.
        Pattern("introduction",
                rf"(?<![\w])(?:{_INTRODUCTIONS})[ \t]+\K{NAME}", 0.6),
    ]
    gates = {
        "display_name": lambda text: "@" in text and "<" in text,
        "a_votre_ecoute": lambda text: "votre écoute" in text,
        "trailer": lambda text: ":" in text and "<" in text,
        "speaker": lambda text: ":" in text,
        "surname_first": lambda text: "," in text and ":" in text,
    }
    return GatedRecognizer(gates=gates, supported_entity=Entity.PERSON.value,
                           name="sidecar_person_header", patterns=patterns,
                           global_regex_flags=_FLAGS)


# --------------------------------------------------------------------------------------------
# Given name + surname: a name of rules/first_names.txt (a public-domain list of real given
# names) followed by capitalised surname words. The small NER model misses many plain
# "Helena Ramos" in running text; a known given name before a capitalised word is a strong
# signal. Names that are everyday words (rules/not_names.yaml ambiguous_given_names, spaCy's
# stop words) never start one, and a following word that makes it a place, an organisation
# or a product (not_surnames, company_words, the technology words) ends it.
# --------------------------------------------------------------------------------------------
# (an inner capital only after Mc / Mac: McDonald is a name, OpenTofu a product)
# (and an apostrophe only inside: O'Neal, D'Angelo, Ng'ang'a, never the closing quote)
_CAP = (r"(?:Ma?c\p{Lu}\p{Ll}+|\p{Lu}['\u2019]\p{L}\p{Ll}+|\p{Lu}\p{Ll}+(?:['\u2019]\p{Ll}+)*)"
        r"(?!\p{Lu})(?:-\p{Lu}\p{Ll}+)?")
_PARTICLE = r"(?:van|von|de|del|della|da|di|du|le|la|der|den|dos|das|ten|ter|bin|ibn|al)"
_CAP_RUN = regex.compile(rf"(?<![\w.@/-]){_CAP}(?:[ ]+(?:{_PARTICLE}[ ]+)?{_CAP})+(?![\w@/-])")
_WORD_IN_RUN = regex.compile(rf"{_CAP}|{_PARTICLE}")


class _GivenNameRecognizer(EntityRecognizer):
    """See the section comment. Own ``analyze``: no Presidio pattern loop, no NLP needed."""

    def __init__(self) -> None:
        from spacy.lang.de.stop_words import STOP_WORDS as DE
        from spacy.lang.en.stop_words import STOP_WORDS as EN
        from spacy.lang.es.stop_words import STOP_WORDS as ES
        from spacy.lang.fr.stop_words import STOP_WORDS as FR

        data = rules("not_names")
        # (the languages of the content we see: "Der Fork", "Las Rozas" start no name)
        stops = {w.casefold() for w in (*EN, *DE, *FR, *ES)}
        ambiguous = {w.casefold() for w in data["ambiguous_given_names"]} | stops
        self._given = frozenset(n for n in word_list("first_names")
                                if n.casefold() not in ambiguous)
        self._stop_after = frozenset(
            {w.casefold() for w in (*data["not_surnames"], *data["company_words"],
                                    *data["words"])} | stops)
        super().__init__(supported_entities=[Entity.PERSON.value], name="sidecar_given_name",
                         supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list:
        out = []
        for run in _CAP_RUN.finditer(text):
            words = list(_WORD_IN_RUN.finditer(run.group()))
            i = 0
            while i < len(words) - 1:
                first = words[i].group()
                if first in self._given:
                    end = i
                    for j in range(i + 1, min(len(words), i + 4)):
                        w = words[j].group()
                        if w.casefold() in self._stop_after:
                            break
                        end = j
                    if end > i and words[end].group()[:1].isupper():
                        out.append(RecognizerResult(
                            Entity.PERSON.value, run.start() + words[i].start(),
                            run.start() + words[end].end(), 0.6))
                        i = end + 1
                        continue
                i += 1
        return out


def given_name_recognizer() -> EntityRecognizer:
    return _GivenNameRecognizer()
