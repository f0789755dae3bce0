"""`genai-sidecar price` and the cost processor's own counters."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

import processors.cost as cost
from processors.cost.cli import EXIT_UNPRICED
from sidecar import otlpjson
from sidecar import semconv as sc
from sidecar.cli import main
from sidecar.component import BatchContext, Signal

GOLDEN = Path(cost.__file__).parent / "testdata" / "golden"


def test_price_prints_breakdown_and_entry(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["price", "--model", "gpt-4o-2024-08-06", "--provider", "openai",
               "--input-tokens", "1000000", "--output-tokens", "1000000",
               "--cache-read-tokens", "400000"])
    out = capsys.readouterr().out
    assert rc == 0
    # 600k * $2.50 + 400k * $1.25 + 1M * $10 per million
    assert "matched:      openai:gpt-4o" in out
    assert "input:        1.5000000000 USD" in out
    assert "cache_read:   0.5000000000 USD" in out
    assert "output:       10.0000000000 USD" in out
    assert "total:        12.0000000000 USD" in out


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        pytest.param("gpt-7-preview", "unknown_model", id="unknown"),
        pytest.param("ft:gpt-4o-mini-2024-07-18:acme::x", "fine_tuned_model", id="fine-tune"),
    ],
)
def test_price_unpriced_exits_3(capsys: pytest.CaptureFixture[str], model: str,
                                reason: str) -> None:
    rc = main(["price", "--model", model, "--input-tokens", "10", "--output-tokens", "1"])
    assert rc == EXIT_UNPRICED == 3
    assert f"reason:       {reason}" in capsys.readouterr().out


def test_price_uses_overrides_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("models:\n  - exact: acme-1\n    input: 1\n    output: 2\n", "utf-8")
    rc = main(["price", "--model", "acme-1", "--input-tokens", "1000000", "--output-tokens",
               "1000000", "--overrides", str(f)])
    out = capsys.readouterr().out
    assert rc == 0 and "matched:      override:acme-1" in out and "total:        3.0" in out


def test_price_rejects_negative_counts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["price", "--model", "gpt-4o", "--input-tokens", "-1", "--output-tokens", "1"])
    assert exc.value.code == 2
    assert "a token count cannot be negative" in capsys.readouterr().err


class _Host:
    """A host exposing the sidecar telemetry registry, as the pipeline does."""

    def __init__(self) -> None:
        self.loop = asyncio.get_event_loop()
        self.telemetry = type("T", (), {"registry": CollectorRegistry()})()


async def test_counters_by_status_and_unpriced_reason() -> None:
    """Every model-call span is counted by status; unpriced ones by reason too."""
    host = _Host()
    p = cost.create(cost.default_config())
    await p.start(host)
    for name in ("traps", "bedrock_botocore"):
        request = otlpjson.loads(Signal.TRACES, (GOLDEN / f"{name}.input.json").read_text())
        await p.process(request, BatchContext(Signal.TRACES))
    await p.shutdown()
    r = host.telemetry.registry
    unpriced = {reason: r.get_sample_value(sc.OWN_COST_UNPRICED + "_total", {"reason": reason})
                for reason in ("unknown_model", "fine_tuned_model", "no_model",
                               "incomplete_usage", "unresolvable_model_arn")}
    assert unpriced == {"unknown_model": 1.0, "fine_tuned_model": 1.0, "no_model": 1.0,
                        "incomplete_usage": 1.0, "unresolvable_model_arn": 1.0}
    spans = {s: r.get_sample_value(sc.OWN_COST_SPANS + "_total", {"status": s})
             for s in ("priced", "unpriced", "preexisting")}
    assert spans == {"priced": 6.0, "unpriced": 5.0, "preexisting": 1.0}
