"""Prices: resolved per-token rates, the cost formula, and the catalog / override lookup.

A lookup goes: user overrides (exact, then longest prefix, then regex in file order) on the raw
model name; then the model-name canonicalizer's candidates against the genai-prices catalog
(bundled offline snapshot). Results, hits and misses alike, are cached per (provider, model,
service tier), so the hot path is one dict lookup and a handful of float multiplications.

Cost formula (USD; token counts as normalized by ``processors.genai``: input includes cache,
output includes reasoning):

    input       = (input - cache_read - cache_write) * input_rate
    cache_read  = cache_read  * (cache_read_rate  or input_rate)
    cache_write = cache_write * (cache_write_rate or input_rate)
    output      = (output - reasoning) * output_rate + reasoning * (reasoning_rate or output_rate)
    amount      = input + cache_read + cache_write + output

Context-length tiers follow genai-prices' cliff model: when the input (with cache) is above a
tier's start, that tier's rate applies to every token of that kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from genai_prices import __version__ as GENAI_PRICES_VERSION
from genai_prices import data_snapshot
from genai_prices import types as gp

from sidecar import semconv as sc

#: One rate: ((tier start, USD per token), ...) sorted by start descending; the base rate has
#: start -1. A tier applies when the input tokens are above its start.
Rate = tuple[tuple[int, float], ...]


def _rate(value: Any) -> Rate | None:
    """USD per token from a genai-prices per-million price (Decimal or TieredPrices)."""
    if value is None:
        return None
    if isinstance(value, gp.TieredPrices):
        pairs = [(-1, float(value.base) / 1e6)]
        pairs += [(int(t.start), float(t.price) / 1e6) for t in value.tiers]
        return tuple(sorted(pairs, reverse=True))
    return ((-1, float(Decimal(value)) / 1e6),)


def _at(rate: Rate, input_tokens: int) -> float:
    for start, price in rate:
        if input_tokens > start:
            return price
    return rate[-1][1]


@dataclass(frozen=True, slots=True)
class Prices:
    """Per-token rates of one entry. ``input`` and ``output`` are required to price."""

    input: Rate | None
    output: Rate | None
    cache_read: Rate | None = None
    cache_write: Rate | None = None
    reasoning: Rate | None = None
    #: The entry has separate audio / image / video rates, which token counts without a
    #: modality split cannot use (all tokens are priced at the text rates).
    modality_rates: bool = False

    @property
    def has_cache_discount(self) -> bool:
        """True when cache reads cost less than plain input (a missing count matters)."""
        if self.cache_read is None or self.input is None:
            return False
        return self.cache_read[-1][1] < self.input[-1][1]


@dataclass(frozen=True, slots=True)
class Cost:
    """The parts of one priced call, in USD."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    @property
    def amount(self) -> float:
        return self.input + self.output + self.cache_read + self.cache_write


def compute(
    prices: Prices,
    input_tokens: int,
    output_tokens: int,
    cache_read: int = 0,
    cache_write: int = 0,
    reasoning: int = 0,
) -> Cost:
    """Apply the formula of the module docstring. Counts must be normalized, non-negative."""
    p_in = _at(prices.input, input_tokens) if prices.input else 0.0
    p_out = _at(prices.output, input_tokens) if prices.output else 0.0
    p_cr = _at(prices.cache_read, input_tokens) if prices.cache_read else p_in
    p_cw = _at(prices.cache_write, input_tokens) if prices.cache_write else p_in
    p_rs = _at(prices.reasoning, input_tokens) if prices.reasoning else p_out
    # Subsets are clipped: a subset larger than its total never makes a part negative.
    cache_read = min(cache_read, input_tokens)
    cache_write = min(cache_write, input_tokens - cache_read)
    reasoning = min(reasoning, output_tokens)
    return Cost(
        input=(input_tokens - cache_read - cache_write) * p_in,
        output=(output_tokens - reasoning) * p_out + reasoning * p_rs,
        cache_read=cache_read * p_cr,
        cache_write=cache_write * p_cw,
    )


@dataclass(frozen=True, slots=True)
class Match:
    """A resolved price: what matched and its rates."""

    ref: str  # e.g. "openai:gpt-4o" or "override:acme-gpt"
    version: str  # catalog snapshot or override file version
    prices: Prices
    #: The entry has dated prices: resolve again for another hour, do not cache forever.
    dated: bool = False


@dataclass(frozen=True, slots=True)
class Miss:
    """Why a model has no price (the ``gen_ai.usage.cost.reason`` value)."""

    reason: str


# --------------------------------------------------------------------------------------------
# Model-name canonicalizer
# --------------------------------------------------------------------------------------------
#: Our normalized provider (processors.genai) -> genai-prices provider id.
CATALOG_PROVIDERS: Mapping[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "gcp.vertex_ai": "google",
    "gcp.gemini": "google",
    "mistral_ai": "mistral",
    "cohere": "cohere",
    "groq": "groq",
    "deepseek": "deepseek",
    "x_ai": "x-ai",
    "together_ai": "together",
    "openrouter": "openrouter",
    "fireworks": "fireworks",
    "perplexity": "perplexity",
}
#: Router prefixes (``openai/gpt-4o``) -> genai-prices provider id (None: strip, no hint).
_ROUTER_PREFIXES: Mapping[str, str | None] = {
    "openai": "openai", "anthropic": "anthropic", "bedrock": "aws", "aws": "aws",
    "azure": "azure", "azure_ai": "azure", "vertex_ai": "google", "vertex": "google",
    "gemini": "google", "google": "google", "models": None, "groq": "groq",
    "together_ai": "together", "together": "together", "mistral": "mistral",
    "mistralai": "mistral", "cohere": "cohere", "deepseek": "deepseek", "xai": "x-ai",
    "x-ai": "x-ai", "fireworks_ai": "fireworks", "litellm_proxy": None, "litellm": None,
    "openrouter": "openrouter",
}
_BEDROCK_REGION = re.compile(r"^(?:us|eu|apac|au|jp|us-gov|global|ca|in|sa)\.")
_BEDROCK_VENDOR = re.compile(
    r"^(?:anthropic|cohere|amazon|meta|mistral|ai21|deepseek|writer|qwen|openai|google|"
    r"nvidia|moonshotai|zai|twelvelabs|stability)\."
)
_BEDROCK_VERSION = re.compile(r"(?:-v\d+(?::\d+)?|:\d+)$")
_VERTEX_PATH = re.compile(r"(?:^|/)publishers/([^/]+)/models/([^/]+)$")
_VERTEX_PUBLISHER = {"google": "google", "anthropic": "anthropic", "meta": None, "mistralai": None}


@dataclass(frozen=True, slots=True)
class Canonical:
    """Catalog lookups to try, in order, for one (provider, model) as sent."""

    candidates: tuple[tuple[str | None, str], ...]
    #: Set when the name can never be priced from the catalog (reason).
    blocked: str | None = None


def canonicalize(provider: str | None, model: str) -> Canonical:
    """Turn a model name as sent into catalog lookups (provider id, model ref).

    Handles router prefixes (``openai/``, ``openrouter/``, ``bedrock/``), Vertex resource paths
    and ``model@version``, Bedrock inference-profile ARNs, region / vendor / version parts and
    fine-tune ids (``ft:...``: never priced at the base model's rate, which would be wrong).
    """
    name = model.strip().lower()
    hint = CATALOG_PROVIDERS.get(provider or "")
    if name.startswith("ft:") or ":ft-" in name or ":ft:" in name:
        return Canonical((), blocked=sc.COST_REASON_FINE_TUNED)
    if name.startswith("arn:"):
        tail = name.rsplit("/", 1)[-1]
        if ":application-inference-profile/" in name or ":custom-model/" in name or (
            ":provisioned-model/" in name
        ):
            return Canonical((), blocked=sc.COST_REASON_UNRESOLVABLE_ARN)
        name, hint = tail, "aws"
    if name.startswith("accounts/fireworks/models/"):
        hint = "fireworks"  # the catalog knows Fireworks models by their full path
    m = _VERTEX_PATH.search(name)
    if m:
        name = m.group(2)
        hint = _VERTEX_PUBLISHER.get(m.group(1), hint) or "google"
    if "/" in name:
        head, _, rest = name.partition("/")
        if head in _ROUTER_PREFIXES:
            if head == "openrouter":
                # openrouter/<vendor>/<model>: OpenRouter's own catalog knows the full name.
                return Canonical((("openrouter", rest), *_vendor_model(rest)))
            name = rest
            hint = _ROUTER_PREFIXES[head] or hint
    if "@" in name:
        base, _, ver = name.partition("@")
        name = f"{base}-{ver}" if ver and ver != "latest" and ver != "default" else base
    stripped = _BEDROCK_REGION.sub("", name)
    if stripped != name and hint is None:
        hint = "aws"  # a cross-region inference profile id is a Bedrock id
    out: list[tuple[str | None, str]] = [(hint, name)]
    if hint == "aws":
        # Bedrock: the AWS list knows regional and global profiles (their prices differ), so the
        # id is tried as sent first. No fallback to the vendor's own list: Bedrock rates differ
        # from it for several vendors (Cohere, Mistral), and a wrong price is worse than none.
        bare = _BEDROCK_VERSION.sub("", _BEDROCK_VENDOR.sub("", stripped))
        out += [(hint, stripped), (hint, bare)]
    # De-duplicate, keeping order.
    seen: set[tuple[str | None, str]] = set()
    cands = tuple(c for c in out if not (c in seen or seen.add(c)))
    return Canonical(cands)


def _vendor_model(rest: str) -> list[tuple[str | None, str]]:
    vendor, _, model = rest.partition("/")
    hint = _ROUTER_PREFIXES.get(vendor)
    return [(hint, model)] if model and hint else []


# --------------------------------------------------------------------------------------------
# The genai-prices catalog
# --------------------------------------------------------------------------------------------
def service_tier_context(tier: str | None) -> Mapping[str, str] | None:
    """genai-prices price-variant context for a span's service tier."""
    if not tier:
        return None
    if tier == "batch":
        return {"processing": "batch"}
    return {"service_tier": tier}


def _prices_of(mp: Any) -> Prices:
    cw = mp.cache_write_mtok
    return Prices(
        input=_rate(mp.input_mtok),
        output=_rate(mp.output_mtok),
        cache_read=_rate(mp.cache_read_mtok),
        cache_write=_rate(cw if cw is not None else getattr(mp, "cache_write_5m_mtok", None)),
        reasoning=_rate(getattr(mp, "output_reasoning_mtok", None)),
        modality_rates=any(getattr(mp, k, None) is not None for k in _MODALITY_KEYS),
    )


_MODALITY_KEYS = (
    "input_audio_mtok", "output_audio_mtok", "input_image_mtok", "output_image_mtok",
    "input_video_mtok", "output_video_mtok",
)


class Catalog:
    """The genai-prices snapshot, looked up through `canonicalize` (not cached here)."""

    def __init__(self, snapshot: Any | None = None) -> None:
        self._fixed = snapshot

    @property
    def snapshot(self) -> Any:
        return self._fixed if self._fixed is not None else data_snapshot.get_snapshot()

    @property
    def version(self) -> str:
        snap = self.snapshot
        if getattr(snap, "from_auto_update", False):
            return f"genai-prices@{snap.timestamp:%Y-%m-%dT%H:%M:%SZ}"
        return f"genai-prices {GENAI_PRICES_VERSION}"

    def lookup(
        self, provider: str | None, model: str, tier: str | None, when: datetime | None = None
    ) -> Match | Miss:
        canon = canonicalize(provider, model)
        if canon.blocked:
            return Miss(canon.blocked)
        snap = self.snapshot
        for provider_id, ref in canon.candidates:
            try:
                prov, info = snap.find_provider_model(ref, None, provider_id, None)
            except LookupError:
                continue
            except Exception:  # a catalog bug must not fail the batch; the span says so
                return Miss(sc.COST_REASON_CATALOG_ERROR)
            ctx = service_tier_context(tier)
            if ctx and not any(info is m for m in prov.models):
                ctx = None  # variants only apply to the provider's own entry
            mp = info.get_prices(when or datetime.now(tz=UTC), ctx)
            prices = _prices_of(mp)
            if prices.input is None and prices.output is None:
                return Miss(sc.COST_REASON_NOT_PER_TOKEN)
            return Match(ref=f"{prov.id}:{info.id}", version=self.version, prices=prices,
                         dated=isinstance(info.prices, list))
        return Miss(sc.COST_REASON_UNKNOWN_MODEL)
