"""Our recognizers on top of Presidio's: secrets, street addresses, custom regexes from config.

All are Presidio ``PatternRecognizer``s (the ``regex`` module, so scoped flags work). Secrets
and streets are matched case-sensitively where the format is (key prefixes, capitalised street
names); Presidio's own default is case-insensitive, which would turn ``12 big plans`` into an
address.
"""

from __future__ import annotations

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
        [(r"(?i:(?<=aws.{0,20}(?:secret|private).{0,20}[\s:=\"']{1,5}))"
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
        [(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
          r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)", 1.0)],
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
_US_SUFFIXES = (
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
    "St Ave Av Rd Blvd Boulevard Ln Dr Ct Pl Sq Pkwy Hwy Cir Ter Trl Pt Expy Fwy Xing"
).split()
_SUFFIX = "(?:" + "|".join(sorted(set(_US_SUFFIXES), key=len, reverse=True)) + r")\.?"
_WORD = r"[A-Z][A-Za-z'’.\-]*"
_UNIT = (r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Fl\.?|Floor|Rm\.?|Room|Bldg\.?|#)"
         r"\s*#?[A-Za-z0-9-]{1,8})")
_DIRECTION = r"(?:[NSEW]\.?|North|South|East|West|N[EW]|S[EW])"
_TAIL = (r"(?:,?[ \t]+(?:[A-Z][A-Za-z'’.-]+[ \t]?){1,3},?[ \t]+(?:[A-Z]{2}[ \t]+)?"
         r"(?:\d{5}(?:-\d{4})?|[A-Z]\d[A-Z] ?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}))?")
_STREET_PATTERNS: list[tuple[str, str, float]] = [
    # 2328 Figueroa Skyway Apt. 290, Lake Amanda, NV 77080  /  48 Alex Stravenue
    ("us_number_first",
     rf"\b\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?,?\s+(?:{_DIRECTION}\s+)?(?:{_WORD}\s+){{0,3}}"
     rf"{_SUFFIX}(?:\s+{_DIRECTION})?\b{_UNIT}?{_TAIL}", 0.7),
    # Studio 87 Dawson Drive / Flat 3, Smith Road
    ("uk_flat_first",
     rf"\b(?:Flat|Studio|Apartment|Unit|Suite)\s+\d{{1,5}}[A-Za-z]?,?\s+(?:{_WORD}\s+){{1,3}}"
     rf"{_SUFFIX}{_TAIL}", 0.7),
    # Paulo-Schleich-Straße 19, Rohlederplatz 8788, Hilmar-Schuster-Platz 1-2
    ("de",
     r"\b[A-ZÄÖÜ][\wäöüßÄÖÜ.'-]*(?i:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer"
     r"|chaussee|steig|pfad|markt|berg|hof|park)\s+\d{1,5}\s?[a-z]?(?:\s?[-/]\s?\d{1,4})?\b",
     0.7),
    # 682, avenue de Toussaint / boulevard Dupont
    ("fr",
     r"(?:\b\d{1,5}(?:\s?(?:bis|ter))?,?\s+)?\b(?:rue|avenue|av\.|boulevard|bd|place|chemin"
     r"|allée|impasse|quai|route|cours|passage|square)\s+(?:(?:de la|de|du|des|d'|l')\s*)?"
     r"[A-ZÀ-Ý][\wÀ-ÿ'’-]*(?:\s+[A-ZÀ-Ý][\wÀ-ÿ'’-]*){0,3}", 0.65),
    # Paseo de Joaquín Feliu 98 Piso 6
    ("es",
     r"\b(?:Calle|C/|Avenida|Av\.|Paseo|Camino|Plaza|Acceso|Vial|Cañada|Ronda|Travesía"
     r"|Pasaje|Callejón|Carretera|Glorieta|Urbanización|Alameda|Rambla|Via|Vía|Rua)\s+"
     r"(?:(?:de la|de los|de las|del|de)\s+)?[A-ZÁÉÍÓÚÑ][\wáéíóúñü]*"
     r"(?:\s+[A-ZÁÉÍÓÚÑ][\wáéíóúñü]*){0,3},?\s+\d{1,5}"
     r"(?:\s+(?:Piso|Puerta|Apt\.|Depto\.)\s*\d{1,4})?", 0.7),
]


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


def street_address_recognizer() -> PatternRecognizer:
    """Whole street lines (US/UK/CA, German, French, Spanish shapes), with unit and city tail."""
    return PatternRecognizer(
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
