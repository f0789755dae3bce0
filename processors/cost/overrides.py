"""User price overrides: a YAML file of per-model prices that take precedence over the catalog.

    version: "2026-11-acme"        # optional; reported in gen_ai.usage.cost.pricing.version
    models:
      - name: acme-gpt-4o          # optional; reported as pricing.ref "override:<name>"
        exact: gpt-4o              # exactly one of exact / prefix / regex (lowercase match)
        provider: azure.ai.openai  # optional: only for this (normalized) provider
        input: 2.00                # USD per million tokens
        output: 8.00
        cache_read: 1.00           # optional; default: input (no discount)
        cache_write: 2.50          # optional; default: input
        reasoning: 8.00            # optional; default: output
        tiers:                     # optional context-length tiers (cliff, as the catalog)
          - above_input_tokens: 200000
            input: 4.00
            output: 12.00
        service_tiers:             # optional variants by service tier (flex, priority, batch)
          batch: {input: 1.00, output: 4.00}

Precedence: overrides before the catalog; among overrides, exact matches first, then the
longest prefix, then regexes in file order. A provider-restricted entry beats an unrestricted
one of the same kind.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from processors.cost.pricing import Match, Prices, Rate
from sidecar.config import ConfigError, StrictModel, parse_yaml, validation_errors


class TierPrices(StrictModel):
    """Rates above a context length (USD per million tokens)."""

    #: The tier applies when the input (with cache) is above this many tokens.
    above_input_tokens: int = Field(ge=0)
    input: float | None = Field(None, ge=0)
    output: float | None = Field(None, ge=0)
    cache_read: float | None = Field(None, ge=0)
    cache_write: float | None = Field(None, ge=0)
    reasoning: float | None = Field(None, ge=0)


class VariantPrices(StrictModel):
    """Rates of a service tier; unset kinds keep the entry's rates."""

    input: float | None = Field(None, ge=0)
    output: float | None = Field(None, ge=0)
    cache_read: float | None = Field(None, ge=0)
    cache_write: float | None = Field(None, ge=0)
    reasoning: float | None = Field(None, ge=0)


class OverrideEntry(StrictModel):
    """One model's prices (USD per million tokens)."""

    name: str | None = None
    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None
    provider: str | None = None
    input: float = Field(ge=0)
    output: float = Field(0.0, ge=0)
    cache_read: float | None = Field(None, ge=0)
    cache_write: float | None = Field(None, ge=0)
    reasoning: float | None = Field(None, ge=0)
    tiers: list[TierPrices] = Field(default_factory=list)
    service_tiers: dict[str, VariantPrices] = Field(default_factory=dict)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_matcher(self) -> OverrideEntry:
        given = [k for k in ("exact", "prefix", "regex") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("set exactly one of exact, prefix, regex")
        return self


class OverridesFile(StrictModel):
    """The file's top level."""

    version: str | None = None
    models: list[OverrideEntry] = Field(default_factory=list)


def _rate(base: float | None, tiers: list[TierPrices], kind: str) -> Rate | None:
    if base is None:
        return None
    pairs = [(-1, base / 1e6)]
    for t in tiers:
        v = getattr(t, kind)
        if v is not None:
            pairs.append((t.above_input_tokens, v / 1e6))
    return tuple(sorted(pairs, reverse=True))


def _prices(e: OverrideEntry, variant: VariantPrices | None) -> Prices:
    def pick(kind: str) -> float | None:
        if variant is not None and getattr(variant, kind) is not None:
            return getattr(variant, kind)
        return getattr(e, kind)

    return Prices(
        input=_rate(pick("input"), e.tiers, "input"),
        output=_rate(pick("output"), e.tiers, "output"),
        cache_read=_rate(pick("cache_read"), e.tiers, "cache_read"),
        cache_write=_rate(pick("cache_write"), e.tiers, "cache_write"),
        reasoning=_rate(pick("reasoning"), e.tiers, "reasoning"),
    )


@dataclass(frozen=True, slots=True)
class _Compiled:
    entry: OverrideEntry
    ref: str
    regex: re.Pattern[str] | None


class Overrides:
    """A parsed, validated override file, ready to match model names."""

    def __init__(self, parsed: OverridesFile, digest: str) -> None:
        self.version = f"overrides:{parsed.version or digest}"
        self._exact: dict[str, list[_Compiled]] = {}
        self._prefix: list[tuple[str, _Compiled]] = []
        self._regex: list[_Compiled] = []
        for e in parsed.models:
            pattern = (e.exact or e.prefix or e.regex or "").lower()
            c = _Compiled(e, f"override:{e.name or pattern}", re.compile(e.regex, re.I)
                          if e.regex else None)
            if e.exact:
                self._exact.setdefault(pattern, []).append(c)
            elif e.prefix:
                self._prefix.append((pattern, c))
            else:
                self._regex.append(c)
        # Longest prefix first; stable, so file order breaks ties.
        self._prefix.sort(key=lambda pc: -len(pc[0]))
        self.count = len(parsed.models)

    @classmethod
    def empty(cls) -> Overrides:
        return cls(OverridesFile(), "none")

    @classmethod
    def parse(cls, text: str, source: str) -> Overrides:
        """Parse and validate override YAML.

        Raises:
            ConfigError: with one ``path: message`` line per problem (all of them).
        """
        data = parse_yaml(text, source)
        try:
            parsed = OverridesFile.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(validation_errors(exc), source) from None
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        return cls(parsed, digest)

    def lookup(self, provider: str | None, model: str, tier: str | None) -> Match | None:
        """The override for this model as sent (lowercased), or None."""
        name = model.strip().lower()
        c = self._pick(self._exact.get(name, ()), provider)
        if c is None:
            c = self._pick((pc for p, pc in self._prefix if name.startswith(p)), provider)
        if c is None:
            c = self._pick((rc for rc in self._regex if rc.regex.search(name)), provider)
        if c is None:
            return None
        variant = c.entry.service_tiers.get(tier) if tier else None
        return Match(ref=c.ref, version=self.version, prices=_prices(c.entry, variant))

    @staticmethod
    def _pick(cands: Any, provider: str | None) -> _Compiled | None:
        fallback = None
        for c in cands:
            if c.entry.provider is None:
                if fallback is None:
                    fallback = c
            elif c.entry.provider == provider:
                return c
        return fallback
