"""Settings of the ``genai_metrics`` processor (``processors.genai_metrics`` in the config)."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from sidecar import semconv as sc
from sidecar.config import Duration, StrictModel

#: gen_ai.client.token.usage buckets of the GenAI semantic conventions (v1.41).
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864)
#: gen_ai.client.operation.duration / time_to_first_chunk buckets of the conventions, seconds.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                    40.96, 81.92)
#: gen_ai.client.trace.calls buckets: model calls per run.
CALL_BUCKETS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)
#: gen_ai.client.operation.cost buckets, USD (a cent of a cent up to 50 dollars per call).
COST_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                2.5, 5.0, 10.0, 50.0)

_NAME = re.compile(r"^[a-z_][a-z0-9_.]{0,62}$")
#: Attributes the processor sets itself; an attribution dimension may not reuse them.
_RESERVED = frozenset({
    "service.name", "error.type", "gen_ai.provider.name", "gen_ai.operation.name",
    "gen_ai.request.model", "gen_ai.response.model", "gen_ai.token.type", "gen_ai.cost.type",
    "gen_ai.response.finish_reason", "gen_ai.usage.cost.reason", "redaction.pii.status",
    "redaction.pii.type", "le", "gen_ai.agent.name", "gen_ai.tool.name",
    "gen_ai.runaway.threshold", "gen_ai.runaway.scope", sc.GENAI_BUDGET_PERIOD,
})
#: The currency budgets may be given in: the one the cost processor prices in.
BUDGET_CURRENCY = "USD"


class Dimension(StrictModel):
    """An attribution dimension: one more attribute on every derived metric (team, feature...).

    The value is taken from the first of ``span_keys`` present on the span, else the first of
    ``resource_keys`` present on its resource. At most ``limit`` distinct values are kept (the
    first ones seen, for the life of the process); later ones become ``overflow_value``.
    """

    #: Attribute name on the metrics (Prometheus label after translation, dots -> underscores).
    name: str
    #: Span attribute keys to read, first present wins.
    span_keys: list[str] = Field(default_factory=list)
    #: Resource attribute keys to read when no span key is present.
    resource_keys: list[str] = Field(default_factory=list)
    #: Distinct values kept; more are folded into ``overflow_value`` (and counted).
    limit: int = Field(50, ge=1, le=10_000)
    #: Value standing for every value beyond ``limit``.
    overflow_value: str = "_other"
    #: Value when no key is present; null leaves the attribute off.
    missing_value: str | None = "unset"
    #: Longest value kept; longer values are cut (values are labels, not content).
    max_length: int = Field(64, ge=1, le=1024)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"invalid dimension name {value!r}; use lower case letters, digits, "
                             "'_' and '.', starting with a letter or '_'")
        if value in _RESERVED:
            raise ValueError(f"dimension name {value!r} is set by the processor itself")
        return value

    @model_validator(mode="after")
    def _check_keys(self) -> Dimension:
        if not self.span_keys and not self.resource_keys:
            raise ValueError("give span_keys, resource_keys or both")
        return self


class Budget(StrictModel):
    """A spend budget of one value of an attribution dimension (team ``payments``...),
    exported as the gauge ``gen_ai.client.budget`` that the budget alert rules compare with."""

    #: Name of one of the configured ``dimensions``.
    dimension: str
    #: The dimension's value the budget is for.
    value: str = Field(min_length=1)
    #: Budget per day, in ``currency``.
    daily: float | None = Field(None, gt=0, allow_inf_nan=False)
    #: Budget per month (30 days), in ``currency``.
    monthly: float | None = Field(None, gt=0, allow_inf_nan=False)
    #: Currency of the amounts; required so that a budget in another currency is refused
    #: rather than compared with USD spend.
    currency: str

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, value: str) -> str:
        if value != BUDGET_CURRENCY:
            raise ValueError(f"unsupported currency {value!r}: spend is priced in "
                             f"{BUDGET_CURRENCY}; allowed: {BUDGET_CURRENCY}")
        return value

    @model_validator(mode="after")
    def _check_amounts(self) -> Budget:
        if self.daily is None and self.monthly is None:
            raise ValueError("give daily, monthly or both")
        return self

    def periods(self) -> list[tuple[str, float]]:
        """(period, amount) of each amount given."""
        return [(period, amount) for period, amount in (
            (sc.BUDGET_PERIOD_DAILY, self.daily), (sc.BUDGET_PERIOD_MONTHLY, self.monthly))
            if amount is not None]


def _errors(title: str, errors: Sequence[tuple[tuple[str | int, ...], str, Any]]) -> None:
    """Raise one ValidationError with an error at each (location, message, input): the
    location of a cross-field check is then the YAML path of the offending entry."""
    if errors:
        raise ValidationError.from_exception_data(title, [
            InitErrorDetails(type=PydanticCustomError("value_error", "{message}",
                                                      {"message": message}),
                             loc=loc, input=value)
            for loc, message, value in errors])


def _default_dimensions() -> list[Dimension]:
    return [
        Dimension(name="team", span_keys=["team", "app.team"], resource_keys=["team"]),
        Dimension(name="feature", span_keys=["feature", "app.feature"],
                  resource_keys=["feature"]),
    ]


class MetricsConfig(StrictModel):
    """Derive GenAI metrics (OTLP, semantic conventions v1.41) from LLM spans."""

    #: How often the metrics are exported downstream (cumulative, so a failed export loses
    #: nothing: the next one carries the totals).
    interval: Duration = Field(15.0, ge=0.1, le=3600)
    #: Deadline of one export of the derived metrics.
    export_timeout: Duration = Field(10.0, gt=0, le=300)
    #: Largest export request, in MiB; more series are split over several requests (the
    #: collector's OTLP receiver refuses more than 4 MiB unless configured otherwise).
    max_export_mib: float = Field(4.0, gt=0, le=1024)
    #: Series per metric; further attribute sets go to one more series, the overflow
    #: series (``otel.metric.overflow=true``).
    cardinality_limit: int = Field(2000, ge=10, le=1_000_000)
    #: A series not updated for this long is dropped at the next export, and an attribution
    #: value not seen for this long gives its slot back (after a burst of junk values, new
    #: legitimate ones get series again); null keeps both for the life of the process.
    series_expiration: Duration | None = Field(3600.0, gt=0)
    #: Distinct agent names, and distinct tool names, that label the duration of agent runs
    #: and tool calls; later ones become ``_other`` (counted like a dimension's overflow).
    agent_tool_limit: int = Field(100, ge=1, le=10_000)
    #: A model call with at least this many input tokens and at most ``low_yield_max_output_ratio``
    #: output tokens per input token is counted in ``gen_ai.client.low_yield.calls`` (large
    #: contexts that produce little: token efficiency); null: off.
    low_yield_min_input_tokens: int | None = Field(8000, ge=1)
    #: See ``low_yield_min_input_tokens``.
    low_yield_max_output_ratio: float = Field(0.02, ge=0, le=1)
    #: Attribution dimensions added to every metric.
    dimensions: list[Dimension] = Field(default_factory=_default_dimensions)
    #: Bucket boundaries of gen_ai.client.operation.cost, USD, increasing.
    cost_buckets: list[float] = Field(default_factory=lambda: list(COST_BUCKETS))
    #: Spend budgets per dimension value, exported as the gauge gen_ai.client.budget.
    budgets: list[Budget] = Field(default_factory=list)

    @field_validator("cost_buckets")
    @classmethod
    def _check_buckets(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("give at least one bucket boundary")
        if any(not math.isfinite(v) for v in value) or any(
            b <= a for a, b in itertools.pairwise(value)
        ):
            raise ValueError("bucket boundaries must be finite and strictly increasing")
        return value

    @model_validator(mode="after")
    def _check_unique(self) -> MetricsConfig:
        names = [d.name for d in self.dimensions]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"dimension names must be unique; repeated: {', '.join(dup)}")
        return self

    @model_validator(mode="after")
    def _check_budgets(self) -> MetricsConfig:
        dims = {d.name: d for d in self.dimensions}
        errors: list[tuple[tuple[str | int, ...], str, Any]] = []
        seen: dict[tuple[str, str], int] = {}
        for i, b in enumerate(self.budgets):
            dim = dims.get(b.dimension)
            if dim is None:
                known = ", ".join(sorted(dims)) or "(none)"
                errors.append((("budgets", i, "dimension"),
                               f"unknown dimension {b.dimension!r}; configured: {known}",
                               b.dimension))
                continue
            if len(b.value) > dim.max_length:
                errors.append((("budgets", i, "value"),
                               f"longer than the max_length of dimension {dim.name!r} "
                               f"({dim.max_length}): no value of the metrics can match it",
                               b.value))
            first = seen.setdefault((b.dimension, b.value), i)
            if first != i:
                errors.append((("budgets", i), f"repeats the budget of {b.dimension} "
                               f"{b.value!r} of budgets[{first}]", b.value))
        series = sum(len(b.periods()) for b in self.budgets)
        if series > self.cardinality_limit:
            errors.append((("budgets",), f"{series} budget series exceed cardinality_limit "
                           f"({self.cardinality_limit})", series))
        _errors(type(self).__name__, errors)
        return self
