"""Golden OTLP/JSON cases of the cost processor, one file per convention family."""

from __future__ import annotations

from pathlib import Path

import pytest

import processors.cost as cost
from processors.cost.config import CompatKeys, CostConfig
from processors.cost.pricing import Catalog
from sidecar import otlpjson
from sidecar.component import Signal
from tests import golden

TESTDATA = Path(cost.__file__).parent / "testdata"
#: The catalog's version string is stored as a placeholder: a catalog upgrade fails these cases
#: only where a price (or a match) changed, and the diff shows which.
PLACEHOLDERS = {Catalog().version: "<catalog version>"}


@pytest.mark.parametrize(("input_path", "expected_path"), golden.cases(TESTDATA / "golden"))
def test_golden(input_path: Path, expected_path: Path, update_golden: bool) -> None:
    """Each convention's spans get exactly the expected cost attributes, nothing else changes."""
    golden.check(cost.create(cost.default_config()), Signal.TRACES, input_path, expected_path,
                 update_golden, PLACEHOLDERS)


@pytest.mark.parametrize(("input_path", "expected_path"),
                         golden.cases(TESTDATA / "golden_compat"))
def test_golden_compat_keys(input_path: Path, expected_path: Path, update_golden: bool) -> None:
    """With compatibility keys on, OpenLIT / OpenInference keys are added, never overwritten."""
    config = CostConfig(compatibility=[CompatKeys.OPENLIT, CompatKeys.OPENINFERENCE])
    golden.check(cost.create(config), Signal.TRACES, input_path, expected_path, update_golden,
                 PLACEHOLDERS)


def test_non_llm_spans_are_byte_identical() -> None:
    """Spans that are not LLM calls (HTTP, chains, agent runs) serialize to the same bytes."""
    processor = cost.create(cost.default_config())
    for path in sorted((TESTDATA / "golden").glob("*.input.json")):
        request = otlpjson.loads(Signal.TRACES, path.read_text("utf-8"))
        before = [s.SerializeToString() for rs in request.resource_spans
                  for ss in rs.scope_spans for s in ss.spans]
        out, _ctx = golden.run(processor, Signal.TRACES, request)
        after = [s.SerializeToString() for rs in out.resource_spans
                 for ss in rs.scope_spans for s in ss.spans]
        for b, a, span in zip(before, after, (s for rs in out.resource_spans
                                                for ss in rs.scope_spans for s in ss.spans),
                              strict=True):
            touched = any(kv.key.startswith("gen_ai.usage.cost.") for kv in span.attributes)
            assert touched or a == b, f"{path.name}: span {span.name!r} changed"
