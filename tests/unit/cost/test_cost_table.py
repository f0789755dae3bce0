"""Model strings as sent in the wild -> the cost computed by hand from published prices.

Every row is (id, provider, model, tokens, expected). ``expected`` is either a price string
``"in/out[/cache_read[/cache_write]]"`` in USD per million tokens from the provider's public
price page (the price used is the row's own text), or ``"unpriced:<reason>"``. The expected cost
is computed here by the plain formula (input excludes cache; cache read and write at their own
rates; reasoning at the output rate), independently of the processor's code.
"""

from __future__ import annotations

import math

import pytest

from processors import genai
from processors.cost.overrides import Overrides
from processors.cost.pricing import Catalog
from processors.cost.processor import Pricer
from sidecar import semconv as sc
from tests.unit.cost.helpers import WHEN_NS, llm_call

E = genai.Operation.EMBEDDINGS
K = 1000

# (id, provider, model, (input, output, cache_read, cache_write), expected)
ROWS = [
    # ---- OpenAI (openai.com/api/pricing) -------------------------------------------------
    ("openai-gpt-4o", "openai", "gpt-4o", (K, K, 0, 0), "2.50/10.00"),
    ("openai-gpt-4o-dated", "openai", "gpt-4o-2024-08-06", (K, K, 0, 0), "2.50/10.00"),
    ("openai-gpt-4o-2024-05-13", "openai", "gpt-4o-2024-05-13", (K, K, 0, 0), "5.00/15.00"),
    ("openai-gpt-4o-cached", "openai", "gpt-4o", (10 * K, K, 8 * K, 0), "2.50/10.00/1.25"),
    ("openai-gpt-4o-mini", "openai", "gpt-4o-mini", (K, K, 0, 0), "0.15/0.60"),
    ("openai-gpt-4o-mini-dated", "openai", "gpt-4o-mini-2024-07-18", (K, K, 0, 0), "0.15/0.60"),
    ("openai-gpt-4.1", "openai", "gpt-4.1", (4 * K, K, 2 * K, 0), "2.00/8.00/0.50"),
    ("openai-gpt-4.1-mini", "openai", "gpt-4.1-mini-2025-04-14", (K, K, 0, 0), "0.40/1.60"),
    ("openai-gpt-4.1-nano", "openai", "gpt-4.1-nano", (K, K, 0, 0), "0.10/0.40"),
    ("openai-gpt-4-turbo", "openai", "gpt-4-turbo-2024-04-09", (K, K, 0, 0), "10.00/30.00"),
    ("openai-gpt-4", "openai", "gpt-4", (K, K, 0, 0), "30.00/60.00"),
    ("openai-gpt-3.5-turbo", "openai", "gpt-3.5-turbo-0125", (K, K, 0, 0), "0.50/1.50"),
    ("openai-o1", "openai", "o1-2024-12-17", (K, 5 * K, 0, 0), "15.00/60.00"),
    ("openai-o3", "openai", "o3", (K, 5 * K, 0, 0), "2.00/8.00"),
    ("openai-o3-mini", "openai", "o3-mini-2025-01-31", (K, 5 * K, 0, 0), "1.10/4.40"),
    ("openai-o4-mini", "openai", "o4-mini", (K, 5 * K, 0, 0), "1.10/4.40"),
    ("openai-gpt-5", "openai", "gpt-5", (20 * K, K, 10 * K, 0), "1.25/10.00/0.125"),
    ("openai-gpt-5-mini", "openai", "gpt-5-mini", (K, K, 0, 0), "0.25/2.00"),
    ("openai-gpt-5-nano", "openai", "gpt-5-nano", (K, K, 0, 0), "0.05/0.40"),
    ("openai-embed-3-small", "openai", "text-embedding-3-small", (50 * K, 0, 0, 0), "0.02/0"),
    ("openai-embed-3-large", "openai", "text-embedding-3-large", (50 * K, 0, 0, 0), "0.13/0"),
    ("openai-embed-ada-002", "openai", "text-embedding-ada-002", (50 * K, 0, 0, 0), "0.10/0"),
    ("router-openai-prefix", None, "openai/gpt-4o", (K, K, 0, 0), "2.50/10.00"),
    ("openai-provider-capitalised", "OpenAI", "gpt-4o-mini", (K, K, 0, 0), "0.15/0.60"),
    # ---- Anthropic (anthropic.com/pricing): cache write 5m = 1.25x input, read = 0.1x ----
    ("anthropic-3.5-sonnet", "anthropic", "claude-3-5-sonnet-20241022", (K, K, 0, 0), "3/15"),
    ("anthropic-3.7-sonnet", "anthropic", "claude-3-7-sonnet-20250219", (K, K, 0, 0), "3/15"),
    ("anthropic-sonnet-4", "anthropic", "claude-sonnet-4-20250514", (K, K, 0, 0), "3/15"),
    ("anthropic-sonnet-4.5-cache", "anthropic", "claude-sonnet-4-5-20250929",
     (12 * K, K, 9 * K, 2 * K), "3/15/0.30/3.75"),
    ("anthropic-opus-4.1", "anthropic", "claude-opus-4-1-20250805", (K, K, 0, 0), "15/75"),
    ("anthropic-opus-4", "anthropic", "claude-opus-4-20250514", (K, K, 0, 0), "15/75"),
    ("anthropic-opus-4.5", "anthropic", "claude-opus-4-5", (K, K, 0, 0), "5/25"),
    ("anthropic-haiku-4.5", "anthropic", "claude-haiku-4-5-20251001", (5 * K, K, 0, 4 * K),
     "1/5/0.10/1.25"),
    ("anthropic-3.5-haiku", "anthropic", "claude-3-5-haiku-20241022", (K, K, 0, 0), "0.80/4"),
    ("anthropic-3-haiku", "anthropic", "claude-3-haiku-20240307", (K, K, 0, 0), "0.25/1.25"),
    ("anthropic-3-opus", "anthropic", "claude-3-opus-20240229", (K, K, 0, 0), "15/75"),
    ("anthropic-capitalised-system", "Anthropic", "claude-3-5-haiku-20241022", (K, K, 0, 0),
     "0.80/4"),
    # ---- AWS Bedrock (aws.amazon.com/bedrock/pricing, us-east-1 on-demand) ---------------
    ("bedrock-foundation-3.5-sonnet", "aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0",
     (K, K, 0, 0), "3/15"),
    ("bedrock-us-3.5-haiku", "aws.bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0",
     (K, K, 0, 0), "0.80/4"),
    ("bedrock-us-sonnet-4", "aws.bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0",
     (K, K, 0, 0), "3/15"),
    ("bedrock-global-sonnet-4.5", "aws.bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
     (K, K, 0, 0), "3/15"),
    # Regional (geo) cross-region profiles of Claude 4.5+ cost 10% more than global ones.
    ("bedrock-regional-sonnet-4.5", "aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
     (K, K, 0, 0), "3.30/16.50"),
    ("bedrock-eu-haiku-4.5", "aws.bedrock", "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
     (K, K, 0, 0), "1.10/5.50"),
    ("bedrock-router-prefix", None, "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
     (K, K, 0, 0), "3/15"),
    ("bedrock-llama-3.1-70b", "aws.bedrock", "meta.llama3-1-70b-instruct-v1:0", (K, K, 0, 0),
     "0.72/0.72"),
    ("bedrock-llama-3.1-8b", "aws.bedrock", "meta.llama3-1-8b-instruct-v1:0", (K, K, 0, 0),
     "0.22/0.22"),
    ("bedrock-us-llama-3.3-70b", "aws.bedrock", "us.meta.llama3-3-70b-instruct-v1:0",
     (K, K, 0, 0), "0.72/0.72"),
    ("bedrock-nova-pro", "aws.bedrock", "amazon.nova-pro-v1:0", (K, K, 0, 0), "0.80/3.20"),
    ("bedrock-us-nova-lite", "aws.bedrock", "us.amazon.nova-lite-v1:0", (K, K, 0, 0),
     "0.06/0.24"),
    ("bedrock-nova-micro", "aws.bedrock", "amazon.nova-micro-v1:0", (K, K, 0, 0), "0.035/0.14"),
    ("bedrock-titan-embed-v2", "aws.bedrock", "amazon.titan-embed-text-v2:0", (10 * K, 0, 0, 0),
     "0.02/0"),
    # Mistral Large 24.02 on Bedrock: $0.004 / $0.012 per 1K tokens.
    ("bedrock-mistral-large", "aws.bedrock", "mistral.mistral-large-2402-v1:0", (K, K, 0, 0),
     "4/12"),
    ("bedrock-mixtral", "aws.bedrock", "mistral.mixtral-8x7b-instruct-v0:1", (K, K, 0, 0),
     "0.45/0.70"),
    # Cohere on Bedrock is not in the catalog; Cohere's own price (2.50/10) differs, so it is
    # not borrowed: the bundled supplement (processors/cost/supplement.yaml) has Bedrock's.
    ("bedrock-cohere-command-r-plus", "aws.bedrock", "cohere.command-r-plus-v1:0", (K, K, 0, 0),
     "3.00/15.00"),
    ("bedrock-cohere-command-r", "aws.bedrock", "cohere.command-r-v1:0", (K, K, 0, 0),
     "0.50/1.50"),
    ("bedrock-app-profile-arn", "aws.bedrock",
     "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123", (K, K, 0, 0),
     "unpriced:unresolvable_model_arn"),
    ("bedrock-system-profile-arn", "aws.bedrock",
     "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
     (K, K, 0, 0), "0.80/4"),
    # ---- Google Vertex AI / Gemini (cloud.google.com/vertex-ai/generative-ai/pricing) ----
    ("vertex-path-gemini-1.5-pro", "gcp.vertex_ai",
     "projects/p/locations/us-central1/publishers/google/models/gemini-1.5-pro-002",
     (K, K, 0, 0), "1.25/5.00"),
    ("vertex-gemini-1.5-pro-long", "gcp.vertex_ai", "gemini-1.5-pro-002", (150 * K, K, 0, 0),
     "2.50/10.00"),
    ("gemini-1.5-flash", "gcp.gemini", "gemini-1.5-flash-002", (K, K, 0, 0), "0.075/0.30"),
    ("gemini-models-prefix", "gcp.gemini", "models/gemini-1.5-flash-002", (K, K, 0, 0),
     "0.075/0.30"),
    ("gemini-2.0-flash", "gcp.gemini", "gemini-2.0-flash-001", (K, K, 0, 0), "0.10/0.40"),
    ("gemini-2.0-flash-lite", "gcp.gemini", "gemini-2.0-flash-lite", (K, K, 0, 0), "0.075/0.30"),
    ("gemini-2.5-pro", "gcp.gemini", "gemini-2.5-pro", (K, K, 0, 0), "1.25/10.00"),
    ("gemini-2.5-pro-long", "gcp.vertex_ai", "gemini-2.5-pro", (250 * K, K, 0, 0), "2.50/15.00"),
    ("gemini-2.5-flash", "gcp.gemini", "gemini-2.5-flash", (K, K, 0, 0), "0.30/2.50"),
    ("vertex-router-gemini", None, "vertex_ai/gemini-2.0-flash-001", (K, K, 0, 0), "0.10/0.40"),
    ("vertex-claude-at-version", "gcp.vertex_ai", "claude-3-5-sonnet@20240620", (K, K, 0, 0),
     "3/15"),
    # ---- Azure OpenAI (same rates as OpenAI global standard) ------------------------------
    ("azure-response-model", "azure.ai.openai", "prod-gpt4o-deploy", (K, K, 0, 0), "2.50/10.00"),
    ("azure-router-prefix", None, "azure/gpt-4o-mini", (K, K, 0, 0), "0.15/0.60"),
    ("azure-deployment-only", "azure.ai.openai", "prod-gpt4o-deploy-2", (K, K, 0, 0),
     "unpriced:unknown_model"),
    # ---- Groq (groq.com/pricing) and Together (together.ai/pricing) -----------------------
    ("groq-llama-3.3-70b", "groq", "llama-3.3-70b-versatile", (K, K, 0, 0), "0.59/0.79"),
    ("groq-llama-3.1-8b", "groq", "llama-3.1-8b-instant", (K, K, 0, 0), "0.05/0.08"),
    ("groq-router", None, "groq/llama-3.3-70b-versatile", (K, K, 0, 0), "0.59/0.79"),
    ("together-llama-3.3-70b", "together_ai", "meta-llama/Llama-3.3-70B-Instruct-Turbo",
     (K, K, 0, 0), "0.88/0.88"),
    ("together-llama-3.1-8b", "together_ai", "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
     (K, K, 0, 0), "0.18/0.18"),
    ("together-router", None, "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
     (K, K, 0, 0), "0.88/0.88"),
    # ---- OpenRouter (its listed price equals the vendor's) -------------------------------
    ("openrouter-claude-3.5-sonnet", None, "openrouter/anthropic/claude-3.5-sonnet",
     (K, K, 0, 0), "3/15"),
    ("openrouter-gpt-4o", None, "openrouter/openai/gpt-4o", (K, K, 0, 0), "2.50/10.00"),
    # ---- Fireworks (fireworks.ai/pricing: models up to 16B params $0.20/M) ---------------
    ("fireworks-path", None, "accounts/fireworks/models/llama-v3p1-8b-instruct", (K, K, 0, 0),
     "0.20/0.20"),
    # ---- Unknown and fine-tuned ---------------------------------------------------------
    ("ft-gpt-4o-mini", "openai", "ft:gpt-4o-mini-2024-07-18:acme::9xYz", (K, K, 0, 0),
     "unpriced:fine_tuned_model"),
    ("ft-gpt-3.5", "openai", "ft:gpt-3.5-turbo-0125:acme:support:abc123", (K, K, 0, 0),
     "unpriced:fine_tuned_model"),
    ("unknown-gpt-7", "openai", "gpt-7-turbo-preview", (K, K, 0, 0), "unpriced:unknown_model"),
    ("unknown-in-house", None, "acme-llm-v3", (K, K, 0, 0), "unpriced:unknown_model"),
    ("unknown-claude-99", "anthropic", "claude-99-ultra", (K, K, 0, 0), "unpriced:unknown_model"),
    ("unknown-provider-and-model", "someprovider", "big-model-1", (K, K, 0, 0),
     "unpriced:unknown_model"),
]

#: Rows whose response model (Azure) differs from the request model (a deployment name).
RESPONSE_MODELS = {"azure-response-model": "gpt-4o-2024-11-20"}


def _by_hand(price: str, inp: int, out: int, cr: int, cw: int) -> float:
    parts = [float(p) for p in price.split("/")]
    p_in, p_out = parts[0], parts[1]
    p_cr = parts[2] if len(parts) > 2 else p_in
    p_cw = parts[3] if len(parts) > 3 else p_in
    return ((inp - cr - cw) * p_in + cr * p_cr + cw * p_cw + out * p_out) / 1e6


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(Overrides.empty(), Catalog())


def test_table_has_enough_rows() -> None:
    """The issue asks for at least 60 real model strings."""
    assert len(ROWS) >= 60
    assert len({r[0] for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize(("provider", "model", "tokens", "expected"),
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_model_string_costs(pricer: Pricer, request: pytest.FixtureRequest, provider: str | None,
                            model: str, tokens: tuple[int, int, int, int], expected: str) -> None:
    """Each model string resolves to its published price, or is unpriced with the reason."""
    inp, out, cr, cw = tokens
    embeddings = out == 0 and "embed" in model
    call = llm_call(model, genai.normalize_provider(provider), inp, out, cr or None, cw or None,
                    operation=E if embeddings else genai.Operation.CHAT,
                    response_model=RESPONSE_MODELS.get(request.node.callspec.id))
    q = pricer.quote(call, WHEN_NS)
    if expected.startswith("unpriced:"):
        assert (q.status, q.reason) == (sc.COST_STATUS_UNPRICED, expected.split(":", 1)[1])
        assert q.cost is None
        return
    assert q.status == sc.COST_STATUS_PRICED, q.reason
    want = _by_hand(expected, inp, out, cr, cw)
    assert math.isclose(q.cost.amount, want, rel_tol=1e-9, abs_tol=1e-15), (q.match.ref, want)


def test_audio_model_is_marked_when_modality_rates_are_not_applied(pricer: Pricer) -> None:
    """Counts without a modality split are priced at text rates, and the span says so."""
    q = pricer.quote(llm_call("gpt-audio", "openai"), WHEN_NS)  # $32/M audio input
    assert sc.COST_CAVEAT_MODALITY_RATES in q.caveats
    assert sc.COST_CAVEAT_MODALITY_RATES not in pricer.quote(llm_call("gpt-4o", "openai"),
                                                             WHEN_NS).caveats
