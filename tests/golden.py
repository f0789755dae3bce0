"""Golden OTLP/JSON files: ``<case>.input.json`` in, ``<case>.expected.json`` out.

A processor case lives in ``processors/<name>/testdata/golden/`` as a pair of OTLP/JSON files.
`check` runs the processor on the input and compares the output with the expected file, as
canonical OTLP/JSON (hex ids, sorted keys); a mismatch fails with a unified diff of the two.
With ``--update-golden`` the expected file is rewritten and the test fails on purpose, so an
update is never mistaken for a pass.

Values that are not what a case is about (the price catalog's version string, say) are written
as placeholders: ``placeholders`` maps such a value to the text stored in its place.
"""

from __future__ import annotations

import asyncio
import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from sidecar import otlpjson
from sidecar.component import BatchContext, Processor, Signal


def cases(directory: Path) -> list[Any]:
    """``pytest.param(input_path, expected_path, id=case)`` for every input in ``directory``."""
    return [
        pytest.param(p, p.with_name(p.name.replace(".input.json", ".expected.json")),
                     id=p.name.removesuffix(".input.json"))
        for p in sorted(directory.glob("*.input.json"))
    ]


def run(processor: Processor, signal: Signal, request: Any) -> tuple[Any, BatchContext]:
    """Run one batch through ``processor`` outside any server; returns (output, context)."""
    ctx = BatchContext(signal)
    out = asyncio.run(processor.process(request, ctx))
    return out, ctx


def check(
    processor: Processor,
    signal: Signal,
    input_path: Path,
    expected_path: Path,
    update: bool,
    placeholders: Mapping[str, str] | None = None,
) -> BatchContext:
    """Assert that ``processor`` turns the input file into the expected file."""
    request = otlpjson.loads(signal, input_path.read_text("utf-8"))
    out, ctx = run(processor, signal, request)
    actual = otlpjson.dumps(out)
    for value, placeholder in (placeholders or {}).items():
        actual = actual.replace(json.dumps(value), json.dumps(placeholder))
    if update:
        expected_path.write_text(actual, "utf-8")
        pytest.fail(f"golden file {expected_path.name} rewritten; rerun without --update-golden")
    assert expected_path.exists(), f"missing {expected_path}; run with --update-golden"
    expected = otlpjson.dumps(otlpjson.from_dict(signal, json.loads(expected_path.read_text())))
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            fromfile=f"{expected_path.name} (expected)", tofile="actual output", n=6,
        )
        pytest.fail(f"{input_path.name}: output differs from the golden file "
                    f"(rerun with --update-golden to accept it)\n{''.join(diff)}", pytrace=False)
    return ctx
