"""Prices: resolved per-token rates, the cost formula, and the catalog / override lookup.

A lookup goes: user overrides (exact, then longest prefix, then regex in file order) on the raw
model name; then the model-name canonicalizer's candidates against the genai-prices catalog
(bundled offline snapshot); then, only when the catalog has no entry, the same candidates
against the bundled price supplement (``supplement.yaml``: a few models the catalog lacks, each
with its vendor source and the date it was checked). Results, hits and misses alike, are cached
per (provider, model, service tier), so the hot path is one dict lookup and a handful of float
multiplications.

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

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from genai_prices import __version__ as GENAI_PRICES_VERSION
from genai_prices import data_snapshot
from genai_prices import types as gp
from pydantic import Field, ValidationError, field_validator, model_validator

from sidecar import semconv as sc
from sidecar.config import ConfigError, StrictModel, parse_yaml, validation_errors

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
    # Not a genai-prices provider (0.2.5): its models are priced from the supplement only.
    "ai21": "ai21",
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


# --------------------------------------------------------------------------------------------
# The bundled price supplement: a few models the catalog lacks
# --------------------------------------------------------------------------------------------
#: The supplement's file, bundled next to this module (package data).
SUPPLEMENT_RESOURCE = "supplement.yaml"
#: ``gen_ai.usage.cost.pricing.version`` of a supplement price: this prefix and the row's date.
SUPPLEMENT_VERSION = "genai-sidecar supplement"
#: Service tiers the supplement's standard on-demand rates apply to. Spans of any other tier
#: (batch, flex, priority: rates the rows do not carry) are not priced from it.
_STANDARD_TIERS = frozenset({"default", "standard", "on_demand", "on-demand"})
_SUPPLEMENT_PROVIDERS = frozenset(CATALOG_PROVIDERS.values())


class SupplementRow(StrictModel):
    """One model's published list price (USD per million tokens) and where it was read."""

    #: genai-prices provider id (a value of `CATALOG_PROVIDERS`), e.g. ``aws``, ``ai21``.
    provider: str
    #: Model ids as the canonicalizer produces them (lowercase; Bedrock: the foundation-model
    #: id, which region profiles such as ``us.`` resolve to). The first one is the ref.
    ids: list[str] = Field(min_length=1)
    name: str | None = None
    #: Where the price applies (Bedrock: the region whose on-demand table was read).
    region: str | None = None
    input: float = Field(gt=0)
    output: float = Field(gt=0)
    #: Only when the vendor publishes them; otherwise cache tokens take the input rate.
    cache_read: float | None = Field(None, gt=0)
    cache_write: float | None = Field(None, gt=0)
    #: The vendor's public pricing page.
    source: str
    #: The date the source shows for this price, or the date it was read.
    checked: date
    #: What was read to confirm the price, when not the source page itself.
    evidence: list[str] = Field(default_factory=list)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in _SUPPLEMENT_PROVIDERS:
            allowed = ", ".join(sorted(_SUPPLEMENT_PROVIDERS))
            raise ValueError(f"unknown provider {value!r}; allowed: {allowed}")
        return value

    @field_validator("source")
    @classmethod
    def _https_url(cls, value: str) -> str:
        if not re.match(r"^https://[a-z0-9.-]+\.[a-z]{2,}(?:/\S*)?$", value):
            raise ValueError("expected the https:// address of the vendor's pricing page")
        return value

    @model_validator(mode="after")
    def _ids_resolvable(self) -> SupplementRow:
        hints = [ours for ours, theirs in CATALOG_PROVIDERS.items() if theirs == self.provider]
        for i, mid in enumerate(self.ids):
            if self.provider == "aws" and _BEDROCK_REGION.match(mid):
                raise ValueError(f"ids[{i}]: {mid!r} is a region profile; name the "
                                 "foundation-model id (profiles resolve to it)")
            if not any((self.provider, mid) in canonicalize(h, mid).candidates for h in hints):
                raise ValueError(f"ids[{i}]: {mid!r} is not a model id the canonicalizer "
                                 f"looks up for provider {self.provider!r} (lowercase, no "
                                 "router prefix, no ARN)")
        return self


class SupplementFile(StrictModel):
    """The supplement file's top level."""

    models: list[SupplementRow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> SupplementFile:
        seen: dict[tuple[str, str], int] = {}
        for n, row in enumerate(self.models):
            for i, mid in enumerate(row.ids):
                first = seen.setdefault((row.provider, mid), n)
                if first != n:
                    raise ValueError(f"models[{n}].ids[{i}]: {row.provider}:{mid} is already in "
                                     f"models[{first}]")
        return self


def _per_token(usd_per_million: float | None) -> Rate | None:
    return None if usd_per_million is None else ((-1, usd_per_million / 1e6),)


class Supplement:
    """The bundled price supplement, parsed and validated once, ready to match.

    Consulted by `processors.cost.processor.Pricer` only when the catalog answers
    ``unknown_model``; user overrides come before both. Lookups use the canonicalizer's
    candidates, so router prefixes and Bedrock region profiles resolve as for the catalog.
    """

    def __init__(self, parsed: SupplementFile) -> None:
        self.rows: tuple[SupplementRow, ...] = tuple(parsed.models)
        self._index: dict[tuple[str | None, str], Match] = {}
        for row in self.rows:
            match = Match(
                ref=f"{row.provider}:{row.ids[0]}",
                version=f"{SUPPLEMENT_VERSION} {row.checked.isoformat()}",
                prices=Prices(input=_per_token(row.input), output=_per_token(row.output),
                              cache_read=_per_token(row.cache_read),
                              cache_write=_per_token(row.cache_write)),
            )
            for mid in row.ids:
                self._index[(row.provider, mid)] = match

    @classmethod
    def empty(cls) -> Supplement:
        return cls(SupplementFile())

    @classmethod
    def parse(cls, text: str, source: str) -> Supplement:
        """Parse and validate supplement YAML.

        Raises:
            ConfigError: with one ``path: message`` line per problem.
        """
        try:
            data = parse_yaml(text, source)
        except ValueError as exc:  # e.g. a date YAML reads but the calendar lacks
            raise ConfigError([f"<root>: invalid YAML: {exc}"], source) from None
        try:
            return cls(SupplementFile.model_validate(data))
        except ValidationError as exc:
            raise ConfigError(validation_errors(exc), source) from None

    @classmethod
    def load(cls, path: Path | None = None) -> Supplement:
        """Read and validate a supplement file, the bundled one by default (blocking I/O).

        Raises:
            ConfigError: unreadable or invalid; messages name the YAML path inside the file.
        """
        where = path if path is not None else (
            resources.files(__package__).joinpath(SUPPLEMENT_RESOURCE))
        try:
            text = where.read_text("utf-8")
        except OSError as exc:
            raise ConfigError([f"<root>: cannot read file: {exc.strerror}"], str(where)) from None
        return cls.parse(text, str(where))

    def lookup(self, provider: str | None, model: str, tier: str | None) -> Match | None:
        """The supplement's price for a model as sent, or None."""
        if tier is not None and tier not in _STANDARD_TIERS:
            return None
        canon = canonicalize(provider, model)
        if canon.blocked:
            return None
        for key in canon.candidates:
            hit = self._index.get(key)
            if hit is not None:
                return hit
        return None


@functools.cache
def bundled_supplement() -> Supplement:
    """The bundled ``supplement.yaml``, read once per process (at the first `Pricer`).

    Raises:
        ConfigError: the bundled file is invalid (a packaging or editing mistake).
    """
    return Supplement.load()
