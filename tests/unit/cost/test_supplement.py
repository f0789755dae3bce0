"""The bundled price supplement (processors/cost/supplement.yaml): models the catalog lacks.

Order: overrides, then the catalog, then the supplement (only for ``unknown_model``). Expected
costs are computed here from the rows' published prices (USD per million tokens), independently
of the processor's code.
"""

from __future__ import annotations

import asyncio
import math
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path

import pytest
import yaml
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

import processors.cost as cost
from processors import genai
from processors.cost import pricing
from processors.cost.config import CostConfig
from processors.cost.overrides import Overrides
from processors.cost.pricing import (
    CATALOG_PROVIDERS,
    SUPPLEMENT_RESOURCE,
    Catalog,
    Miss,
    Supplement,
    bundled_supplement,
)
from processors.cost.processor import Pricer
from sidecar import semconv as sc
from sidecar.cli import main
from sidecar.component import BatchContext, Signal
from sidecar.config import ConfigError
from tests.harness import kv
from tests.unit.cost.helpers import WHEN_NS, llm_call

ROOT = Path(__file__).resolve().parents[3]
BEDROCK_PAGE = "https://aws.amazon.com/bedrock/pricing/"
AI21_PAGE = "https://www.ai21.com/pricing/"
#: (input tokens, output tokens) of every priced row below.
TOKENS = (12_000, 3_000)

# (id, provider as sent, model as sent, "in/out" USD per million, ref, checked date)
ROWS = [
    # ---- Amazon Bedrock, us-east-1 on-demand (aws.amazon.com/bedrock/pricing) ------------
    ("bedrock-command-r-plus", "aws.bedrock", "cohere.command-r-plus-v1:0", "3.00/15.00",
     "aws:cohere.command-r-plus-v1:0", "2025-07-20"),
    ("bedrock-command-r-plus-us-profile", "aws.bedrock", "us.cohere.command-r-plus-v1:0",
     "3.00/15.00", "aws:cohere.command-r-plus-v1:0", "2025-07-20"),
    ("bedrock-command-r", "aws.bedrock", "cohere.command-r-v1:0", "0.50/1.50",
     "aws:cohere.command-r-v1:0", "2025-07-20"),
    ("bedrock-command-r-router-prefix", None, "bedrock/cohere.command-r-v1:0", "0.50/1.50",
     "aws:cohere.command-r-v1:0", "2025-07-20"),
    ("bedrock-command-r-us-profile-no-provider", None, "us.cohere.command-r-v1:0", "0.50/1.50",
     "aws:cohere.command-r-v1:0", "2025-07-20"),
    ("bedrock-jamba-1.5-large", "aws.bedrock", "ai21.jamba-1-5-large-v1:0", "2.00/8.00",
     "aws:ai21.jamba-1-5-large-v1:0", "2025-07-20"),
    ("bedrock-jamba-1.5-large-us-profile", "aws_bedrock", "us.ai21.jamba-1-5-large-v1:0",
     "2.00/8.00", "aws:ai21.jamba-1-5-large-v1:0", "2025-07-20"),
    ("bedrock-jamba-1.5-mini", "aws.bedrock", "ai21.jamba-1-5-mini-v1:0", "0.20/0.40",
     "aws:ai21.jamba-1-5-mini-v1:0", "2025-07-20"),
    ("bedrock-jamba-instruct", "aws.bedrock", "ai21.jamba-instruct-v1:0", "0.50/0.70",
     "aws:ai21.jamba-instruct-v1:0", "2025-07-20"),
    ("bedrock-jamba-instruct-system-arn", "aws.bedrock",
     "arn:aws:bedrock:us-east-1::foundation-model/ai21.jamba-instruct-v1:0", "0.50/0.70",
     "aws:ai21.jamba-instruct-v1:0", "2025-07-20"),
    # ---- AI21's own API (ai21.com/pricing) --------------------------------------------
    ("ai21-jamba-large-1.7", "ai21", "jamba-large-1.7", "2.00/8.00", "ai21:jamba-large-1.7",
     "2026-05-04"),
    ("ai21-jamba-large-1.7-dated", "AI21", "jamba-large-1.7-2025-07", "2.00/8.00",
     "ai21:jamba-large-1.7", "2026-05-04"),
    ("ai21-jamba-mini-1.7", "ai21", "jamba-mini-1.7", "0.20/0.40", "ai21:jamba-mini-1.7",
     "2026-05-04"),
    ("ai21-jamba-mini-1.7-dated", "ai21", "jamba-mini-1.7-2025-08", "0.20/0.40",
     "ai21:jamba-mini-1.7", "2026-05-04"),
]

# (id, provider as sent, model as sent, tier, expected reason)
UNPRICED = [
    # Left out of the supplement: no source confirmed a price (see the file's header).
    ("bedrock-mistral-large-2407", "aws.bedrock", "mistral.mistral-large-2407-v1:0", None,
     sc.COST_REASON_UNKNOWN_MODEL),
    ("ai21-jamba-1.5-large", "ai21", "jamba-1.5-large", None, sc.COST_REASON_UNKNOWN_MODEL),
    ("ai21-jamba-1.5-mini", "ai21", "jamba-1.5-mini", None, sc.COST_REASON_UNKNOWN_MODEL),
    # A floating alias may point at a newer model with another price: never the family rate.
    ("ai21-floating-alias", "ai21", "jamba-large", None, sc.COST_REASON_UNKNOWN_MODEL),
    # A Bedrock id with another version is another model.
    ("bedrock-other-version", "aws.bedrock", "cohere.command-r-v2:0", None,
     sc.COST_REASON_UNKNOWN_MODEL),
    # Without a Bedrock hint the id is not taken as Bedrock's (the catalog does the same).
    ("bedrock-id-without-provider", None, "cohere.command-r-v1:0", None,
     sc.COST_REASON_UNKNOWN_MODEL),
    # The rows carry standard on-demand rates only: batch / flex / priority are not guessed.
    ("bedrock-batch-tier", "aws.bedrock", "cohere.command-r-v1:0", "batch",
     sc.COST_REASON_UNKNOWN_MODEL),
    ("ai21-priority-tier", "ai21", "jamba-mini-1.7", "priority", sc.COST_REASON_UNKNOWN_MODEL),
    # Blocked before any lookup, as for the catalog.
    ("bedrock-application-profile", "aws.bedrock",
     "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", None,
     sc.COST_REASON_UNRESOLVABLE_ARN),
    ("ai21-fine-tune", "ai21", "ft:jamba-mini-1.7:acme::x1", None, sc.COST_REASON_FINE_TUNED),
]


def _by_hand(price: str, inp: int, out: int) -> float:
    p_in, p_out = (float(p) for p in price.split("/"))
    return (inp * p_in + out * p_out) / 1e6


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(Overrides.empty(), Catalog())


def _raw_rows() -> list[dict]:
    text = resources.files("processors.cost").joinpath(SUPPLEMENT_RESOURCE).read_text("utf-8")
    return yaml.safe_load(text)["models"]


# --------------------------------------------------------------------------------------------
# The bundled file
# --------------------------------------------------------------------------------------------
def test_bundled_file_is_valid_and_loaded_once() -> None:
    """The shipped file parses and validates; the processor uses the one process-wide copy."""
    sup = Supplement.load()
    assert len(sup.rows) == len(_raw_rows()) >= 7
    assert bundled_supplement() is bundled_supplement()
    assert cost.create(cost.default_config()).pricer.supplement is bundled_supplement()


def test_every_row_has_a_vendor_source_and_a_checked_date() -> None:
    """Each row names the vendor's pricing page and the date its price was checked."""
    for raw, row in zip(_raw_rows(), bundled_supplement().rows, strict=True):
        assert isinstance(raw.get("checked"), date), raw
        assert raw.get("source") in {BEDROCK_PAGE, AI21_PAGE}, raw
        assert row.source == raw["source"] and row.checked == raw["checked"]
        assert row.checked <= date(2026, 12, 7)  # when this table was last reviewed
        if row.provider == "aws":
            assert (row.source, row.region) == (BEDROCK_PAGE, "us-east-1")


def test_every_row_is_covered_by_this_table() -> None:
    """Adding a row to the supplement needs a row here, with its price worked out by hand."""
    tested = {(pricing.canonicalize(genai.normalize_provider(r[1]), r[2]).candidates, r[4])
              for r in ROWS}
    for row in bundled_supplement().rows:
        for mid in row.ids:
            assert any((row.provider, mid) in cands and ref == f"{row.provider}:{row.ids[0]}"
                       for cands, ref in tested), f"{row.provider}:{mid} has no test row"


def test_no_row_duplicates_a_catalog_entry() -> None:
    """Every row is a model the catalog lacks: once a catalog upgrade prices it, remove the row
    (the catalog would win anyway, so the row would be dead)."""
    catalog = Catalog()
    ours = {theirs: ours for ours, theirs in CATALOG_PROVIDERS.items()}
    for row in bundled_supplement().rows:
        for mid in row.ids:
            found = catalog.lookup(ours[row.provider], mid, None)
            assert found == Miss(sc.COST_REASON_UNKNOWN_MODEL), (row.provider, mid, found)


def test_the_file_ships_as_package_data() -> None:
    """pyproject.toml's package data includes the YAML next to the module (wheel and sdist)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]
    assert "*.yaml" in patterns.get("*", []) + patterns.get("processors.cost", [])
    assert "processors*" in config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert resources.files("processors.cost").joinpath(SUPPLEMENT_RESOURCE).is_file()


# --------------------------------------------------------------------------------------------
# Prices
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("provider", "model", "price", "ref", "checked"),
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_supplement_prices(pricer: Pricer, provider: str | None, model: str, price: str,
                           ref: str, checked: str) -> None:
    """Each supplement model is priced at its published rate and says where it came from."""
    inp, out = TOKENS
    q = pricer.quote(llm_call(model, genai.normalize_provider(provider), inp, out), WHEN_NS)
    assert q.status == sc.COST_STATUS_PRICED, q.reason
    assert math.isclose(q.cost.amount, _by_hand(price, inp, out), rel_tol=1e-12)
    assert q.cost.cache_read == q.cost.cache_write == 0
    assert (q.match.ref, q.match.version) == (ref, f"genai-sidecar supplement {checked}")


@pytest.mark.parametrize(("provider", "model", "tier", "reason"),
                         [pytest.param(*r[1:], id=r[0]) for r in UNPRICED])
def test_not_priced_from_the_supplement(pricer: Pricer, provider: str | None, model: str,
                                        tier: str | None, reason: str) -> None:
    """Models without a confirmed row, other tiers and blocked names stay unpriced."""
    q = pricer.quote(llm_call(model, genai.normalize_provider(provider), tier=tier), WHEN_NS)
    assert (q.status, q.reason, q.cost) == (sc.COST_STATUS_UNPRICED, reason, None)


def test_cache_tokens_take_the_input_rate_without_a_published_cache_rate(pricer: Pricer) -> None:
    """No cache rate is published for these models: cache tokens cost what input costs."""
    q = pricer.quote(llm_call("cohere.command-r-plus-v1:0", "aws.bedrock", 10_000, 1_000,
                              cache_read=4_000), WHEN_NS)
    assert math.isclose(q.cost.amount, (10_000 * 3.00 + 1_000 * 15.00) / 1e6, rel_tol=1e-12)
    assert sc.COST_CAVEAT_CACHE_DETAIL_MISSING not in q.caveats


# --------------------------------------------------------------------------------------------
# Order: overrides > catalog > supplement
# --------------------------------------------------------------------------------------------
_SHADOWING = """
models:
  - provider: openai
    ids: [gpt-4o]
    input: 99
    output: 99
    source: https://openai.com/api/pricing/
    checked: 2026-01-01
  - provider: aws
    ids: [mistral.mistral-large-2402-v1:0]
    input: 1
    output: 1
    source: https://aws.amazon.com/bedrock/pricing/
    checked: 2026-01-01
  - provider: cohere
    ids: [command-r-plus]
    input: 99
    output: 99
    source: https://cohere.com/pricing
    checked: 2026-01-01
"""


@pytest.mark.parametrize(
    ("provider", "model", "price", "ref"),
    [
        pytest.param("openai", "gpt-4o", "2.50/10.00", "openai:gpt-4o", id="openai"),
        pytest.param("aws.bedrock", "mistral.mistral-large-2402-v1:0", "4/12",
                     "aws:mistral.mistral-large-2402-v1:0", id="bedrock-mistral-large-2402"),
        pytest.param("cohere", "command-r-plus", "2.50/10", "cohere:command-r-plus",
                     id="cohere-direct"),
    ],
)
def test_catalog_wins_over_the_supplement(provider: str, model: str, price: str,
                                          ref: str) -> None:
    """A model the catalog prices is never taken from the supplement."""
    p = Pricer(Overrides.empty(), Catalog(), supplement=Supplement.parse(_SHADOWING, "t.yaml"))
    q = p.quote(llm_call(model, provider, *TOKENS), WHEN_NS)
    assert (q.match.ref, q.match.version) == (ref, Catalog().version)
    assert math.isclose(q.cost.amount, _by_hand(price, *TOKENS), rel_tol=1e-12)


def test_override_wins_over_the_supplement() -> None:
    """A user override of a supplement model takes precedence (both the id and a profile)."""
    overrides = Overrides.parse(
        "version: acme-2026\nmodels:\n  - name: acme-command-r-plus\n"
        "    prefix: us.cohere.command-r-plus\n    input: 2\n    output: 10\n"
        "  - exact: jamba-mini-1.7\n    provider: ai21\n    input: 0.1\n    output: 0.2\n",
        "prices.yaml")
    p = Pricer(overrides, Catalog())
    q = p.quote(llm_call("us.cohere.command-r-plus-v1:0", "aws.bedrock", *TOKENS), WHEN_NS)
    assert (q.match.ref, q.match.version) == ("override:acme-command-r-plus",
                                              "overrides:acme-2026")
    assert math.isclose(q.cost.amount, _by_hand("2/10", *TOKENS), rel_tol=1e-12)
    q = p.quote(llm_call("jamba-mini-1.7", "ai21", *TOKENS), WHEN_NS)
    assert q.match.ref == "override:jamba-mini-1.7"
    # The foundation id has no override: the supplement still prices it.
    q = p.quote(llm_call("cohere.command-r-plus-v1:0", "aws.bedrock", *TOKENS), WHEN_NS)
    assert q.match.ref == "aws:cohere.command-r-plus-v1:0"


def test_empty_supplement_leaves_them_unpriced() -> None:
    """Without the supplement these models are what the catalog says: unknown."""
    p = Pricer(Overrides.empty(), Catalog(), supplement=Supplement.empty())
    q = p.quote(llm_call("cohere.command-r-v1:0", "aws.bedrock"), WHEN_NS)
    assert (q.status, q.reason) == (sc.COST_STATUS_UNPRICED, sc.COST_REASON_UNKNOWN_MODEL)


# --------------------------------------------------------------------------------------------
# A broken file fails loudly
# --------------------------------------------------------------------------------------------
_GOOD_ROW = {"provider": "aws", "ids": ["cohere.command-r-v1:0"], "input": 0.5, "output": 1.5,
             "source": BEDROCK_PAGE, "checked": date(2025, 7, 20)}


def _file(**changes: object) -> str:
    row = {k: v for k, v in {**_GOOD_ROW, **changes}.items() if v is not None}
    return yaml.safe_dump({"models": [row]})


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(_file(source=None), "models[0].source: Field required", id="no-source"),
        pytest.param(_file(checked=None), "models[0].checked: Field required", id="no-date"),
        pytest.param(_file(checked="last week"), "models[0].checked: Input should be a valid "
                     "date", id="not-a-date"),
        pytest.param(_file(source="aws.amazon.com/bedrock/pricing"),
                     "models[0].source: expected the https:// address", id="not-a-url"),
        pytest.param(_file(provider="bedrock"),
                     "models[0].provider: unknown provider 'bedrock'; allowed: ai21, anthropic,",
                     id="unknown-provider"),
        pytest.param(_file(input=0), "models[0].input: Input should be greater than 0",
                     id="zero-price"),
        pytest.param(_file(output=None), "models[0].output: Field required", id="no-output"),
        pytest.param(_file(ids=[]), "models[0].ids: List should have at least 1 item",
                     id="no-ids"),
        pytest.param(_file(ids=["Cohere.Command-R-v1:0"]),
                     "models[0]: ids[0]: 'Cohere.Command-R-v1:0' is not a model id the "
                     "canonicalizer looks up", id="uppercase-id"),
        pytest.param(_file(ids=["bedrock/cohere.command-r-v1:0"]),
                     "models[0]: ids[0]: 'bedrock/cohere.command-r-v1:0' is not a model id",
                     id="router-prefix-id"),
        pytest.param(_file(ids=["us.cohere.command-r-v1:0"]),
                     "models[0]: ids[0]: 'us.cohere.command-r-v1:0' is a region profile",
                     id="region-profile-id"),
        pytest.param(_file(price=1), "models[0].price: unknown key", id="unknown-key"),
        pytest.param(yaml.safe_dump({"models": [_GOOD_ROW, _GOOD_ROW]}),
                     "<root>: models[1].ids[0]: aws:cohere.command-r-v1:0 is already in "
                     "models[0]",
                     id="duplicate-id"),
        pytest.param("models:\n  - provider: aws\n    checked: 2025-02-30\n",
                     "<root>: invalid YAML: day is out of range for month", id="bad-calendar"),
        pytest.param("models: [\n", "<root>: invalid YAML", id="bad-yaml"),
    ],
)
def test_broken_file_fails_loudly(text: str, error: str) -> None:
    """Every problem is a ConfigError naming the YAML path inside the file."""
    with pytest.raises(ConfigError) as exc:
        Supplement.parse(text, "supplement.yaml")
    assert any(e.startswith(error) for e in exc.value.errors), exc.value.errors


def test_broken_bundled_file_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid bundled file (an editing or packaging mistake) fails the first Pricer."""
    monkeypatch.setattr(pricing, "SUPPLEMENT_RESOURCE", "no-such-supplement.yaml")
    bundled_supplement.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"no-such-supplement\.yaml") as exc:
            Pricer(Overrides.empty(), Catalog())
        assert exc.value.errors[0].startswith("<root>: cannot read file:")
    finally:
        monkeypatch.undo()
        bundled_supplement.cache_clear()
    assert bundled_supplement().rows


# --------------------------------------------------------------------------------------------
# End to end: spans through the cost processor, and the CLI
# --------------------------------------------------------------------------------------------
def _request(*spans: list[tuple[str, object]]) -> trace_service_pb2.ExportTraceServiceRequest:
    req = trace_service_pb2.ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()
    for attrs in spans:
        span = scope.spans.add(name="chat", start_time_unix_nano=WHEN_NS - 10**9,
                               end_time_unix_nano=WHEN_NS)
        span.attributes.extend(kv(k, v) for k, v in attrs)
    return req


def _cost_attrs(span) -> dict[str, object]:
    out = {}
    for a in span.attributes:
        if a.key.startswith("gen_ai.usage.cost."):
            out[a.key] = a.value.double_value if a.value.HasField("double_value") else (
                a.value.string_value)
    return out


def test_spans_through_the_processor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bedrock (botocore convention) and AI21 spans get supplement prices, said to be so; the
    file is not read again while processing."""
    processor = cost.create(cost.default_config())
    monkeypatch.setattr(Supplement, "parse", None)  # any parse on the hot path would fail
    monkeypatch.setattr(Supplement, "load", None)
    req = _request(
        [(sc.GENAI_SYSTEM, "aws.bedrock"), (sc.GENAI_OPERATION_NAME, "chat"),
         ("gen_ai.request.model", "us.cohere.command-r-plus-v1:0"),
         ("gen_ai.usage.input_tokens", 4000), ("gen_ai.usage.output_tokens", 500)],
        [(sc.GENAI_PROVIDER_NAME, "ai21"), (sc.GENAI_OPERATION_NAME, "chat"),
         ("gen_ai.request.model", "jamba-large"),
         ("gen_ai.response.model", "jamba-large-1.7-2025-07"),
         ("gen_ai.usage.input_tokens", 20_000), ("gen_ai.usage.output_tokens", 1_000)],
        [(sc.GENAI_SYSTEM, "aws.bedrock"), (sc.GENAI_OPERATION_NAME, "chat"),
         ("gen_ai.request.model", "mistral.mistral-large-2407-v1:0"),
         ("gen_ai.usage.input_tokens", 100), ("gen_ai.usage.output_tokens", 10)],
    )
    out = asyncio.run(processor.process(req, BatchContext(Signal.TRACES)))
    bedrock, ai21, mistral = (_cost_attrs(s) for s in out.resource_spans[0].scope_spans[0].spans)
    assert bedrock[sc.COST_STATUS] == sc.COST_STATUS_PRICED
    assert math.isclose(bedrock[sc.COST_AMOUNT], (4000 * 3 + 500 * 15) / 1e6, rel_tol=1e-12)
    assert math.isclose(bedrock[sc.COST_INPUT], 4000 * 3 / 1e6, rel_tol=1e-12)
    assert math.isclose(bedrock[sc.COST_OUTPUT], 500 * 15 / 1e6, rel_tol=1e-12)
    assert bedrock[sc.COST_PRICING_REF] == "aws:cohere.command-r-plus-v1:0"
    assert bedrock[sc.COST_PRICING_VERSION] == "genai-sidecar supplement 2025-07-20"
    assert bedrock[sc.COST_CURRENCY] == "USD"
    assert ai21[sc.COST_STATUS] == sc.COST_STATUS_PRICED
    assert math.isclose(ai21[sc.COST_AMOUNT], (20_000 * 2 + 1_000 * 8) / 1e6, rel_tol=1e-12)
    assert ai21[sc.COST_PRICING_REF] == "ai21:jamba-large-1.7"
    assert ai21[sc.COST_PRICING_VERSION] == "genai-sidecar supplement 2026-05-04"
    assert mistral == {sc.COST_STATUS: sc.COST_STATUS_UNPRICED,
                       sc.COST_REASON: sc.COST_REASON_UNKNOWN_MODEL}


def test_override_file_beats_the_supplement_in_the_processor(tmp_path: Path) -> None:
    """Through the processor too, the user's file wins."""
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - exact: cohere.command-r-v1:0\n    input: 0.25\n"
                    "    output: 1.0\n", "utf-8")
    processor = cost.create(CostConfig(overrides_file=path))
    req = _request([(sc.GENAI_SYSTEM, "aws.bedrock"), (sc.GENAI_OPERATION_NAME, "chat"),
                    ("gen_ai.request.model", "cohere.command-r-v1:0"),
                    ("gen_ai.usage.input_tokens", 1000), ("gen_ai.usage.output_tokens", 1000)])
    out = asyncio.run(processor.process(req, BatchContext(Signal.TRACES)))
    attrs = _cost_attrs(out.resource_spans[0].scope_spans[0].spans[0])
    assert attrs[sc.COST_PRICING_REF] == "override:cohere.command-r-v1:0"
    assert math.isclose(attrs[sc.COST_AMOUNT], (1000 * 0.25 + 1000 * 1.0) / 1e6, rel_tol=1e-12)


def test_cli_prices_from_the_supplement(capsys: pytest.CaptureFixture[str]) -> None:
    """`genai-sidecar price` answers as the processor does, and shows the row's origin."""
    rc = main(["price", "--provider", "aws.bedrock", "--model", "cohere.command-r-v1:0",
               "--input-tokens", "1000000", "--output-tokens", "1000000"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "matched:      aws:cohere.command-r-v1:0" in out
    assert "version:      genai-sidecar supplement 2025-07-20" in out
    assert "total:        2.0000000000 USD" in out
