"""Checks the PII evaluation files and prints their counts.

    python bench/pii_eval/validate.py [FILE.jsonl ...]   (default: every data/*.jsonl)

Checks, per record: the fields and their types; the id prefix is the source and ids are
unique across all files; types, classes and locales are known; every span's offsets give
exactly its value; spans (personal data and lookalikes together) do not overlap and start and
end on word boundaries; values are well formed where a format is defined (Luhn for card
numbers and its failure for luhn_invalid_number, mod-97 for IBANs, hex lengths, UUIDs, 19-digit
nanosecond timestamps...); negatives carry no personal data.

It also looks for personal data left unlabelled, which a good redactor would remove and the
scorer would then count against it: every other occurrence of a labelled value, every
occurrence of each part of a labelled name, and unlabelled e-mail addresses, Luhn-valid card
numbers, IPv4 addresses, valid IBANs and credential prefixes. These sweeps are this data set's
own consistency checks (written from the label semantics in README.md), not a detector.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import re
import sys
from collections import Counter, defaultdict

try:
    from . import synth
    from .markup import LOOKALIKE_CLASSES, PII_TYPES
except ImportError:
    import synth  # type: ignore[no-redef]
    from markup import LOOKALIKE_CLASSES, PII_TYPES  # type: ignore[no-redef]

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = {"handwritten", "mimesis", "negatives"}
LOCALES = {"en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "mixed"}
FIELDS = ["id", "source", "kind", "locale", "text", "pii", "lookalikes"]
# Name particles that are not identifying on their own.
PARTICLES = {"de", "da", "del", "della", "der", "den", "di", "du", "dos", "das", "la", "le",
             "van", "von", "ter", "ten", "bin", "binti", "ibn", "al", "el", "ben", "bat", "mac",
             "mc", "ní", "ó", "o", "y", "e", "af", "zu", "st", "st.", "jr", "jr.", "sr", "sr."}

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_DIGITRUN = re.compile(r"(?<![\w.])\d(?:[ -]?\d){12,18}(?![\w.])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IBANLIKE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,4})?\b")
_SECRET_PREFIX = re.compile(
    r"(?<![\w])(sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}|AKIA[A-Z2-7]{16}|ASIA[A-Z2-7]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}|glpat-[\w\-]{20}|npm_[A-Za-z0-9]{36}"
    r"|xox[abpr]-[\w\-]{10,}|AIza[\w\-]{35}|SG\.[\w\-]{22}\.[\w\-]{43}|pypi-AgE[\w\-]{20,}"
    r"|[sr]k_live_\w{20,}|eyJ[\w\-]{10,}\.eyJ[\w\-]{10,}\.[\w\-]+)")
_HEX = re.compile(r"^[0-9a-f]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _is_hex(value: str, lo: int, hi: int) -> bool:
    return lo <= len(value) <= hi and bool(_HEX.match(value.lower()))


def _digits(value: str) -> str:
    return re.sub(r"[ -]", "", value)


# type or class -> (check, message when the check fails)
_FORMAT_CHECKS = {
    "CREDIT_CARD": (lambda v: _digits(v).isdigit() and 13 <= len(_digits(v)) <= 19
                    and synth.luhn_ok(_digits(v)), "card number not Luhn-valid"),
    "IBAN_CODE": (synth.iban_ok, "IBAN check digits wrong"),
    "US_SSN": (lambda v: bool(re.fullmatch(r"\d{3}-\d{2}-\d{4}|\d{9}|\d{3} \d{2} \d{4}", v)),
               "SSN not 9 digits"),
    "EMAIL_ADDRESS": (lambda v: bool(_EMAIL.fullmatch(v)), "not an e-mail address"),
    "luhn_invalid_number": (lambda v: _digits(v).isdigit() and not synth.luhn_ok(_digits(v)),
                            "luhn_invalid_number passes Luhn"),
    "trace_id": (lambda v: _is_hex(v, 32, 32), "trace_id is not 32 hex"),
    "span_id": (lambda v: _is_hex(v, 16, 16), "span_id is not 16 hex"),
    "git_sha": (lambda v: _is_hex(v, 7, 40) and v == v.lower(), "git_sha is not 7-40 hex"),
    "uuid": (lambda v: bool(_UUID.match(v)), "not a UUID"),
    "nanosecond_timestamp": (lambda v: len(v) == 19 and v.isdigit(), "not 19 digits"),
    "generic_hex": (lambda v: _is_hex(v, 32, 512), "generic_hex is not long hex"),
}


def _format_errors(kind: str, value: str) -> str | None:
    check = _FORMAT_CHECKS.get(kind)
    if check and not check[0](value):
        return check[1]
    return None


def check_record(rec: dict, where: str, errors: list[str]) -> None:
    def err(msg: str) -> None:
        errors.append(f"{where} [{rec.get('id')}]: {msg}")

    if list(rec.keys()) != FIELDS:
        err(f"fields {list(rec.keys())} != {FIELDS}")
        if not all(k in rec for k in FIELDS):
            return
    text = rec["text"]
    if not isinstance(text, str) or not text.strip():
        err("empty text")
        return
    if rec["source"] not in SOURCES:
        err(f"unknown source {rec['source']!r}")
    if not str(rec["id"]).startswith(rec["source"] + "-"):
        err("id does not start with '<source>-'")
    if rec["locale"] not in LOCALES:
        err(f"unknown locale {rec['locale']!r}")
    if not isinstance(rec["kind"], str) or not re.fullmatch(r"[a-z_]+", rec["kind"]):
        err(f"bad kind {rec['kind']!r}")
    if rec["source"] == "negatives" and rec["pii"]:
        err("negatives must have pii: []")

    spans: list[tuple[int, int, str, bool]] = []
    for group, key, allowed in (("pii", "type", PII_TYPES),
                                ("lookalikes", "class", LOOKALIKE_CLASSES)):
        if not isinstance(rec[group], list):
            err(f"{group} is not a list")
            continue
        for s in rec[group]:
            if set(s.keys()) != {key, "value", "start", "end"}:
                err(f"{group} entry has fields {sorted(s.keys())}")
                continue
            if s[key] not in allowed:
                err(f"unknown {key} {s[key]!r}")
            st, en, val = s["start"], s["end"], s["value"]
            if not (isinstance(st, int) and isinstance(en, int) and 0 <= st < en <= len(text)):
                err(f"bad offsets {st}..{en}")
                continue
            if text[st:en] != val:
                err(f"offset mismatch: text[{st}:{en}]={text[st:en]!r} != {val!r}")
                continue
            if val != val.strip():
                err(f"value has outer whitespace: {val!r}")
            if st > 0 and _is_word(text[st - 1]) and _is_word(val[0]):
                err(f"span {val!r} starts inside a word")
            if en < len(text) and _is_word(text[en]) and _is_word(val[-1]):
                err(f"span {val!r} ends inside a word")
            problem = _format_errors(s[key], val)
            if problem:
                err(f"{problem}: {val!r}")
            spans.append((st, en, s[key], group == "pii"))
    spans.sort()
    for a, b in itertools.pairwise(spans):
        if b[0] < a[1]:
            err(f"overlapping spans {text[a[0]:a[1]]!r} ({a[2]}) and {text[b[0]:b[1]]!r} ({b[2]})")

    pii_spans = [(s, e) for s, e, _, p in spans if p]
    all_spans = [(s, e) for s, e, _, _ in spans]

    def covered(st: int, en: int, pool: list[tuple[int, int]]) -> bool:
        return any(s <= st and en <= e for s, e in pool)

    def word_hits(needle: str):
        pat = r"(?<!\w)" + re.escape(needle) + r"(?!\w)"
        for m in re.finditer(pat, text):
            yield m.start(), m.end()

    # Every occurrence of a labelled value, and of each part of a labelled name.
    for s in rec["pii"]:
        needles = [s["value"]]
        if s["type"] == "PERSON":
            for tok in re.split(r"[\s]+", s["value"]):
                tok = tok.strip(",.;:()'\"")
                # parts of hyphenated names count alone too (Jean-Luc -> Jean, Luc)
                for part in [tok, *tok.split("-")] if "-" in tok else [tok]:
                    if len(part) >= 3 and part.lower() not in PARTICLES and part not in needles:
                        needles.append(part)
        for needle in needles:
            for st, en in word_hits(needle):
                if not covered(st, en, pii_spans):
                    ctx = text[max(0, st - 30):en + 30].replace("\n", "\\n")
                    err(f"unlabelled occurrence of {needle!r} ({s['type']}) in ...{ctx}...")
    for s in rec["lookalikes"]:
        if s["class"] in ("tech_word", "company_name"):
            for st, en in word_hits(s["value"]):
                if covered(st, en, pii_spans):
                    err(f"lookalike {s['value']!r} also appears inside personal data")

    for rx, what, pool in ((_EMAIL, "e-mail address", pii_spans),
                           (_SECRET_PREFIX, "credential", all_spans)):
        for m in rx.finditer(text):
            if not covered(m.start(), m.end(), pool) and not any(
                    s < m.end() and m.start() < e for s, e in pool):
                err(f"unlabelled {what}: {m.group(0)!r}")
    for m in _DIGITRUN.finditer(text):
        digits = re.sub(r"[ -]", "", m.group(0))
        if synth.luhn_ok(digits) and not any(s < m.end() and m.start() < e for s, e in all_spans):
            err(f"unlabelled Luhn-valid number: {m.group(0)!r}")
    for m in _IPV4.finditer(text):
        if all(0 <= int(p) <= 255 for p in m.group(0).split(".")) and not covered(
                m.start(), m.end(), all_spans):
            err(f"unlabelled IPv4 address: {m.group(0)!r}")
    for m in _IBANLIKE.finditer(text):
        if synth.iban_ok(m.group(0)) and not any(s < m.end() and m.start() < e
                                                 for s, e in all_spans):
            err(f"unlabelled valid IBAN: {m.group(0)!r}")


def main(argv: list[str]) -> int:
    files = argv or sorted(glob.glob(os.path.join(HERE, "data", "*.jsonl")))
    errors: list[str] = []
    ids: dict[str, str] = {}
    recs: list[dict] = []
    for path in files:
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                where = f"{name}:{n}"
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    errors.append(f"{where}: not JSON ({exc})")
                    continue
                expected = name.removesuffix(".jsonl")
                if expected in SOURCES and rec.get("source") != expected:
                    errors.append(f"{where}: source {rec.get('source')!r} in {name}")
                if rec.get("id") in ids:
                    errors.append(
                        f"{where}: duplicate id {rec.get('id')!r} (also {ids[rec['id']]})")
                ids[rec.get("id")] = where
                check_record(rec, where, errors)
                recs.append(rec)

    by_source: Counter = Counter()
    spans_pii: Counter = Counter()
    spans_look: Counter = Counter()
    look_only: Counter = Counter()
    types: dict[str, Counter] = defaultdict(Counter)
    classes: dict[str, Counter] = defaultdict(Counter)
    locales: dict[str, Counter] = defaultdict(Counter)
    kinds: dict[str, Counter] = defaultdict(Counter)
    for rec in recs:
        src = rec.get("source")
        by_source[src] += 1
        spans_pii[src] += len(rec.get("pii", []))
        spans_look[src] += len(rec.get("lookalikes", []))
        if not rec.get("pii"):
            look_only[src] += 1
        locales[src][rec.get("locale")] += 1
        kinds[src][rec.get("kind")] += 1
        for s in rec.get("pii", []):
            types[src][s.get("type")] += 1
        for s in rec.get("lookalikes", []):
            classes[src][s.get("class")] += 1

    srcs = sorted(by_source)

    def table(title: str, data: dict[str, Counter], keys: list[str]) -> None:
        print(f"\n{title}")
        print(f"  {'':24}" + "".join(f"{s:>13}" for s in srcs) + f"{'total':>9}")
        for k in keys:
            row = [data[s][k] for s in srcs]
            print(f"  {k:24}" + "".join(f"{v:>13}" for v in row) + f"{sum(row):>9}")

    print("cases per source")
    for s in srcs:
        print(f"  {s:12} {by_source[s]:5} cases, {spans_pii[s]:5} pii spans, "
              f"{spans_look[s]:5} lookalike spans, {look_only[s]:4} cases without pii")
    print(f"  {'total':12} {sum(by_source.values()):5} cases")
    table("pii spans per type", types, PII_TYPES)
    table("lookalike spans per class", classes, LOOKALIKE_CLASSES)
    table("cases per locale", locales, sorted(LOCALES))
    table("cases per kind", kinds, sorted({k for c in kinds.values() for k in c}))

    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors[:300]:
            print("  " + e)
        return 1
    print("\nOK: all offsets exact, labels valid, no overlaps, no unlabelled data found")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
