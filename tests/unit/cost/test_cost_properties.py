"""Property tests of pricing: never negative, monotone, parts sum, unknown never priced."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors import genai
from processors.cost.overrides import Overrides
from processors.cost.pricing import Catalog
from processors.cost.processor import Pricer
from sidecar import semconv as sc
from tests.harness import kv
from tests.unit.cost.helpers import WHEN_NS, llm_call

PRICER = Pricer(Overrides.empty(), Catalog())

#: Priced models of every family, with tiered (Gemini) and cache-priced (Anthropic) entries.
MODELS = [
    ("openai", "gpt-4o"), ("openai", "o3-mini"), ("openai", "gpt-5"),
    ("anthropic", "claude-sonnet-4-5-20250929"), ("anthropic", "claude-haiku-4-5"),
    ("aws.bedrock", "us.anthropic.claude-sonnet-4-6"), ("aws.bedrock", "amazon.nova-pro-v1:0"),
    ("gcp.vertex_ai", "gemini-1.5-pro-002"), ("gcp.gemini", "gemini-2.5-pro"),
    ("groq", "llama-3.3-70b-versatile"), ("azure.ai.openai", "gpt-4o-mini"),
]
TIERS = [None, "default", "flex", "priority", "batch"]
counts = st.integers(min_value=0, max_value=3_000_000)


@st.composite
def usage(draw: st.DrawFn) -> tuple[int, int, int, int, int]:
    """(uncached input, cache read, cache write, plain output, reasoning)."""
    return tuple(draw(counts) for _ in range(5))


def _quote(model: tuple[str, str], tier: str | None, u: tuple[int, ...]):
    plain_in, cr, cw, plain_out, rs = u
    call = llm_call(model[1], model[0], plain_in + cr + cw, plain_out + rs, cr, cw, rs, tier)
    return PRICER.quote(call, WHEN_NS)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MODELS), st.sampled_from(TIERS), usage())
def test_never_negative_and_parts_sum(model, tier, u) -> None:
    """Every part and the amount are >= 0; the amount is exactly the sum of the parts."""
    q = _quote(model, tier, u)
    assert q.status == sc.COST_STATUS_PRICED
    c = q.cost
    assert min(c.input, c.output, c.cache_read, c.cache_write) >= 0
    assert c.amount == c.input + c.output + c.cache_read + c.cache_write


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MODELS), st.sampled_from(TIERS), usage(), st.integers(0, 4),
       st.integers(1, 500_000))
def test_monotone_in_every_token_count(model, tier, u, which, extra) -> None:
    """Adding tokens of any kind (input, cache read / write, output, reasoning) never lowers it."""
    more = list(u)
    more[which] += extra
    assert _quote(model, tier, tuple(more)).cost.amount >= _quote(model, tier, u).cost.amount


@settings(max_examples=200)
@given(st.sampled_from([None, "openai", "anthropic", "aws.bedrock", "gcp.vertex_ai", "groq",
                        "azure.ai.openai", "mistral_ai", "acme"]),
       st.from_regex(r"\Azz[a-z0-9]{2,10}-(?:[a-z]{1,6}-)?x[0-9]{1,3}\Z"), usage())
def test_unknown_is_never_priced(provider, model, u) -> None:
    """A model the catalog does not know is unpriced with a reason, never $0 or a guess."""
    q = _quote((provider, model), None, u)
    assert q.status == sc.COST_STATUS_UNPRICED
    assert q.reason == sc.COST_REASON_UNKNOWN_MODEL
    assert q.cost is None


@settings(max_examples=200)
@given(st.sampled_from(MODELS), counts)
def test_embeddings_priced_by_input_only(model, n) -> None:
    """Embeddings ignore any output count: the amount is the input part."""
    call = llm_call(model[1], model[0], n, 12345, operation=genai.Operation.EMBEDDINGS)
    c = PRICER.quote(call, WHEN_NS).cost
    assert c.output == 0 and c.amount == c.input


# --------------------------------------------------------------------------------------------
# Whole spans: any values under any known key never break the processor or produce a lie.
# --------------------------------------------------------------------------------------------
import asyncio  # noqa: E402

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402

import processors.cost as cost  # noqa: E402
from sidecar.component import BatchContext, Signal  # noqa: E402

_KEYS = sorted({*sc.GENAI_INPUT_TOKENS_KEYS, *sc.GENAI_OUTPUT_TOKENS_KEYS,
                *sc.GENAI_CACHE_READ_TOKENS_KEYS, *sc.GENAI_CACHE_WRITE_TOKENS_KEYS,
                *sc.GENAI_REASONING_TOKENS_KEYS, *sc.GENAI_PROVIDER_KEYS,
                *sc.GENAI_REQUEST_MODEL_KEYS, *sc.GENAI_RESPONSE_MODEL_KEYS,
                *sc.GENAI_SERVICE_TIER_KEYS, sc.GENAI_OPERATION_NAME, sc.COST_AMOUNT,
                "llm.request.type", "openinference.span.kind", "ai.operationId"})
_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.text(max_size=30),
    st.sampled_from(["gpt-4o", "claude-3-5-haiku-20241022", "openai", "anthropic", "chat",
                     "embeddings", "12", "1e3", "-4", "flex", "LLM", "ai.embed.doEmbed"]),
)
PROCESSOR = cost.create(cost.default_config())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_KEYS), _values), max_size=12))
def test_any_attributes_never_break_the_processor(attrs) -> None:
    """Wrong types, huge or negative values: the span gets a status, never a negative cost."""
    req = trace_service_pb2.ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add()
    span.attributes.extend(kv(key, value) for key, value in attrs)
    out = asyncio.run(PROCESSOR.process(req, BatchContext(Signal.TRACES)))
    written = {kv.key: kv.value for kv in out.resource_spans[0].scope_spans[0].spans[0].attributes
               if kv.key.startswith("gen_ai.usage.cost.") and kv.key not in dict(attrs)}
    for key in (sc.COST_AMOUNT, sc.COST_INPUT, sc.COST_OUTPUT, sc.COST_CACHE_READ,
                sc.COST_CACHE_WRITE):
        if key in written:
            assert written[key].double_value >= 0
    if sc.COST_AMOUNT in written:
        assert written[sc.COST_STATUS].string_value == sc.COST_STATUS_PRICED
