"""Spend budgets of genai_metrics: their validation (errors name the YAML path) and their export
as the gauge gen_ai.client.budget, labelled for the per-dimension budget alerts."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

import processors.metrics as metrics
from processors.metrics.config import MetricsConfig
from sidecar import semconv as sc
from sidecar.component import BatchContext, Signal
from sidecar.config import ConfigError, parse_yaml
from sidecar.registry import build_config
from tests.llm_spans import FakeHost, llm_span, request

PAYMENTS = {"dimension": "team", "value": "payments", "daily": 100, "monthly": 2000,
            "currency": "USD"}
CHECKOUT = {"dimension": "feature", "value": "checkout", "daily": 12.5, "currency": "USD"}


def _config_errors(budgets: list[dict[str, Any]]) -> list[str]:
    """The errors of a sidecar config whose genai_metrics has these budgets."""
    text = yaml.safe_dump({"processors": {"cost": {}, "genai_metrics": {"budgets": budgets}},
                           "pipelines": {"traces": ["cost", "genai_metrics"]}})
    with pytest.raises(ConfigError) as info:
        build_config(parse_yaml(text, "t.yaml"), "t.yaml", {})
    return info.value.errors


def _budget_points(req: Any) -> dict[frozenset[tuple[str, str]], Any]:
    """Data points of gen_ai.client.budget by their attributes."""
    out = {}
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == sc.METRIC_BUDGET:
                    assert m.WhichOneof("data") == "gauge" and m.unit == sc.UNIT_USD
                    for dp in m.gauge.data_points:
                        attrs = frozenset((kv.key, kv.value.string_value)
                                          for kv in dp.attributes)
                        out[attrs] = dp
    return out


@pytest.mark.parametrize(("budgets", "expected"), [
    pytest.param([{**PAYMENTS, "dimension": "tenant"}],
                 "processors.genai_metrics.budgets[0].dimension: unknown dimension 'tenant'; "
                 "configured: feature, team", id="unknown-dimension"),
    pytest.param([PAYMENTS, {**CHECKOUT, "currency": "EUR"}],
                 "processors.genai_metrics.budgets[1].currency: unsupported currency 'EUR': "
                 "spend is priced in USD; allowed: USD", id="currency-eur"),
    pytest.param([{k: v for k, v in PAYMENTS.items() if k != "currency"}],
                 "processors.genai_metrics.budgets[0].currency: Field required",
                 id="currency-missing"),
    pytest.param([PAYMENTS, CHECKOUT, {**PAYMENTS, "daily": 5}],
                 "processors.genai_metrics.budgets[2]: repeats the budget of team 'payments' "
                 "of budgets[0]", id="duplicate"),
    pytest.param([{k: v for k, v in PAYMENTS.items() if k not in ("daily", "monthly")}],
                 "processors.genai_metrics.budgets[0]: give daily, monthly or both",
                 id="neither-amount"),
    pytest.param([{**PAYMENTS, "daily": 0}],
                 "processors.genai_metrics.budgets[0].daily: Input should be greater than 0",
                 id="zero-amount"),
    pytest.param([{**PAYMENTS, "value": "p" * 65}],
                 "processors.genai_metrics.budgets[0].value: longer than the max_length of "
                 "dimension 'team' (64): no value of the metrics can match it", id="too-long"),
])
def test_invalid_budgets_are_refused_with_their_yaml_path(budgets, expected) -> None:
    """Each bad budget is one error naming the path of the offending key."""
    assert _config_errors(budgets) == [expected]


def test_all_budget_errors_are_reported_at_once() -> None:
    """An unknown dimension and a duplicate in one list: both errors, one start-up."""
    errors = _config_errors([PAYMENTS, {**CHECKOUT, "dimension": "tenant"}, PAYMENTS])
    assert [e.split(":")[0] for e in errors] == [
        "processors.genai_metrics.budgets[1].dimension", "processors.genai_metrics.budgets[2]"]


def test_a_budget_on_a_custom_dimension_is_accepted() -> None:
    """A budget names any configured dimension, not only the defaults."""
    cfg = MetricsConfig.model_validate({
        "dimensions": [{"name": "tenant", "span_keys": ["tenant.id"]}],
        "budgets": [{"dimension": "tenant", "value": "acme", "monthly": 300,
                     "currency": "USD"}]})
    assert [b.periods() for b in cfg.budgets] == [[(sc.BUDGET_PERIOD_MONTHLY, 300.0)]]


def test_budgets_are_exported_as_gauges_with_their_dimension_and_period() -> None:
    """One gauge point per budget and period: the dimension's own attribute holds the value
    (the label the spend series carry), genai.budget.period says which amount."""
    p = metrics.create(MetricsConfig.model_validate({"budgets": [PAYMENTS, CHECKOUT]}))
    points = _budget_points(p.collect())
    assert {attrs: dp.as_double for attrs, dp in points.items()} == {
        frozenset({(sc.GENAI_BUDGET_PERIOD, "daily"), ("team", "payments")}): 100.0,
        frozenset({(sc.GENAI_BUDGET_PERIOD, "monthly"), ("team", "payments")}): 2000.0,
        frozenset({(sc.GENAI_BUDGET_PERIOD, "daily"), ("feature", "checkout")}): 12.5,
    }
    assert all(dp.time_unix_nano > 0 for dp in points.values())


async def test_budget_gauges_are_in_every_export_and_never_expire() -> None:
    """Cumulative export: the gauges are in the first export (before any span), in each later
    one, and stay after every recorded series expired."""
    host = FakeHost()
    p = metrics.create(MetricsConfig.model_validate({"interval": 3600, "series_expiration": 60,
                                                     "budgets": [PAYMENTS]}))
    await p.start(host)
    assert await p.flush() is True
    await p.process(request([llm_span(extra={"team": "payments"})]), BatchContext(Signal.TRACES))
    assert await p.flush() is True
    later = time.time_ns() + 2 * 3600 * 10**9
    p._agg._clock = lambda: later
    assert await p.flush() is True
    await p.shutdown()
    assert [len(_budget_points(req)) for _, req in host.exports] == [2, 2, 2, 2]
    last = host.exports[-1][1]
    assert {m.name for rm in last.resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics} == {sc.METRIC_BUDGET}  # the request counters expired
    assert p.expired_series > 0


async def test_no_budget_no_gauge() -> None:
    """Without budgets nothing is exported before traffic, and no budget metric after it."""
    host = FakeHost()
    p = metrics.create(MetricsConfig(interval=3600))
    await p.start(host)
    assert await p.flush() is True
    assert host.exports == []
    await p.process(request([llm_span()]), BatchContext(Signal.TRACES))
    await p.shutdown()
    (_, req), = host.exports
    assert _budget_points(req) == {}
    assert sc.METRIC_REQUESTS in {m.name for rm in req.resource_metrics
                                  for sm in rm.scope_metrics for m in sm.metrics}
