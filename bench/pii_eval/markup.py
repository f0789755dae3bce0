"""Inline markup for the hand-written cases (cases/*.txt), turned into exact character offsets.

A case file is a sequence of cases, each opened by a header line::

    %%% id=042 kind=chat locale=de_DE

followed by the case text. Inside the text:

* ``⟦TYPE|value⟧`` marks personal data (TYPE is a full type name or an alias, see PII_ALIASES),
* ``⟪class|value⟫`` marks a lookalike (class name or alias, see LOOKALIKE_ALIASES),
* ``⦃macro⦄`` is replaced by a random, well-formed value (card numbers that pass Luhn, IBANs with
  correct check digits, vendor-shaped fake credentials, hex ids...). At top level a macro is
  labelled with its natural type or class; inside a ``⟦..⟧``/``⟪..⟫`` it is expanded raw, and
  ``⦃!macro⦄`` is always raw. ``⦃macro#k⦄`` gives the same value for the same k within a case.

The random values come from ``random.Random(case id)``, so a build is reproducible.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

try:
    from . import synth
except ImportError:  # run as a plain script from this folder
    import synth  # type: ignore[no-redef]

PII_TYPES = [
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS",
    "STREET_ADDRESS", "DATE_OF_BIRTH", "URL_PII", "SECRET",
]
LOOKALIKE_CLASSES = [
    "loopback_ip", "env_placeholder", "dotted_version", "tech_word", "company_name", "trace_id",
    "span_id", "uuid", "git_sha", "model_id", "nanosecond_timestamp", "order_id", "request_id",
    "non_birth_date", "luhn_invalid_number", "http_status_or_port", "generic_hex",
]
PII_ALIASES = {
    "P": "PERSON", "E": "EMAIL_ADDRESS", "PH": "PHONE_NUMBER", "CC": "CREDIT_CARD",
    "SSN": "US_SSN", "IBAN": "IBAN_CODE", "IP": "IP_ADDRESS", "ADDR": "STREET_ADDRESS",
    "DOB": "DATE_OF_BIRTH", "URL": "URL_PII", "S": "SECRET",
}
LOOKALIKE_ALIASES = {
    "lb": "loopback_ip", "env": "env_placeholder", "ver": "dotted_version", "tw": "tech_word",
    "co": "company_name", "trace": "trace_id", "span": "span_id", "uuid": "uuid",
    "sha": "git_sha", "model": "model_id", "ns": "nanosecond_timestamp", "ord": "order_id",
    "req": "request_id", "date": "non_birth_date", "luhn": "luhn_invalid_number",
    "port": "http_status_or_port", "hex": "generic_hex",
}

_SEPS = {"s": " ", "d": "-", "n": ""}


def _macro_value(rng: random.Random, spec: str) -> tuple[str, str, str]:
    """Returns (value, 'pii'|'look', type or class) for a macro spec like 'cc:visa:s'."""
    parts = spec.split(":")
    k = parts[0]
    if k == "trace":
        return synth.hexs(rng, 32), "look", "trace_id"
    if k == "span":
        return synth.hexs(rng, 16), "look", "span_id"
    if k == "uuid":
        return synth.uuid4(rng), "look", "uuid"
    if k == "sha7":
        return synth.hexs(rng, 7), "look", "git_sha"
    if k == "sha40":
        return synth.hexs(rng, 40), "look", "git_sha"
    if k == "sha256":
        return synth.hexs(rng, 64), "look", "generic_hex"
    if k == "ns":
        return synth.ns_timestamp(rng), "look", "nanosecond_timestamp"
    if k == "ord":
        return synth.order_id(rng), "look", "order_id"
    if k == "req":
        return synth.request_id(rng), "look", "request_id"
    if k == "ver":
        return synth.dotted_version(rng), "look", "dotted_version"
    if k == "luhn":
        return synth.luhn_invalid(rng, _SEPS[parts[1]] if len(parts) > 1 else ""), "look", \
            "luhn_invalid_number"
    if k == "cc":
        brand = parts[1] if len(parts) > 1 else "visa"
        sep = _SEPS[parts[2]] if len(parts) > 2 else " "
        return synth.card(rng, brand, sep), "pii", "CREDIT_CARD"
    if k == "iban":
        spaced = len(parts) > 2 and parts[2] == "s"
        return synth.iban(rng, parts[1], spaced), "pii", "IBAN_CODE"
    if k == "ssn":
        return synth.ssn(rng, dashed=not (len(parts) > 1 and parts[1] == "n")), "pii", "US_SSN"
    if k == "S":
        return synth.secret(rng, parts[1]), "pii", "SECRET"
    raise ValueError(f"unknown macro {spec!r}")


_LABEL_RE = re.compile(r"(⟦|⟪)([A-Za-z_]+)\|(.*?)(⟧|⟫)", re.S)
_MACRO_RE = re.compile(r"⦃(!?)([^⦄#]+)(?:#([^⦄]+))?⦄")


@dataclass
class Case:
    meta: dict[str, str]
    text: str
    pii: list[dict] = field(default_factory=list)
    lookalikes: list[dict] = field(default_factory=list)


def render(raw: str, seed: str) -> tuple[str, list[dict], list[dict]]:
    rng = random.Random(seed)
    memo: dict[str, tuple[str, str, str]] = {}

    def value_of(spec: str, key: str | None) -> tuple[str, str, str]:
        if key is None:
            return _macro_value(rng, spec)
        mk = spec + "#" + key
        if mk not in memo:
            memo[mk] = _macro_value(rng, spec)
        return memo[mk]

    # 1. macros inside labels are raw
    def inside(m: re.Match) -> str:
        body = _MACRO_RE.sub(lambda mm: value_of(mm.group(2), mm.group(3))[0], m.group(3))
        return m.group(1) + m.group(2) + "|" + body + m.group(4)

    step1 = _LABEL_RE.sub(inside, raw)

    # 2. top-level macros become labels (or raw values with '!')
    def top(mm: re.Match) -> str:
        value, kind, name = value_of(mm.group(2), mm.group(3))
        if mm.group(1) == "!":
            return value
        opener, closer = ("⟦", "⟧") if kind == "pii" else ("⟪", "⟫")
        return opener + name + "|" + value + closer

    step2 = _MACRO_RE.sub(top, step1)

    # 3. labels to offsets
    out: list[str] = []
    pos = 0
    length = 0
    pii: list[dict] = []
    look: list[dict] = []
    for m in _LABEL_RE.finditer(step2):
        chunk = step2[pos:m.start()]
        out.append(chunk)
        length += len(chunk)
        opener, name, value, closer = m.groups()
        start, end = length, length + len(value)
        if opener == "⟦":
            if closer != "⟧":
                raise ValueError(f"mismatched brackets near {value!r}")
            typ = PII_ALIASES.get(name, name)
            if typ not in PII_TYPES:
                raise ValueError(f"unknown PII type {name!r}")
            pii.append({"type": typ, "value": value, "start": start, "end": end})
        else:
            if closer != "⟫":
                raise ValueError(f"mismatched brackets near {value!r}")
            cls = LOOKALIKE_ALIASES.get(name, name)
            if cls not in LOOKALIKE_CLASSES:
                raise ValueError(f"unknown lookalike class {name!r}")
            look.append({"class": cls, "value": value, "start": start, "end": end})
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(step2[pos:])
    text = "".join(out)
    for ch in "⟦⟧⟪⟫⦃⦄":
        if ch in text:
            i = text.index(ch)
            raise ValueError(f"stray markup {ch!r} in {seed}: ...{text[max(0, i - 60):i + 20]!r}")
    return text, pii, look


def parse_file(path: str) -> list[tuple[dict[str, str], str]]:
    cases: list[tuple[dict[str, str], str]] = []
    meta: dict[str, str] | None = None
    lines: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("%%% "):
                if meta is not None:
                    cases.append((meta, "".join(lines).rstrip("\n")))
                meta = dict(kv.split("=", 1) for kv in line[4:].split())
                lines = []
            elif line.startswith("%%#"):
                continue  # comment line in the case file
            elif meta is not None:
                lines.append(line)
    if meta is not None:
        cases.append((meta, "".join(lines).rstrip("\n")))
    return cases
