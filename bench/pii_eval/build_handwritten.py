"""Builds data/handwritten.jsonl and data/negatives.jsonl from the hand-written case files.

The texts and labels are written by hand in cases/handwritten.txt and cases/negatives.txt
(markup described in markup.py); this script only turns the inline labels into exact offsets
and fills the random, well-formed values (checksummed numbers, fake credentials, hex ids).

    python bench/pii_eval/build_handwritten.py
"""

from __future__ import annotations

import json
import os
import sys

try:
    from . import markup
except ImportError:
    import markup  # type: ignore[no-redef]

HERE = os.path.dirname(os.path.abspath(__file__))


def build(case_file: str, source: str, out_path: str) -> int:
    rows = []
    for meta, raw in markup.parse_file(case_file):
        repeat = int(meta.get("repeat", "1"))
        for r in range(repeat):
            cid = f"{source}-{meta['id']}" + (f"-{r + 1}" if repeat > 1 else "")
            text, pii, look = markup.render(raw, cid)
            rows.append({
                "id": cid,
                "source": source,
                "kind": meta["kind"],
                "locale": meta["locale"],
                "text": text,
                "pii": sorted(pii, key=lambda s: s["start"]),
                "lookalikes": sorted(look, key=lambda s: s["start"]),
            })
    with open(out_path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def main() -> int:
    n1 = build(os.path.join(HERE, "cases", "handwritten.txt"), "handwritten",
               os.path.join(HERE, "data", "handwritten.jsonl"))
    n2 = build(os.path.join(HERE, "cases", "negatives.txt"), "negatives",
               os.path.join(HERE, "data", "negatives.jsonl"))
    print(f"handwritten: {n1} cases, negatives: {n2} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
