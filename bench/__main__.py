"""Run the benchmarks and record their tables in docs/PERFORMANCE.md.

    python -m bench [NAME ...] [--quick]

Each benchmark module exposes ``run(quick: bool) -> str``: it measures, prints progress to
stderr and returns a Markdown section (tables of medians and ratios measured in the same run).
The section replaces the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in
docs/PERFORMANCE.md, so each benchmark owns its part of the file and reruns are idempotent.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
from pathlib import Path

#: Benchmark name -> module under bench/. Explicit, in the order they run.
BENCHES: dict[str, str] = {
    "runtime": "bench.runtime",
    "mixed": "bench.mixed",
    "routing": "bench.routing",
    "cost": "bench.cost",
    "derived": "bench.derived",
    "redaction": "bench.redaction",
    "collector": "bench.collector",
}

DOC = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"


def record(name: str, section: str, doc: Path = DOC) -> None:
    """Put ``section`` between the benchmark's markers in ``doc`` (appended if absent)."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{section.strip()}\n{end}"
    text = doc.read_text("utf-8") if doc.exists() else "# Performance\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = f"{text.rstrip()}\n\n{block}\n"
    doc.write_text(text, "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: {list(BENCHES)})")
    parser.add_argument("--quick", action="store_true", help="fewer rounds; nothing recorded")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {list(BENCHES)}")
    for name in args.names or list(BENCHES):
        t0 = time.monotonic()
        print(f"== bench {name}", file=sys.stderr, flush=True)
        section = importlib.import_module(BENCHES[name]).run(quick=args.quick)
        print(section)
        if not args.quick:
            record(name, section)
        print(f"== bench {name}: {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
