"""Our recognizers on top of Presidio's: secrets, street addresses, custom regexes from config.

All are Presidio ``PatternRecognizer``s (the ``regex`` module, so scoped flags work). Secrets
and streets are matched case-sensitively where the format is (key prefixes, capitalised street
names); Presidio's own default is case-insensitive, which would turn ``12 big plans`` into an
address.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import regex
from presidio_analyzer import Pattern, PatternRecognizer

from processors.redaction.config import CustomRecognizerConfig, Entity

_CASE_SENSITIVE = regex.DOTALL | regex.MULTILINE

# --------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------
_SECRETS: dict[Entity, tuple[list[tuple[str, float]], list[str]]] = {
    Entity.ANTHROPIC_API_KEY: ([(r"\bsk-ant-[A-Za-z0-9]{2,10}-[A-Za-z0-9_-]{20,}", 1.0)], []),
    Entity.OPENAI_API_KEY: (
        [(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", 0.95)], ["openai", "key"]
    ),
    Entity.AWS_ACCESS_KEY: (
        [(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z2-7]{16}\b", 0.95)],
        ["aws", "access"],
    ),
    # A 40-character secret only next to its label (a bare 40-char run is a git SHA as often).
    Entity.AWS_SECRET_KEY: (
        [(r"(?i:aws.{0,20}(?:secret|private).{0,20}?[\s:=\"']{1,5})\K"
          r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])", 0.9)],
        [],
    ),
    Entity.GITHUB_TOKEN: (
        [(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b", 1.0),
         (r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b", 1.0)],
        [],
    ),
    Entity.JWT: (
        [(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}", 0.95)], []
    ),
    Entity.PRIVATE_KEY: (
        # (with the escaped newline that ends it inside a JSON string, as in a GCP key file)
        [(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
          r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\\n)?|\Z)", 1.0)],
        [],
    ),
    # A value assigned to a variable named like a credential: API_KEY=..., "password": "...".
    Entity.GENERIC_SECRET: (
        [(r"(?i:(?<=\b(?:[A-Z0-9_]*(?:api|access|secret|private|auth)[_-]?(?:key|token)"
          r"|[A-Z0-9_]*secret|password|passwd|passwort|kennwort|pwd|mot de passe|mdp"
          r"|contraseña|contrasena|clave|token)[\"']?\s{0,3}[:=]\s{0,3}[\"']?))"
          r"(?![<\[])[^\s\"',;]{8,}", 0.85)],
        [],
    ),
    # The token after "Bearer" (the word itself is kept: it says what was there).
    Entity.BEARER_TOKEN: (
        [(r"(?<=\b[Bb]earer\s{1,4})[A-Za-z0-9._~+/-]{16,}=*", 0.9)], []
    ),
}

# --------------------------------------------------------------------------------------------
# Street addresses. Presidio's NER splits "2328 Figueroa Skyway Apt. 290" into pieces and
# usually leaves the street line, so the line is matched as a whole.
# --------------------------------------------------------------------------------------------
#: USPS street suffixes (full words) and their common abbreviations.
_US_SUFFIXES = (  # noqa: SIM905 - a word list reads better as one string
    "Alley Avenue Branch Bridge Brook Brooks Burg Burgs Bypass Camp Canyon Cape Causeway "
    "Center Centers Circle Circles Cliff Cliffs Club Common Commons Corner Corners Course Court "
    "Courts Cove Coves Creek Crescent Crest Crossing Crossroad Curve Dale Dam Divide Drive "
    "Drives Estate Estates Expressway Extension Extensions Fall Falls Ferry Field Fields Flat "
    "Flats Ford Fords Forest Forge Forges Fork Forks Fort Freeway Garden Gardens Gateway Glen "
    "Glens Green Greens Grove Groves Harbor Harbors Haven Heights Highway Hill Hills Hollow "
    "Inlet Island Islands Isle Junction Junctions Key Keys Knoll Knolls Lake Lakes Land Landing "
    "Lane Light Lights Loaf Lock Locks Lodge Loop Mall Manor Manors Meadow Meadows Mews Mill "
    "Mills Mission Motorway Mount Mountain Mountains Neck Orchard Oval Overpass Park Parks "
    "Parkway Parkways Pass Passage Path Pike Pine Pines Place Plain Plains Plaza Point Points "
    "Port Ports Prairie Radial Ramp Ranch Rapid Rapids Rest Ridge Ridges River Road Roads Route "
    "Row Rue Run Shoal Shoals Shore Shores Skyway Spring Springs Spur Spurs Square Squares "
    "Station Stravenue Stream Street Streets Summit Terrace Throughway Trace Track Trafficway "
    "Trail Tunnel Turnpike Underpass Union Unions Valley Valleys Via Viaduct View Views Village "
    "Villages Ville Vista Walk Walks Wall Way Ways Well Wells Close Gate Grange Hey Rise Wynd "
    "Annex Arcade Parade Broadway Esplanade Embankment Quay Wharf Yard Green Chase Croft Drove "
    "St Ave Av Rd Blvd Boulevard Ln Dr Ct Pl Sq Pkwy Hwy Cir Ter Trl Pt Expy Fwy Xing"
).split()
_SUFFIX = "(?:" + "|".join(sorted(set(_US_SUFFIXES), key=len, reverse=True)) + r")\.?"
_WORD = r"[A-Z][A-Za-z'\u2019.\-]*"
_UNIT = (r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Fl\.?|Floor|Rm\.?|Room|Bldg\.?|#)"
         r"\s*#?[A-Za-z0-9-]{1,8})")
_DIRECTION = r"(?:[NSEW]\.?|North|South|East|West|N[EW]|S[EW])"
_TAIL = (r"(?:(?:,?[ \t]+|,?[ \t]*\n[ \t]*)(?:(?:upon|on|under|in|by|le)[ \t]+)?"
         r"(?:[A-Z][A-Za-z'\u2019.-]+[ \t]?(?:(?:upon|on|under|in|by|le)[ \t]+)?){1,3},?[ \t]+"
         r"(?:[A-Z]{2}[ \t]+)?"
         r"(?:\d{5}(?:-\d{4})?|[A-Z]\d[A-Z] ?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}))?")
#: The postcode and town after a European street line, on the same line or the next:
#: ", 10115 Berlin", "\n69003 Lyon", ", 20121 Milano", ", 60313 Frankfurt am Main".
_EU_TAIL = (r"(?:(?:,[ \t]*|[ \t]*\n[ \t]*|[ \t]+)(?:[A-Z]{1,2}-)?\d{4,5}[ \t]+"
            # (a town word ending in "." ends the sentence: the next capital is not the town)
            r"[A-ZÀ-ÝÄÖÜ][\wÀ-ÿ'\u2019./-]*(?:(?<!\.)[ \t]+(?:(?:am|im|an der|a\. ?M\.|sur"
            r"|sous|de|del|la|le|les|en|im)[ \t]+)?[A-ZÀ-ÝÄÖÜ][\wÀ-ÿ'\u2019.-]*){0,3})?")
_STREET_PATTERNS: list[tuple[str, str, float]] = [
    # 2328 Figueroa Skyway Apt. 290, Lake Amanda, NV 77080  /  48 Alex Stravenue
    ("us_number_first",
     rf"\b(?:(?:Flat|Apartment|Apt\.?|Unit|Suite|Studio)[ \t]+\d{{1,5}}[A-Za-z]?,?[ \t]+)?"
     rf"\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?,?[ \t]+(?:{_DIRECTION}[ \t]+)?(?:{_WORD}[ \t]+){{0,3}}"
     rf"{_SUFFIX}(?:\s+{_DIRECTION})?\b{_UNIT}?{_TAIL}", 0.7),
    # Studio 87 Dawson Drive / Flat 3, Smith Road
    ("uk_flat_first",
     rf"\b(?:Flat|Studio|Apartment|Unit|Suite)\s+\d{{1,5}}[A-Za-z]?,?\s+(?:{_WORD}\s+){{1,3}}"
     rf"{_SUFFIX}{_TAIL}", 0.7),
    # Paulo-Schleich-Straße 19, Rohlederplatz 8788, Hilmar-Schuster-Platz 1-2
    ("de",
     # (the street word may stand alone after one or two words: Kemberger Straße 6a)
     r"\b(?:[A-ZÄÖÜ][\wäöüßÄÖÜ.'-]*[ ]){0,2}(?:[A-ZÄÖÜ][\wäöüßÄÖÜ.'-]*|(?=[A-ZÄÖÜ]))"
     r"(?i:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|steig|stieg|pfad"
     r"|markt|berg|hof|park|brücke|graben|deich|kamp|zeile|wall|bogen|garten|feld|anger|kai"
     r"|promenade|höhe|grund|aue|tor)\s+\d{1,5}[ ]?[a-z]?(?:[ ]?[-/][ ]?\d{1,4})?\b"
     + _EU_TAIL, 0.7),
    # Am Lindenhof 4/2, An der Alster 12, Im Winkel 3a, Zur Mühle 7
    ("de_preposition",
     r"\b(?:Am|An der|An den|Auf dem|Auf der|Im|In der|In den|Zum|Zur|Unter den|Hinter der"
     r"|Vor dem|Beim)[ ]+[A-ZÄÖÜ][\wäöüßÄÖÜ.'-]*(?:[ ]+[A-ZÄÖÜ][\wäöüßÄÖÜ.'-]*)?[ ]+\d{1,5}"
     r"[a-z]?(?:[ ]?[-/][ ]?\d{1,4})?\b" + _EU_TAIL, 0.7),
    # 682, avenue de Toussaint / boulevard Dupont
    ("fr",
     r"(?:\b\d{1,5}(?:\s?(?:bis|ter))?,?\s+)?\b(?:rue|avenue|av\.|boulevard|bd|place|chemin"
     r"|allée|impasse|quai|route|cours|passage|square)\s+"
     r"(?:(?:de la|de|du|des|d'|l'|le|la|les)\s*)?"
     r"[A-ZÀ-Ý][\wÀ-ÿ'\u2019-]*(?:\s+(?:(?:de la|de|du|des|d'|l'|le|la|les)\s*)?"
     r"[A-ZÀ-Ý][\wÀ-ÿ'\u2019-]*){0,3}(?:\s+\d{1,5}(?=,))?" + _EU_TAIL, 0.65),
    # Hasselwerder 103, 79837 Ronneburg / Kolonie Baumfreunde 136, 59373 Schloß / Cité
    # Guynemer 126, 11938 Hemsbach: a street of no known type, held by the postcode and town
    ("eu_postcode_line",
     r"\b(?:[A-ZÄÖÜÀ-Ý][\wäöüßÀ-ÿ.'\u2019-]*[ ]){0,2}[A-ZÄÖÜÀ-Ý][\wäöüßÀ-ÿ.'\u2019-]+[ ]"
     r"\d{1,4}[ ]?[a-z]?,[ \t]*\d{5}[ \t]+[A-ZÀ-ÝÄÖÜ][\wÀ-ÿ'\u2019./-]*"
     r"(?:(?<!\.)[ \t]+(?:(?:am|im|an der|sur|sous|de|del|la|le|les|en)[ \t]+)?"
     r"[A-ZÀ-ÝÄÖÜ][\wÀ-ÿ'\u2019.-]*){0,2}", 0.6),
    # Paseo de Joaquín Feliu 98 Piso 6
    ("es",
     r"(?<!\w)(?:Calle|C/|C\.|Avenida|Av\.|Paseo|Camino|Plaza|Acceso|Vial|Cañada|Ronda"
     r"|Travesía|Pasaje|Pasadizo|Callejón|Carretera|Glorieta|Urbanización|Alameda|Rambla"
     r"|Cuesta|Via|Vía|Rua|Rúa|Avinguda|Carrer|Travessera|Passeig|Praza|Estrada)\s+"
     r"(?:(?:de la|de los|de las|del|de|da|do|das|dos|d'|la|el|los|las)\s*)?"
     r"[A-ZÁÉÍÓÚÑ][\wáéíóúñü.]*"
     r"(?:\s+(?:(?:de la|de los|de las|del|de|da|do|das|dos|d'|y|i)\s+)?[A-ZÁÉÍÓÚÑ][\wáéíóúñü.]*)"
     r"{0,4},?\s+\d{1,5}"
     # the floor: 4.º A, 2.º izq. (NFKC, which the analyzer sees, turns º / ª into o / a)
     r"(?:,?\s*\d{1,2}(?:\.?\s?[ºª°]|\.[oa])(?:\s?(?:[A-Z]\b|izq(?:da)?\.?|dcha\.?|der\.?))?)?"
     r"(?:\s+(?:Piso|Puerta|Apt\.|Depto\.)\s*\d{1,4})?" + _EU_TAIL, 0.7),
]


# --------------------------------------------------------------------------------------------
# Phone shapes Presidio's phonenumbers-based recognizer misses (extensions, 001- prefixes,
# numbers outside its regions), and Mastercard 2-series cards its card regex predates.
# --------------------------------------------------------------------------------------------
_PHONE_PATTERNS = [
    # (381)946-8454, 001-721-843-0443x24451, +1 415.555.0132: the 3-3-4 layout with separators
    ("nanp", r"(?<![\w.+-])(?:(?:\+?1|001)[ .-]?)?(?:\(\d{3}\)[ ]?|\d{3}[ .-])\d{3}[ .-]\d{4}"
             r"(?:[ ]?(?:x|ext\.?)[ ]?\d{1,6})?(?!\w|-\d)", 0.5),
    # +49(0)2702 69617, +44(0)113 496 0273, +33 6 12 34 56 78: a leading + is a strong signal
    ("intl", r"(?<![\w.])\+\d{1,3}[ ]?(?:\(0\)[ ]?)?\d{1,5}(?:[ .-]?\d{2,8}){1,4}"
             r"(?!\w|[.-]\d)", 0.5),
    # National numbers (0958969350, 0082175028, 00839 08788): only with a phone word nearby
    ("national", r"(?<![\w.-])(?:\(0\d{1,4}\)|0\d{1,4})[ /-]?\d{2,8}(?:[ -]\d{2,4}){0,3}"
                 r"(?!\w|[.-]\d)", 0.2),
    ("digits", r"(?<![\w.-])\d{10}(?!\w|[.-]\d)", 0.2),
    # The same national shapes with the phone word inside the pattern: works without NLP
    # tokens (patterns mode has no context enhancement).
    ("national_cue", r"(?i:(?<=\b(?:phone|call|mobile|tel|telephone|cell|reach|contact"
                     r"|whatsapp|fax|dial|sms|portable|joindre|appele[rz]|numéro|téléphone"
                     r"|telefon|handy|rufnummer|nummer|erreichen|anrufen|rufen|teléfono|telefono"
                     r"|móvil|movil|llam[ae]r?|número|celular)\w{0,3}\W{1,3}(?:\w+\W{1,3}){0,5}))"
                     # (never the tail of a longer token: claude-3-haiku-20240307)
                     r"(?<![\w.+-])(?:\(0\d{1,4}\)|0\d{1,4}|\d{3})[ /-]?\d{2,8}(?:[ -]\d{2,4}){0,3}"
                     r"(?!\w|[.-]\d)", 0.5),
    # National mobile formats that need no cue: France 06 / 07 in pairs, Germany 015x-017x,
    # Spain 6xx / 7xx in 3-2-2-2 or 3-3-3.
    # France: every number is 0X then four pairs.
    ("fr_national", r"(?<![\w.+-])0[1-9](?:[ .]\d{2}){4}(?![\w.-]|[ .]\d)", 0.6),
    # United Kingdom: 020 7946 0958, 0113 496 0273, 01632 960123, 07700 900123.
    ("uk_national", r"(?<![\w.+-])0(?:\d{2} \d{4} \d{4}|\d{3} \d{3} \d{4}|\d{4} \d{6})"
                    r"(?![\w.-]|[ .]\d)", 0.6),
    # Germany, landlines with their area code: 089 8883417, 040 16951875, 0761/4589213.
    ("de_landline", r"(?<![\w.+-])0[2-9]\d{1,3}[ /-]\d{5,8}(?![\w.-]|[ .]\d)", 0.5),
    # Spain, landlines: 912 276 907, 934 12 34 56.
    ("es_landline", r"(?<![\w.+-])[89]\d{2}(?: \d{3} \d{3}| \d{2} \d{2} \d{2})(?![\w.-]|[ .]\d)",
     0.5),
    ("de_mobile", r"(?<![\w.+-])01[5-7]\d{1,2}[ /-]?\d{6,8}(?![\w.-]|[ .]\d)", 0.6),
    ("es_mobile", r"(?<![\w.+-])[67]\d{2}(?: \d{2} \d{2} \d{2}| \d{3} \d{3})(?![\w.-]|[ .]\d)",
     0.6),
]
_PHONE_CONTEXT = ["phone", "call", "mobile", "tel", "telephone", "cell", "reach", "contact",
                  "whatsapp", "fax", "number", "dial", "text", "sms", "portable", "téléphone",
                  "numéro", "telefon", "handy", "rufnummer", "nummer", "teléfono", "móvil",
                  "número", "celular"]


class _LuhnRecognizer(PatternRecognizer):
    """Card numbers (2-series Mastercard) accepted only with a valid Luhn checksum."""

    def validate_result(self, pattern_text: str) -> bool:
        digits = [int(c) for c in pattern_text if c.isdigit()]
        total = 0
        for i, d in enumerate(reversed(digits)):
            if i % 2:
                d *= 2
                if d > 9:
                    d -= 9
            total += d
        return total % 10 == 0


# --------------------------------------------------------------------------------------------
# Names after a cue ("my name is", "Dear", "Ms", "name": "...") that the small model misses
# in short or JSON-shaped text; capitalised words only, particles allowed (de la, van, von).
# --------------------------------------------------------------------------------------------
_CAP = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'\u2019]+(?:-[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'\u2019]+)?"
_PARTICLE = r"(?:(?:de la|de|du|del|van|von|der|le|la|da|dos|di|y)\s+)"
_NAME_1 = rf"{_CAP}(?:\s+{_PARTICLE}?{_CAP}){{0,3}}"
_NAME_2 = rf"{_CAP}(?:\s+{_PARTICLE}?{_CAP}){{1,3}}"
_PERSON_PATTERNS = [
    ("strong_cue", rf"(?<=\b(?:[Mm]y name is|[Nn]ame:|[Dd]ear|[Ss]incerely,?|[Rr]egards,?"
                   rf"|[Ss]igned,?|Mr\.?|Mrs\.?|Ms\.?|Miss|Dr\.?|Prof\.?|Herr|Frau|Mme|Mlle"
                   rf"|Sr\.|Sra\.|Don|Doña)\s{{1,3}}){_NAME_1}", 0.6),
    ("weak_cue", rf"(?<=\b(?:[Tt]his is|I am|I'm|[Ss]peaking with|[Cc]ontact|[Cc]ustomer)"
                 rf"\s{{1,3}}){_NAME_2}", 0.55),
    ("json_name", rf"(?<=\"(?:name|full_name|fullName|customer_name|first_name|last_name"
                  rf"|contact|author|user_name|display_name)\"\s{{0,2}}:\s{{0,2}}\"){_NAME_1}"
                  rf"(?=\")", 0.6),
]


#: Substrings one of which every match of a cue pattern contains (its cues as written).
_STRONG_CUES = ("y name is", "ame:", "Dear", "dear", "incerely", "egards", "igned", "Mr", "Ms",
                "Miss", "Dr", "Prof", "Herr", "Frau", "Mme", "Mlle", "Sr.", "Sra.", "Don",
                "Doña")
_WEAK_CUES = ("his is", "I am", "I'm", "peaking with", "ontact", "ustomer")
_PERSON_GATES: dict[str, Callable[[str], bool]] = {
    "strong_cue": lambda text: any(c in text for c in _STRONG_CUES),
    "weak_cue": lambda text: any(c in text for c in _WEAK_CUES),
    # A JSON name member needs its quotes and colon (prose has neither).
    "json_name": lambda text: '"' in text and ":" in text,
}


def person_recognizer() -> PatternRecognizer:
    return GatedRecognizer(
        gates=_PERSON_GATES,
        supported_entity=Entity.PERSON.value, name="sidecar_person_cue",
        patterns=[Pattern(n, rx, sc) for n, rx, sc in _PERSON_PATTERNS],
        global_regex_flags=_CASE_SENSITIVE,
    )


def phone_recognizer() -> PatternRecognizer:
    return PatternRecognizer(
        supported_entity=Entity.PHONE_NUMBER.value, name="sidecar_phone",
        patterns=[Pattern(n, rx, sc) for n, rx, sc in _PHONE_PATTERNS],
        context=_PHONE_CONTEXT, global_regex_flags=_CASE_SENSITIVE,
    )


def card_recognizer() -> PatternRecognizer:
    return _LuhnRecognizer(
        supported_entity=Entity.CREDIT_CARD.value, name="sidecar_card_2series",
        patterns=[Pattern("mastercard_2", r"\b2(?:2[2-9]\d|[3-6]\d\d|7[01]\d|720)"
                                          r"(?:[ -]?\d{4}){3}\b", 0.9)],
        context=["card", "credit", "mastercard"], global_regex_flags=_CASE_SENSITIVE,
    )


# --------------------------------------------------------------------------------------------
# Triggers: a cheap necessary condition per entity. A text without an entity's trigger cannot
# match any of that entity's patterns, so its recognizers are skipped for that text (most
# prose has no "@", no "sk-", no "aws"...). Entities without a trigger always run.
# A trigger is a substring, a compiled regex (searched) or a predicate. Triggers run on every
# text, so they are written to be cheap for the regex engine: a leading character class that
# matches most letters (``[A-Za-z]{2}\d{2}``) tries every position; a lookbehind on the digits
# (the rarer part) finds the same texts at a fraction of the cost.
# --------------------------------------------------------------------------------------------
_DIGIT = regex.compile(r"\d")
_SECRET_WORD = regex.compile(r"(?i)key|token|secret|passw|pwd|auth")
#: MAC_COLON_OR_HYPHEN needs five of the same separator, and ``hh:hh:`` (or with "-");
#: MAC_CISCO_DOT needs ``hhhh.hhhh``. Searched from the separator (rare), looking behind.
_MAC_SEPARATED = regex.compile(r"(?<=[0-9A-Fa-f]{2})([:-])[0-9A-Fa-f]{2}\1")
_MAC_DOTTED = regex.compile(r"(?<=[0-9A-Fa-f]{4})\.[0-9A-Fa-f]{4}")


def _generic_secret_trigger(text: str) -> bool:
    # The pattern's label is always followed by ":" or "=".
    return ("=" in text or ":" in text) and _SECRET_WORD.search(text) is not None


def _mac_trigger(text: str) -> bool:
    if (text.count(":") >= 5 or text.count("-") >= 5) and _MAC_SEPARATED.search(text):
        return True
    return _MAC_DOTTED.search(text) is not None


TRIGGERS: dict[str, object] = {
    Entity.EMAIL_ADDRESS.value: "@",
    # IPv4 has a digit, a dot, a digit; every IPv6 shape Presidio matches (compressed,
    # IPv4-mapped or embedded, unspecified) has "::" or a colon between two hex digits, which
    # the ":" of "Note: ..." or "10: 30" does not.
    Entity.IP_ADDRESS.value: regex.compile(r"(?<=\d)\.\d|::|(?<=[0-9A-Fa-f]):[0-9A-Fa-f]"),
    # Two ASCII letters then two digits (IBAN's country code and check digits).
    Entity.IBAN_CODE.value: regex.compile(r"(?<=[A-Za-z]{2})\d{2}"),
    Entity.MAC_ADDRESS.value: _mac_trigger,
    Entity.CREDIT_CARD.value: _DIGIT,
    Entity.US_SSN.value: _DIGIT,
    Entity.US_ITIN.value: _DIGIT,
    Entity.UK_NHS.value: _DIGIT,
    Entity.PHONE_NUMBER.value: _DIGIT,
    Entity.CRYPTO.value: _DIGIT,
    Entity.US_BANK_NUMBER.value: _DIGIT,
    Entity.US_PASSPORT.value: _DIGIT,
    Entity.MEDICAL_LICENSE.value: _DIGIT,
    Entity.STREET_ADDRESS.value: regex.compile(
        r"\d|(?i:\b(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|route"
        r"|cours|passage|square)\b)"),
    Entity.OPENAI_API_KEY.value: "sk-",
    Entity.ANTHROPIC_API_KEY.value: "sk-ant-",
    Entity.AWS_ACCESS_KEY.value: regex.compile(
        r"AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA"),
    Entity.AWS_SECRET_KEY.value: regex.compile(r"(?i)aws"),
    Entity.GITHUB_TOKEN.value: regex.compile(r"gh[pousr]_|github_pat_"),
    Entity.JWT.value: "eyJ",
    Entity.PRIVATE_KEY.value: "PRIVATE KEY",
    Entity.BEARER_TOKEN.value: "earer",
    Entity.GENERIC_SECRET.value: _generic_secret_trigger,
}


def triggered(text: str, entities: list[str]) -> list[str]:
    """The entities whose trigger occurs in ``text`` (or that have none)."""
    out = []
    has_digit = None  # searched once for all the digit-triggered entities
    for e in entities:
        trig = TRIGGERS.get(e)
        if trig is None:
            hit = True
        elif trig is _DIGIT:
            if has_digit is None:
                has_digit = _DIGIT.search(text) is not None
            hit = has_digit
        elif isinstance(trig, str):
            hit = trig in text
        elif callable(trig) and not hasattr(trig, "search"):
            hit = trig(text)
        else:
            hit = trig.search(text) is not None
        if hit:
            out.append(e)
    return out


def secret_recognizers(enabled: frozenset[str]) -> list[PatternRecognizer]:
    """Recognizers for the enabled secret types."""
    out = []
    for entity, (patterns, context) in _SECRETS.items():
        if entity.value not in enabled:
            continue
        out.append(PatternRecognizer(
            supported_entity=entity.value,
            name=f"sidecar_{entity.value.lower()}",
            patterns=[Pattern(f"{entity.value.lower()}_{i}", rx, score)
                      for i, (rx, score) in enumerate(patterns)],
            context=context or None,
            global_regex_flags=_CASE_SENSITIVE,
        ))
    return out


class GatedRecognizer(PatternRecognizer):
    """A PatternRecognizer whose patterns run only where their gate (a cheap necessary
    condition of a match, by pattern name) holds; results are those of the full recognizer.

    ``analyze`` narrows the pattern list for the duration of the call, under a lock: a call
    left running in a thread after its deadline (the in-process backend) cannot make another
    call skip patterns.
    """

    def __init__(self, *args: Any, gates: dict[str, Callable[[str], bool]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._gates = gates
        self._lock = threading.Lock()

    def active_patterns(self, text: str) -> list[Pattern]:
        """The patterns whose gate holds for ``text``."""
        return [p for p in self.patterns if (g := self._gates.get(p.name)) is None or g(text)]

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None,
                regex_flags: int | None = None) -> list:
        with self._lock:
            every = self.patterns
            active = self.active_patterns(text)
            if len(active) == len(every):
                return super().analyze(text, entities, nlp_artifacts, regex_flags)
            if not active:
                return []
            self.patterns = active
            try:
                return super().analyze(text, entities, nlp_artifacts, regex_flags)
            finally:
                self.patterns = every


# The German pattern needs a street suffix, then whitespace, then a digit: find the digits
# after whitespace (few in prose) and look back, instead of trying the pattern's capitalised
# word at every capital letter. The French one needs one of its street words as written.
_DIGIT_AFTER_SPACE = regex.compile(r"(?<=\s)\d")
_SPACE = regex.compile(r"\s")
_DE_SUFFIXES = tuple({s.casefold() for s in (
    "straße", "strasse", "str.", "weg", "gasse", "platz", "allee", "ring", "damm", "ufer",
    "chaussee", "steig", "stieg", "pfad", "markt", "berg", "hof", "park", "brücke", "graben",
    "deich", "kamp", "zeile", "wall", "bogen", "garten", "feld", "anger", "kai", "promenade",
    "höhe", "grund", "aue", "tor")})
_FR_WORDS = re.compile(r"rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|route"
                       r"|cours|passage|square")


def _de_gate(text: str) -> bool:
    for m in _DIGIT_AFTER_SPACE.finditer(text):
        j = m.start()
        while j > 0 and _SPACE.match(text, j - 1):
            j -= 1
        # casefold: what the pattern's (?i:...) matches, e.g. "STRASSE", "Straße", "WEG"
        if text[max(0, j - 8):j].casefold().endswith(_DE_SUFFIXES):
            return True
    return False


_POSTCODE_AFTER_COMMA = re.compile(r",[ \t]*\d{5}[ \t]")

_STREET_GATES: dict[str, Callable[[str], bool]] = {
    "de": _de_gate,
    "eu_postcode_line": lambda text: _POSTCODE_AFTER_COMMA.search(text) is not None,
    "fr": lambda text: _FR_WORDS.search(text) is not None,
}


def street_address_recognizer() -> PatternRecognizer:
    """Whole street lines (US/UK/CA, German, French, Spanish shapes), with unit and city tail."""
    return GatedRecognizer(
        gates=_STREET_GATES,
        supported_entity=Entity.STREET_ADDRESS.value,
        name="sidecar_street_address",
        patterns=[Pattern(name, rx, score) for name, rx, score in _STREET_PATTERNS],
        context=["address", "street", "live", "lives", "living", "ship", "deliver", "mail",
                 "located", "residence", "home"],
        global_regex_flags=_CASE_SENSITIVE,
    )


def custom_recognizers(configs: tuple[CustomRecognizerConfig, ...]) -> list[PatternRecognizer]:
    """One recognizer per ``custom_recognizers`` entry (case-sensitive, as written)."""
    return [
        PatternRecognizer(
            supported_entity=c.entity,
            name=f"custom_{c.entity.lower()}_{i}",
            patterns=[Pattern(f"{c.entity.lower()}_{j}", p.regex, p.score)
                      for j, p in enumerate(c.patterns)],
            context=list(c.context) or None,
            global_regex_flags=_CASE_SENSITIVE,
        )
        for i, c in enumerate(configs)
    ]
