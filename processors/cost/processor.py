"""The ``cost`` processor: writes shared/DESIGN.md section 3's cost attributes on LLM spans.

Per model-call span of ``processors.genai.batch_view`` (agent runs and other aggregates are
never priced):

* our ``gen_ai.usage.cost.amount`` already there -> ``status=preexisting``, nothing else written;
* the same call reported by another span (Anthropic SDK span under an instrumentation span)
  -> ``status=duplicate`` on the parent, no amount (the SDK span carries the cost);
* no input and no output tokens -> ``status=no_usage``;
* no price -> ``status=unpriced`` + ``reason`` (``no_model``, ``unknown_model``,
  ``fine_tuned_model``, ``unresolvable_model_arn``, ``not_priced_per_token``,
  ``incomplete_usage``: input or output count missing or invalid), counted;
* else ``status=priced``: amount, currency, source=local, the four parts, pricing ref and
  version (the catalog entry, override or bundled supplement row), and ``caveats`` when the
  counts limit the answer (``cache_detail_missing``: priced without a cache discount the model
  has; ``input_excluded_cache``; ``output_excluded_reasoning``; ``invalid_counts_ignored``;
  ``tokens_may_be_estimated``).

Nothing else on the span changes; spans that are not GenAI model calls are not touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import struct
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from processors import genai
from processors.cost.config import CompatKeys, CostConfig
from processors.cost.overrides import Overrides
from processors.cost.pricing import (
    Catalog,
    Cost,
    Match,
    Miss,
    Supplement,
    bundled_supplement,
    compute,
)
from processors.genai import routing
from sidecar import semconv as sc
from sidecar.component import BatchContext, Host, Processor, Signal
from sidecar.config import ConfigError

log = logging.getLogger(__name__)

_F = genai.TokenFlag


@dataclass(frozen=True, slots=True)
class Quote:
    """The answer for one call: a priced `Cost` with its match, or an unpriced reason."""

    status: str
    cost: Cost | None = None
    match: Match | None = None
    reason: str | None = None
    caveats: tuple[str, ...] = ()


class Pricer:
    """Overrides, then the catalog, then the bundled supplement (only for models the catalog
    does not know), behind a bounded lookup cache. Used by the processor and the CLI.

    ``supplement`` defaults to the bundled ``supplement.yaml`` (read once per process);
    `Supplement.empty()` turns it off.

    Threading: use from one thread (the event loop); reloads are parsed in a worker thread and
    applied with `set_overrides` on the loop.
    """

    def __init__(self, overrides: Overrides, catalog: Catalog, cache_size: int = 4096,
                 supplement: Supplement | None = None) -> None:
        self.overrides = overrides
        self.catalog = catalog
        self.supplement = supplement if supplement is not None else bundled_supplement()
        self._cache: OrderedDict[tuple[Any, ...], Match | Miss] = OrderedDict()
        self._cache_size = cache_size
        self._snapshot = catalog.snapshot

    def set_overrides(self, overrides: Overrides) -> None:
        self.overrides = overrides
        self._cache = OrderedDict()

    def lookup(
        self, provider: str | None, model: str, tier: str | None, when_ns: int = 0
    ) -> Match | Miss:
        """The price entry for a model as sent, cached per (provider, model, tier).

        Entries with dated prices are resolved again per hour of ``when_ns`` (span end time).
        """
        snap = self.catalog.snapshot
        if snap is not self._snapshot:  # the catalog was refreshed over the network
            self._snapshot = snap
            self._cache = OrderedDict()
        key = (provider, model, tier)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._resolve(key, provider, model, tier, when_ns)
            if not (isinstance(hit, Match) and hit.dated and when_ns):
                return hit
        if isinstance(hit, Match) and hit.dated and when_ns:
            hkey = (*key, when_ns // 3_600_000_000_000)
            dated = self._cache.get(hkey)
            if dated is None:
                dated = self._resolve(hkey, provider, model, tier, when_ns)
            return dated
        return hit

    def _resolve(
        self, key: tuple[Any, ...], provider: str | None, model: str, tier: str | None,
        when_ns: int,
    ) -> Match | Miss:
        when = datetime.fromtimestamp(when_ns / 1e9, UTC) if when_ns else None
        result = self.overrides.lookup(provider, model, tier) or self.catalog.lookup(
            provider, model, tier, when
        )
        if isinstance(result, Miss) and result.reason == sc.COST_REASON_UNKNOWN_MODEL:
            # Only where the catalog has no entry: never for a model it prices (or refuses to:
            # fine-tunes, ARNs, not per token), nor when it failed (catalog_error).
            result = self.supplement.lookup(provider, model, tier) or result
        cache = self._cache
        if len(cache) >= self._cache_size:
            cache.popitem(last=False)
        cache[key] = result
        return result

    def quote(self, call: genai.LLMCall, when_ns: int = 0) -> Quote:
        """Price one normalized call."""
        if call.input_tokens is None and call.output_tokens is None:
            return Quote(sc.COST_STATUS_NO_USAGE)
        embeddings = call.operation is genai.Operation.EMBEDDINGS
        if call.input_tokens is None or (call.output_tokens is None and not embeddings):
            # e.g. output reported as garbage and ignored: pricing the rest would understate.
            return Quote(sc.COST_STATUS_UNPRICED, reason=sc.COST_REASON_INCOMPLETE_USAGE)
        model = call.model
        if not model:
            return Quote(sc.COST_STATUS_UNPRICED, reason=sc.COST_REASON_NO_MODEL)
        found = self.lookup(call.provider, model, call.service_tier, when_ns)
        if isinstance(found, Miss) and call.response_model and call.request_model and (
            call.request_model != call.response_model
        ):
            # Azure: the request model is a deployment name, but try it if the response failed.
            alt = self.lookup(call.provider, call.request_model, call.service_tier, when_ns)
            if isinstance(alt, Match):
                found = alt
        if isinstance(found, Miss):
            return Quote(sc.COST_STATUS_UNPRICED, reason=found.reason)
        inp = call.input_tokens or 0
        out = call.output_tokens or 0
        if embeddings:
            out = 0  # embeddings are billed by input tokens only
        cost = compute(found.prices, inp, out, call.cache_read_tokens or 0,
                       call.cache_write_tokens or 0, call.reasoning_tokens or 0)
        return Quote(sc.COST_STATUS_PRICED, cost=cost, match=found,
                     caveats=_caveats(call, found))


_CAVEAT_FLAGS = (
    (int(_F.INPUT_EXCLUDED_CACHE), sc.COST_CAVEAT_INPUT_EXCLUDED_CACHE),
    (int(_F.OUTPUT_EXCLUDED_REASONING), sc.COST_CAVEAT_OUTPUT_EXCLUDED_REASONING),
    (int(_F.INVALID_IGNORED), sc.COST_CAVEAT_INVALID_COUNTS),
    (int(_F.MAY_BE_ESTIMATED), sc.COST_CAVEAT_MAY_BE_ESTIMATED),
)
_CACHE_UNKNOWN = int(_F.CACHE_DETAIL_UNKNOWN)


@functools.lru_cache(maxsize=1024)
def _caveats_of(flags: int, cache_discount: bool, modality_rates: bool) -> tuple[str, ...]:
    out = []
    if modality_rates:
        out.append(sc.COST_CAVEAT_MODALITY_RATES)
    if flags & _CACHE_UNKNOWN and cache_discount:
        out.append(sc.COST_CAVEAT_CACHE_DETAIL_MISSING)
    out += [name for bit, name in _CAVEAT_FLAGS if flags & bit]
    return tuple(out)


def _caveats(call: genai.LLMCall, match: Match) -> tuple[str, ...]:
    """What limits the answer (``gen_ai.usage.cost.caveats``), in a fixed order."""
    prices = match.prices
    return _caveats_of(int(call.flags), prices.has_cache_discount, prices.modality_rates)


def load_overrides(path: Path | None) -> Overrides:
    """Read and validate the overrides file (blocking I/O: start-up or a worker thread).

    Raises:
        ConfigError: unreadable or invalid; messages name the YAML path inside the file.
    """
    if path is None:
        return Overrides.empty()
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise ConfigError([f"<root>: cannot read file: {exc.strerror}"], str(path)) from None
    return Overrides.parse(text, str(path))


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class CostMetrics:
    """This processor's own counters (Prometheus), registered on the sidecar's registry."""

    def __init__(self) -> None:
        self.spans = Counter(sc.OWN_COST_SPANS, "LLM spans seen by the cost processor, by status.",
                             ["status"], registry=None)
        self.unpriced = Counter(sc.OWN_COST_UNPRICED, "LLM spans left unpriced, by reason.",
                                ["reason"], registry=None)
        self.reloads = Counter(sc.OWN_COST_OVERRIDE_RELOADS,
                               "Reloads of the price overrides file, by outcome.", ["outcome"],
                               registry=None)

    def register(self, registry: CollectorRegistry) -> None:
        for c in (self.spans, self.unpriced, self.reloads):
            with contextlib.suppress(ValueError):  # already registered (a second instance)
                registry.register(c)


class CostProcessor(Processor):
    """See the module docstring."""

    signals = frozenset({Signal.TRACES})
    #: LLM spans only.
    interest = routing.WIRE

    def __init__(self, config: CostConfig, pricer: Pricer | None = None) -> None:
        self.config = config
        self._path = config.overrides_file
        self._stat = _stat(self._path) if self._path else None
        self.pricer = pricer or Pricer(load_overrides(self._path), Catalog(), config.cache_size,
                                       bundled_supplement())
        self.metrics = CostMetrics()
        self._openlit = CompatKeys.OPENLIT in config.compatibility
        self._openinference = CompatKeys.OPENINFERENCE in config.compatibility
        self._task: asyncio.Task[None] | None = None
        self._updater: Any = None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, host: Host) -> None:
        telemetry = getattr(host, "telemetry", None)
        if telemetry is not None:
            self.metrics.register(telemetry.registry)
        if self.config.catalog_update.enabled:
            from genai_prices import UpdatePrices

            self._updater = UpdatePrices(update_interval=self.config.catalog_update.interval)
            self._updater.start()
        if self._path is not None and self.config.reload_interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._updater is not None:
            self._updater.stop()
            self._updater = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.reload_interval)
            # File I/O and parsing in a worker thread; the swap happens here, on the loop, so a
            # lookup in progress never caches an old answer into the new cache.
            self._apply(await asyncio.to_thread(self._read_if_changed))

    def check_overrides(self) -> bool | None:
        """Reload the overrides file if it changed (blocking; tests and tools call it directly).

        Returns:
            None when unchanged, True when reloaded, False when the new file is invalid or
            gone (the last good one stays in force; logged and counted).
        """
        return self._apply(self._read_if_changed())

    def _read_if_changed(self) -> Overrides | ConfigError | None:
        if self._path is None:
            return None
        st = _stat(self._path)
        if st == self._stat:
            return None
        self._stat = st
        try:
            return load_overrides(self._path)
        except ConfigError as exc:
            return exc

    def _apply(self, result: Overrides | ConfigError | None) -> bool | None:
        if result is None:
            return None
        if isinstance(result, ConfigError):
            self.metrics.reloads.labels(sc.OWN_COST_RELOAD_FAILED).inc()
            log.error("price overrides reload failed; keeping the last good file",
                      extra={"file": str(self._path), "errors": result.errors})
            return False
        self.pricer.set_overrides(result)
        self.metrics.reloads.labels(sc.OWN_COST_RELOAD_OK).inc()
        log.info("price overrides reloaded",
                 extra={"file": str(self._path), "version": result.version,
                        "models": result.count})
        return True

    # -- hot path ------------------------------------------------------------------------
    async def process(self, batch: Any, ctx: BatchContext) -> Any:
        entries = genai.batch_view(batch, ctx.scratch, ctx.scopes)
        if not entries:
            ctx.untouched()
            return batch
        statuses: dict[str, int] = {}
        unpriced: dict[str, int] = {}
        for e in entries:
            call = e.call
            if call.operation not in genai.MODEL_CALL_OPERATIONS:
                continue
            status = self._price_span(e.span, call)
            statuses[status[0]] = statuses.get(status[0], 0) + 1
            if status[1] is not None:
                unpriced[status[1]] = unpriced.get(status[1], 0) + 1
        if not statuses:
            ctx.untouched()  # no model call: nothing written
        for status, n in statuses.items():
            self.metrics.spans.labels(status).inc(n)
        for reason, n in unpriced.items():
            self.metrics.unpriced.labels(reason).inc(n)
        return batch

    def _price_span(self, span: Any, call: genai.LLMCall) -> tuple[str, str | None]:
        # Attributes are appended as protobuf wire bytes in one MergeFromString: building
        # eleven KeyValue messages field by field through the Python API costs several times
        # more. The bytes are exactly what ``attributes.add()`` would have produced.
        if call.existing_cost_key is not None:
            if not _has(span.attributes, sc.COST_STATUS):
                span.MergeFromString(_static(((sc.COST_STATUS, sc.COST_STATUS_PREEXISTING),)))
            return sc.COST_STATUS_PREEXISTING, None
        if call.duplicate:
            span.MergeFromString(_static(((sc.COST_STATUS, sc.COST_STATUS_DUPLICATE),)))
            return sc.COST_STATUS_DUPLICATE, None
        q = self.pricer.quote(call, span.end_time_unix_nano or span.start_time_unix_nano)
        if q.cost is None:
            pairs = ((sc.COST_STATUS, q.status),)
            if q.reason is not None:
                pairs += ((sc.COST_REASON, q.reason),)
            span.MergeFromString(_static(pairs))
            return q.status, q.reason
        c, m = q.cost, q.match
        amount = c.amount
        parts = [
            _P_AMOUNT, _pack(amount), _P_INPUT, _pack(c.input), _P_OUTPUT, _pack(c.output),
            _P_CACHE_READ, _pack(c.cache_read), _P_CACHE_WRITE, _pack(c.cache_write),
            _priced_static(m.ref, m.version, q.caveats),
        ]
        foreign = call.foreign_cost
        if self._openlit and not (foreign and foreign[0] == sc.COMPAT_OPENLIT_COST):
            parts += (_P_OPENLIT, _pack(amount))
        if self._openinference and not _has(span.attributes, sc.COMPAT_OPENINFERENCE_COST_TOTAL):
            parts += (_P_OI_TOTAL, _pack(amount),
                      _P_OI_PROMPT, _pack(c.input + c.cache_read + c.cache_write),
                      _P_OI_COMPLETION, _pack(c.output))
        span.MergeFromString(b"".join(parts))
        return sc.COST_STATUS_PRICED, None


def _has(attrs: Any, key: str) -> bool:
    return any(kv.key == key for kv in attrs)


# --------------------------------------------------------------------------------------------
# Span.attributes (field 9) entries as wire bytes
# --------------------------------------------------------------------------------------------
_pack = struct.Struct("<d").pack


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _kv(key: str, anyvalue: bytes) -> bytes:
    k = key.encode("utf-8")
    body = b"\x0a" + _varint(len(k)) + k + b"\x12" + _varint(len(anyvalue)) + anyvalue
    return b"\x4a" + _varint(len(body)) + body


def _str_value(text: str) -> bytes:
    t = text.encode("utf-8")
    return b"\x0a" + _varint(len(t)) + t


def _double_prefix(key: str) -> bytes:
    """The bytes of a double attribute up to (excluding) its 8 value bytes."""
    return _kv(key, b"\x21" + bytes(8))[:-8]


_P_AMOUNT = _double_prefix(sc.COST_AMOUNT)
_P_INPUT = _double_prefix(sc.COST_INPUT)
_P_OUTPUT = _double_prefix(sc.COST_OUTPUT)
_P_CACHE_READ = _double_prefix(sc.COST_CACHE_READ)
_P_CACHE_WRITE = _double_prefix(sc.COST_CACHE_WRITE)
_P_OPENLIT = _double_prefix(sc.COMPAT_OPENLIT_COST)
_P_OI_TOTAL = _double_prefix(sc.COMPAT_OPENINFERENCE_COST_TOTAL)
_P_OI_PROMPT = _double_prefix(sc.COMPAT_OPENINFERENCE_COST_PROMPT)
_P_OI_COMPLETION = _double_prefix(sc.COMPAT_OPENINFERENCE_COST_COMPLETION)


@functools.lru_cache(maxsize=1024)
def _static(pairs: tuple[tuple[str, str], ...]) -> bytes:
    return b"".join(_kv(k, _str_value(v)) for k, v in pairs)


@functools.lru_cache(maxsize=4096)
def _priced_static(ref: str, version: str, caveats: tuple[str, ...]) -> bytes:
    out = _static(((sc.COST_CURRENCY, "USD"), (sc.COST_SOURCE, sc.COST_SOURCE_LOCAL),
                   (sc.COST_STATUS, sc.COST_STATUS_PRICED), (sc.COST_PRICING_REF, ref),
                   (sc.COST_PRICING_VERSION, version)))
    if caveats:
        array = b"".join(b"\x0a" + _varint(len(v)) + v
                         for v in (_str_value(c) for c in caveats))  # ArrayValue.values
        out += _kv(sc.COST_CAVEATS, b"\x2a" + _varint(len(array)) + array)
    return out
