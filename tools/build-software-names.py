#!/usr/bin/env python3
"""Regenerate processors/redaction/rules/software_names.txt: names of widely used software.

Source: package names of the npm and PyPI registries, with their popularity, from the package
lists of this project's build environment (``name<TAB>version<TAB>downloads a month`` for npm,
``name<TAB>version<TAB>month<TAB>rank among the 15,000 most downloaded`` for PyPI). Kept: names
of one alphabetic word (or the first word of ``word-python`` / ``python-word`` style names),
3+ letters, from npm packages with 500,000+ downloads a month or the 5,000 most downloaded
PyPI packages.
Left out: real given names (rules/first_names.txt), so a person called Ava or Jade is never
taken for a tool. Usage:

    tools/build-software-names.py NPM_TSV PYPI_TSV

Never add words to it from an evaluation set (bench/pii_eval).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

RULES = Path(__file__).resolve().parent.parent / "processors/redaction/rules"
NPM_MIN_DOWNLOADS = 500_000
PYPI_MAX_RANK = 5_000
_WORD = re.compile(r"[a-z]{3,}")
_AFFIX = re.compile(r"^(?:python|py|node|js)-([a-z]{3,})$|^([a-z]{3,})-(?:python|py|js|node)$")
HEADER = """\
# Names of widely used software, for the precision rules of processors/redaction/precision.py:
# a PERSON or LOCATION finding made only of these (and of rules/not_names.yaml's words) is a
# tool, not a person. From the npm packages with 500,000+ downloads a month and the 5,000
# most downloaded PyPI packages (one-word names), minus every given name of first_names.txt.
# Regenerate with tools/build-software-names.py; never add words from an evaluation set.
"""


def _name(raw: str) -> str | None:
    raw = raw.lower()
    if _WORD.fullmatch(raw):
        return raw
    m = _AFFIX.match(raw)
    return (m.group(1) or m.group(2)) if m else None


def main(npm_tsv: str, pypi_tsv: str) -> None:
    given = {line.strip().lower() for line in (RULES / "first_names.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    names: set[str] = set()
    for line in Path(npm_tsv).read_text("utf-8").splitlines()[1:]:
        cols = line.split("\t")
        popular = len(cols) > 2 and cols[2].isdigit() and int(cols[2]) >= NPM_MIN_DOWNLOADS
        if popular and (n := _name(cols[0])) is not None:
            names.add(n)
    for line in Path(pypi_tsv).read_text("utf-8").splitlines()[1:]:
        cols = line.split("\t")
        popular = len(cols) > 3 and cols[3].strip().isdigit() and int(cols[3]) <= PYPI_MAX_RANK
        if popular and (n := _name(cols[0])) is not None:
            names.add(n)
    names -= given
    (RULES / "software_names.txt").write_text(HEADER + "\n".join(sorted(names)) + "\n", "utf-8")
    print(f"{len(names)} names")


if __name__ == "__main__":
    main(*sys.argv[1:3])
