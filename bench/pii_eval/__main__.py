"""``make pii-eval``: the PII evaluation on independent labelled data (see score.py, README.md).

    python -m bench.pii_eval [--split test|dev] [--mode ner|patterns|both] [--misses FILE]
                             [--no-record]

Runs the redaction engines of the default config (NER and patterns mode) over every case of
the split, prints per-type x per-source recall, precision per reported type and look-alikes
destroyed, and (test split, both modes) records the tables in docs/PERFORMANCE.md
(``<!-- bench:pii-eval -->``). ``--misses`` writes every missed value and destroyed look-alike
(tune on the dev split only: the test split's misses are for the note, not for tuning).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from bench.__main__ import record
from bench.pii_eval import score


def findings(mode: str, cases: list[score.Case]) -> tuple[list, float]:
    """Findings per case with the default config in ``mode``; and the analysis seconds."""
    from processors.redaction.config import Mode, RedactionConfig
    from processors.redaction.engine import Analyzer, EngineSpec

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    analyzer = Analyzer(EngineSpec.from_config(RedactionConfig(mode=Mode(mode))))
    texts = [c.text for c in cases]
    start = time.perf_counter()
    out = []
    for i in range(0, len(texts), 64):
        chunk = texts[i:i + 64]
        out += analyzer.analyze(chunk, [False] * len(chunk))
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pii_eval", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("--split", choices=[score.DEV, score.TEST], default=score.TEST)
    ap.add_argument("--mode", choices=["ner", "patterns", "both"], default="both")
    ap.add_argument("--misses", type=Path, help="write missed values and destroyed look-alikes")
    ap.add_argument("--no-record", action="store_true", help="do not update PERFORMANCE.md")
    args = ap.parse_args(argv)
    cases = score.load(split=args.split)
    if not cases:
        print(f"no cases in {score.DATA}", file=sys.stderr)
        return 2
    sources = sorted({c.source for c in cases})
    modes = ["ner", "patterns"] if args.mode == "both" else [args.mode]
    reports, seconds = {}, {}
    for mode in modes:
        found, seconds[mode] = findings(mode, cases)
        reports[mode] = score.tally(cases, found)
    counts = ", ".join(f"{s} {sum(c.source == s for c in cases)}" for s in sources)
    header = (f"`make pii-eval` (`python -m bench.pii_eval --split {args.split}`): "
              f"{len(cases)} cases ({counts}) of bench/pii_eval/data, default config, one "
              "process; analysis " + ", ".join(f"{m} {s:.1f} s" for m, s in seconds.items())
              + ".")
    text = header + "\n\n" + score.render(reports, args.split, sources)
    print(text)
    if args.misses:
        with args.misses.open("w", encoding="utf-8") as f:
            for mode, t in reports.items():
                for kind, items in sorted(t.missed.items()):
                    f.writelines(f"{mode}\tMISS\t{kind}\t{item}\n" for item in items)
                for cls, items in sorted(t.look_examples.items()):
                    f.writelines(f"{mode}\tLOOKALIKE\t{cls}\t{item}\n" for item in items)
    if args.split == score.TEST and args.mode == "both" and not args.no_record:
        record("pii-eval", "## PII evaluation (processors/redaction)\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
