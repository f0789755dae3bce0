"""Configuration and overrides-file errors (exact messages), precedence and reloads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import processors.cost as cost
from processors.cost.config import CostConfig
from processors.cost.overrides import Overrides
from processors.cost.processor import CostProcessor
from sidecar import semconv as sc
from sidecar.config import ConfigError
from sidecar.registry import build_config
from tests.unit.cost.helpers import WHEN_NS, llm_call

GOOD = """\
version: acme-2026-11
models:
  - name: negotiated-gpt-4o
    exact: gpt-4o
    input: 2.00
    output: 8.00
    cache_read: 1.00
    service_tiers:
      batch: {input: 1.00, output: 4.00}
  - prefix: ft:gpt-4o-mini
    input: 0.30
    output: 1.20
  - prefix: ft:gpt-4o-mini-2024-07-18:acme
    input: 0.25
    output: 1.00
  - regex: "^acme-llm-v[0-9]+$"
    input: 1.00
    output: 2.00
    tiers:
      - above_input_tokens: 100000
        input: 2.00
        output: 4.00
  - exact: gpt-4o
    provider: azure.ai.openai
    input: 2.20
    output: 8.80
"""


def _write(path: Path, text: str, mtime_ns: int) -> None:
    path.write_text(text, "utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))  # an explicit, distinct mtime: no sleeping


@pytest.mark.parametrize(
    ("settings", "errors"),
    [
        pytest.param({"bogus": 1}, ["processors.cost.bogus: unknown key"], id="unknown-key"),
        pytest.param({"compatibility": ["langfuse"]},
                     ["processors.cost.compatibility[0]: Input should be 'openlit' or "
                      "'openinference'"], id="compat-enum"),
        pytest.param({"reload_interval": "soon"},
                     ["processors.cost.reload_interval: invalid duration 'soon'; use e.g. "
                      "'500ms', '10s', '1m', '1h'"], id="duration"),
        pytest.param({"cache_size": 1},
                     ["processors.cost.cache_size: Input should be greater than or equal to 16"],
                     id="cache-size"),
        pytest.param({"catalog_update": {"enabled": True, "interval": "10s"}},
                     ["processors.cost.catalog_update.interval: Input should be greater than or "
                      "equal to 60"], id="update-interval"),
    ],
)
def test_config_errors_name_the_yaml_path(settings: dict, errors: list[str]) -> None:
    """Invalid settings stop start-up with one message per problem, by YAML path."""
    with pytest.raises(ConfigError) as exc:
        build_config({"processors": {"cost": settings}, "pipelines": {"traces": ["cost"]}})
    assert exc.value.errors == errors


def test_cost_is_traces_only() -> None:
    """The cost processor refuses other pipelines."""
    with pytest.raises(ConfigError) as exc:
        build_config({"processors": {"cost": {}}, "pipelines": {"logs": ["cost"]}})
    assert exc.value.errors == [
        "pipelines.logs[0]: processor 'cost' does not handle logs; it handles: traces"
    ]


BAD = """\
models:
  - exact: gpt-4o
    prefix: gpt
    input: 1
  - exact: x
    input: -1
  - regex: "gpt-(4"
    input: 1
  - exact: y
    input: 1
    bogus: 2
    tiers:
      - input: 2
"""


def test_bad_overrides_file_stops_start_up(tmp_path: Path) -> None:
    """Every problem of the file is reported with its path inside the file."""
    path = tmp_path / "prices.yaml"
    path.write_text(BAD, "utf-8")
    with pytest.raises(ConfigError) as exc:
        cost.create(CostConfig(overrides_file=path))
    assert exc.value.source == str(path)
    assert exc.value.errors == [
        "models[0]: set exactly one of exact, prefix, regex",
        "models[1].input: Input should be greater than or equal to 0",
        "models[2].regex: invalid regular expression: missing ), unterminated subpattern at "
        "position 4",
        "models[3].tiers[0].above_input_tokens: Field required",
        "models[3].bogus: unknown key",
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(None, "<root>: cannot read file: No such file or directory", id="missing"),
        pytest.param("models: [\n", "<root>: invalid YAML (line 2, column 1): expected the node "
                     "content, but found '<stream end>'", id="syntax"),
        pytest.param("- a\n", "<root>: expected a mapping at the top level", id="not-mapping"),
    ],
)
def test_unreadable_overrides_file(tmp_path: Path, text: str | None, error: str) -> None:
    path = tmp_path / "prices.yaml"
    if text is not None:
        path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as exc:
        cost.create(CostConfig(overrides_file=path))
    assert exc.value.errors == [error]


@pytest.mark.parametrize(
    ("provider", "model", "tier", "ref", "usd"),
    [
        pytest.param("openai", "gpt-4o", None, "override:negotiated-gpt-4o", 10.00, id="exact"),
        pytest.param("openai", "GPT-4o", None, "override:negotiated-gpt-4o", 10.00,
                     id="case-insensitive"),
        pytest.param("openai", "gpt-4o", "batch", "override:negotiated-gpt-4o", 5.00,
                     id="service-tier-variant"),
        pytest.param("azure.ai.openai", "gpt-4o", None, "override:gpt-4o", 11.00,
                     id="provider-restricted-wins"),
        pytest.param("openai", "ft:gpt-4o-mini-2024-07-18:acme::x1", None,
                     "override:ft:gpt-4o-mini-2024-07-18:acme", 1.25, id="longest-prefix"),
        pytest.param("openai", "ft:gpt-4o-mini-2024-07-18:other::x1", None,
                     "override:ft:gpt-4o-mini", 1.50, id="shorter-prefix"),
        pytest.param(None, "acme-llm-v3", None, "override:^acme-llm-v[0-9]+$", 6.00,
                     id="regex-above-tier"),
        pytest.param("openai", "gpt-4o-mini", None, "openai:gpt-4o-mini", 0.75,
                     id="catalog-when-no-override"),
    ],
)
def test_override_precedence(tmp_path: Path, provider, model, tier, ref, usd) -> None:
    """Overrides beat the catalog: exact, then longest prefix, then regex; per provider first."""
    path = tmp_path / "prices.yaml"
    path.write_text(GOOD, "utf-8")
    p = cost.create(CostConfig(overrides_file=path))
    q = p.pricer.quote(llm_call(model, provider, 1_000_000, 1_000_000, tier=tier), WHEN_NS)
    assert q.match.ref == ref
    assert q.cost.amount == pytest.approx(usd)


def test_override_context_tier(tmp_path: Path) -> None:
    """Above a tier's start every token takes the tier's rate (cliff, as the catalog)."""
    path = tmp_path / "prices.yaml"
    path.write_text(GOOD, "utf-8")
    p = cost.create(CostConfig(overrides_file=path))
    q = p.pricer.quote(llm_call("acme-llm-v3", None, 200_000, 1_000_000), WHEN_NS)
    assert q.cost.amount == pytest.approx(200_000 * 2e-6 + 1_000_000 * 4e-6)


def _reloads(p: CostProcessor, outcome: str) -> float:
    return p.metrics.reloads.labels(outcome)._value.get()


def test_reload_applies_a_good_file_and_keeps_the_last_good_on_error(tmp_path: Path) -> None:
    """Reloads are explicit checks: changed+valid swaps, changed+invalid keeps the old prices."""
    path = tmp_path / "prices.yaml"
    _write(path, "models:\n  - exact: acme-x\n    input: 1\n    output: 1\n", 1_000_000_000)
    p = cost.create(CostConfig(overrides_file=path))
    call = llm_call("acme-x", None, 1_000_000, 0)
    assert p.pricer.quote(call).cost.amount == pytest.approx(1.0)

    assert p.check_overrides() is None  # unchanged: nothing read

    _write(path, "version: v2\nmodels:\n  - exact: acme-x\n    input: 3\n    output: 1\n",
           2_000_000_000)
    assert p.check_overrides() is True
    q = p.pricer.quote(call)
    assert (q.cost.amount, q.match.version) == (pytest.approx(3.0), "overrides:v2")

    _write(path, "models:\n  - exact: acme-x\n    input: -3\n", 3_000_000_000)
    assert p.check_overrides() is False
    assert p.pricer.quote(call).cost.amount == pytest.approx(3.0)  # last good kept
    assert _reloads(p, sc.OWN_COST_RELOAD_FAILED) == 1
    assert _reloads(p, sc.OWN_COST_RELOAD_OK) == 1

    path.unlink()
    assert p.check_overrides() is False  # a vanished file is an error too; prices kept
    assert p.pricer.quote(call).cost.amount == pytest.approx(3.0)


def test_reload_clears_cached_lookups(tmp_path: Path) -> None:
    """A model first answered by the catalog (cached) is re-resolved after a reload."""
    path = tmp_path / "prices.yaml"
    _write(path, "models: []\n", 1_000_000_000)
    p = cost.create(CostConfig(overrides_file=path))
    call = llm_call("gpt-4o-mini", "openai", 1_000_000, 0)
    assert p.pricer.quote(call, WHEN_NS).match.ref == "openai:gpt-4o-mini"
    _write(path, "models:\n  - exact: gpt-4o-mini\n    input: 9\n", 2_000_000_000)
    assert p.check_overrides() is True
    assert p.pricer.quote(call, WHEN_NS).match.ref == "override:gpt-4o-mini"


def test_overrides_version_defaults_to_content_hash() -> None:
    o = Overrides.parse("models: []\n", "x.yaml")
    assert o.version.startswith("overrides:") and len(o.version) == len("overrides:") + 12


async def test_watcher_starts_with_a_file_and_stops_on_shutdown(tmp_path: Path) -> None:
    """start() schedules the reload check only when a file is set; shutdown() ends it."""
    path = tmp_path / "prices.yaml"
    path.write_text("models: []\n", "utf-8")
    host = type("H", (), {"loop": None})()
    with_file = cost.create(CostConfig(overrides_file=path, reload_interval=3600))
    without = cost.create(CostConfig())
    await with_file.start(host)
    await without.start(host)
    assert with_file._task is not None and not with_file._task.done()
    assert without._task is None
    await with_file.shutdown()
    await with_file.shutdown()  # idempotent
    assert with_file._task is None
