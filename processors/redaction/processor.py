"""The redaction processor: find content, analyze it (cached, in workers), replace findings.

Per batch: collect every content text of the request (`ContentWalker`), deduplicate, look each
up in the LRU cache keyed by (config fingerprint, patterns-only flag, content hash), send the
misses to the backend in chunks, apply the operators to the findings, write the texts back
and the summary attributes (``redaction.pii.count`` / ``types`` / ``status``). A text that
could not be analyzed becomes ``[REDACTION_FAILED]``; its record's status is ``failed``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from processors.redaction.config import Mode, RedactionConfig
from processors.redaction.content import ContentWalker, Status
from processors.redaction.operators import FAILED, Operators, Redacted
from processors.redaction.pool import Backend
from sidecar import semconv
from sidecar.component import BatchContext, Host, Processor, Signal


class ResultCache:
    """Bounded LRU of `Redacted` outcomes. Keys hold a digest, never the text."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[Any, Redacted] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Any) -> Redacted | None:
        if not self._size:
            return None
        hit = self._data.get(key)
        if hit is not None:
            self._data.move_to_end(key)
        return hit

    def put(self, key: Any, value: Redacted) -> None:
        if not self._size:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)


class RedactionStats:
    """The processor's own counters (Prometheus; registered on the sidecar's registry when the
    host offers one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry(auto_describe=True)
        self.registry = r
        self.values = Counter(semconv.OWN_REDACTION_VALUES,
                              "Content values processed by redaction, by outcome.",
                              ["outcome"], registry=r)
        self.failures = Counter(semconv.OWN_REDACTION_FAILURES,
                                "Texts withheld as [REDACTION_FAILED], by reason.",
                                ["reason"], registry=r)
        self.cache = Counter(semconv.OWN_REDACTION_CACHE, "Result cache lookups, by result.",
                             ["result"], registry=r)
        self.restarts = Counter(semconv.OWN_REDACTION_WORKER_RESTARTS,
                                "Redaction worker processes replaced after a crash or timeout.",
                                registry=r)

    def failure(self, reason: str, n: int) -> None:
        self.failures.labels(reason).inc(n)

    def expose_on(self, registry: Any) -> None:
        """Make these counters part of another registry's scrape (the sidecar's /metrics)."""
        own = self.registry

        class _Bridge:
            def collect(self):
                return own.collect()

            def describe(self):
                return []

        registry.register(_Bridge())


class RedactionProcessor(Processor):
    """See the module docstring. Built by `processors.redaction.create`."""

    signals = frozenset({Signal.TRACES, Signal.LOGS})

    def __init__(self, config: RedactionConfig, backend: Backend, operators: Operators,
                 fingerprint: str, key_id: str | None, stats: RedactionStats) -> None:
        self.config = config
        self.backend = backend
        self.stats = stats
        self._walker = ContentWalker(config)
        self._operators = operators
        self._fingerprint = fingerprint
        self._key_id = key_id
        self._cache = ResultCache(config.limits.cache_size)
        self._patterns_mode = config.mode is Mode.PATTERNS
        self._hit = stats.cache.labels("hit")
        self._miss = stats.cache.labels("miss")
        self._started = False

    async def start(self, host: Host) -> None:
        if self._started:
            return
        self._started = True
        # The sidecar's own registry, when the host offers one (``host.telemetry.registry``).
        registry = getattr(getattr(host, "telemetry", None), "registry", None)
        if registry is not None:
            self.stats.expose_on(registry)
        await self.backend.start()

    async def shutdown(self) -> None:
        await self.backend.shutdown()

    async def process(self, batch: Any, ctx: BatchContext) -> Any:
        if ctx.signal is Signal.TRACES:
            records = self._walker.collect_traces(batch)
        else:
            records = self._walker.collect_logs(batch)
        if not records:
            return batch
        results = await self.redact_texts(
            {(leaf.text, leaf.patterns_only) for r in records for leaf in r.leaves
             if leaf.forced is None})
        forced = sum(1 for r in records for leaf in r.leaves if leaf.forced is not None)
        if forced:
            self.stats.failure("size_cap", forced)
        for rec in records:
            total = rec.apply(results, self._key_id)
            status = Status.FAILED if total.failed else (
                Status.REDACTED if total.count else Status.CLEAN)
            self.stats.values.labels(status).inc()
        return batch

    async def redact_texts(self, keys: set[tuple[str, bool]]) -> dict[tuple[str, bool], Redacted]:
        """Outcome per (text, patterns_only): cached, else analyzed (deduplicated)."""
        results: dict[tuple[str, bool], Redacted] = {}
        todo: list[tuple[tuple[str, bool], Any]] = []
        fp = self._fingerprint
        for key in keys:
            text, po = key
            po = po and not self._patterns_mode
            ck = (fp, po, hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                          digest_size=16).digest())
            hit = self._cache.get(ck)
            if hit is not None:
                self._hit.inc()
                results[key] = hit
            else:
                self._miss.inc()
                todo.append((key, ck))
        if todo:
            outcomes = await self.backend.analyze([k[0] for k, _ in todo],
                                                  [k[1] and not self._patterns_mode
                                                   for k, _ in todo])
            for (key, ck), findings in zip(todo, outcomes, strict=True):
                if findings is None:
                    results[key] = FAILED
                    continue
                red = self._operators.apply(key[0], findings)
                self._cache.put(ck, red)
                results[key] = red
        return results
