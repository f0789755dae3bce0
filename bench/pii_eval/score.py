"""Scoring of the PII evaluation: labelled texts in, per-type and per-source figures out.

The data (``bench/pii_eval/data/*.jsonl``, see README.md there) is split into dev and test by
a keyed hash of each case id (`split_of`): the recognizers are tuned on dev only, and the
figures that count are the test split's. The split is fixed by ``SPLIT_KEY``; changing it
would leak test cases into what was tuned on.

Definitions (per mode, with the engines the processor uses, default config):

* recall per type and per source: a labelled value counts as removed only if every letter and
  digit of it lies inside a finding (of any type: what matters is that nothing is left); so
  for a name or an address, no word of it is left;
* precision per reported type: share of findings that overlap a labelled value;
* look-alikes destroyed: share of labelled look-alikes (ids, versions, loopback addresses,
  placeholders, tech words ...) with any letter or digit inside a finding, per class;
* non-PII characters destroyed: share of the letters and digits outside every labelled value
  that lie inside a finding.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).with_name("data")
SPLIT_KEY = "genai-sidecar pii-eval split 2026-12-07"
DEV, TEST = "dev", "test"
#: Per-type recall targets of issue 14 (NER mode, test split).
TARGETS = {"EMAIL_ADDRESS": 0.99, "CREDIT_CARD": 0.99, "US_SSN": 0.99, "IBAN_CODE": 0.99,
           "IP_ADDRESS": 0.99, "SECRET": 0.99, "PHONE_NUMBER": 0.95, "DATE_OF_BIRTH": 0.95,
           "URL_PII": 0.95, "PERSON": 0.95, "STREET_ADDRESS": 0.95}
LOOKALIKE_TARGET = 0.01


@dataclass(frozen=True)
class Case:
    """One labelled text."""

    id: str
    source: str
    kind: str
    locale: str
    text: str
    pii: tuple[tuple[int, int, str], ...]
    lookalikes: tuple[tuple[int, int, str], ...]


def split_of(case_id: str) -> str:
    """dev or test, half each, fixed by the case id and SPLIT_KEY."""
    digest = hashlib.sha256(f"{SPLIT_KEY}:{case_id}".encode()).digest()
    return DEV if digest[0] < 128 else TEST


def load(paths: Iterable[Path] | None = None, split: str | None = None) -> list[Case]:
    """Every case of the data files (or ``paths``), of one split when given."""
    out = []
    for path in sorted(paths or DATA.glob("*.jsonl")):
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            d = json.loads(line)
            case = Case(
                id=d["id"], source=d["source"], kind=d.get("kind", ""),
                locale=d.get("locale", ""), text=d["text"],
                pii=tuple((p["start"], p["end"], p["type"]) for p in d.get("pii", [])),
                lookalikes=tuple((p["start"], p["end"], p["class"])
                                 for p in d.get("lookalikes", [])))
            for s, e, _ in case.pii + case.lookalikes:
                if not 0 <= s < e <= len(case.text):
                    raise ValueError(f"{path.name}:{n}: span {s}-{e} outside the text")
            if split is None or split_of(case.id) == split:
                out.append(case)
    return out


@dataclass
class Tally:
    """Counts behind one report."""

    found: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    total: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    missed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    reported: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reported_ok: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    look_hit: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    look_total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    look_examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    clean_chars: int = 0
    clean_destroyed: int = 0


def tally(cases: list[Case], findings: list[list[tuple[int, int, str, float]]]) -> Tally:
    """Score ``findings`` (per case: (start, end, type, score)) against the labels."""
    t = Tally()
    for case, found in zip(cases, findings, strict=True):
        covered = bytearray(len(case.text))
        for s, e, *_ in found:
            covered[s:e] = b"\x01" * (e - s)
        labelled = bytearray(len(case.text))
        for s, e, kind in case.pii:
            labelled[s:e] = b"\x01" * (e - s)
            alnum = [i for i in range(s, e) if case.text[i].isalnum()]
            removed = all(covered[i] for i in alnum)
            for key in ((kind, case.source), (kind, "all")):
                t.total[key] += 1
                t.found[key] += removed
            if not removed and len(t.missed[kind]) < 400:
                t.missed[kind].append(f"{case.id}: {case.text[s:e]!r}")
        for s, e, cls in case.lookalikes:
            hit = any(covered[i] for i in range(s, e) if case.text[i].isalnum())
            t.look_total[cls] += 1
            t.look_hit[cls] += hit
            if hit and len(t.look_examples[cls]) < 400:
                t.look_examples[cls].append(f"{case.id}: {case.text[s:e]!r}")
        for s, e, kind, _score in found:
            t.reported[kind] += 1
            t.reported_ok[kind] += any(labelled[s:e])
        for i, ch in enumerate(case.text):
            if ch.isalnum() and not labelled[i]:
                t.clean_chars += 1
                t.clean_destroyed += covered[i]
    return t


def recall(t: Tally, kind: str, source: str = "all") -> float | None:
    n = t.total.get((kind, source), 0)
    return t.found[(kind, source)] / n if n else None


def render(reports: dict[str, Tally], split: str, sources: list[str]) -> str:
    """Markdown tables: recall per type x source per mode, precision, look-alikes."""
    kinds = sorted({k for t in reports.values() for k, _ in t.total})
    lines = [f"Split: **{split}**. Recall: a value counts only if no letter or digit of it is "
             "left. Target in brackets.", ""]
    for mode, t in reports.items():
        lines += [f"### {mode} mode", "",
                  "| type | target | " + " | ".join(sources) + " | all (n) |",
                  "|---|---|" + "---|" * len(sources) + "---|"]
        for kind in kinds:
            cells = []
            for src in sources:
                r = recall(t, kind, src)
                cells.append("" if r is None else f"{r:.3f}")
            r = recall(t, kind)
            target = TARGETS.get(kind)
            mark = "" if target is None or r is None or r >= target else " (below)"
            lines.append(f"| {kind} | {'' if target is None else target} | "
                         + " | ".join(cells)
                         + f" | {r:.3f} ({t.total[(kind, 'all')]}){mark} |")
        lines += ["", "| reported type | findings | precision |", "|---|---|---|"]
        for kind in sorted(t.reported):
            n = t.reported[kind]
            lines.append(f"| {kind} | {n} | {t.reported_ok[kind] / n:.3f} |")
        total_look = sum(t.look_total.values())
        hit_look = sum(t.look_hit.values())
        lines += ["", f"Look-alikes destroyed: {hit_look} of {total_look} "
                      f"({hit_look / max(total_look, 1):.3%}; target <= {LOOKALIKE_TARGET:.0%}). "
                      f"Non-PII letters and digits destroyed: "
                      f"{t.clean_destroyed / max(t.clean_chars, 1):.2%}.", "",
                  "| look-alike class | destroyed | of |", "|---|---|---|"]
        for cls in sorted(t.look_total):
            lines.append(f"| {cls} | {t.look_hit[cls]} | {t.look_total[cls]} |")
        lines.append("")
    return "\n".join(lines)
