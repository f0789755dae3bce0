"""Golden OTLP/JSON cases: every content shape on spans, events and logs, NER mode defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.redaction import RedactionConfig, create
from sidecar.component import Signal
from tests import golden

GOLDEN = Path(__file__).resolve().parents[3] / "processors" / "redaction" / "testdata" / "golden"
SIGNALS = {"spans": Signal.TRACES, "logs": Signal.LOGS}


@pytest.mark.parametrize(("input_path", "expected_path"), golden.cases(GOLDEN))
def test_golden(ner_analyzer, input_path: Path, expected_path: Path, update_golden: bool) -> None:
    """The default config turns each input into its expected file (NER, replace)."""
    signal = SIGNALS[input_path.name.split("_", 1)[0]]
    processor = create(RedactionConfig(), analyzer=ner_analyzer)
    golden.check(processor, signal, input_path, expected_path, update_golden)
