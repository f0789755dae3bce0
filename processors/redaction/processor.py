"""The redaction processor: find content, analyze it (cached, in workers), replace findings.

Per batch: walk the request's content texts (`ContentWalker`) in slices of records; for each
slice, look its texts not seen earlier in the request up in the LRU cache keyed by (config
fingerprint, patterns-only flag, content hash) and send the misses to the backend at once, so
workers start while the rest is walked. Then apply the operators to the findings, write the
texts back and the summary attributes (``redaction.pii.count`` / ``types`` / ``status``). A
text that could not be analyzed becomes ``[REDACTION_FAILED]``; its record's status is
``failed``. The event loop gets a turn between slices, walking and writing back.

Overload (``overload.policy: withhold``, the default): a request's content gets at most
``overload.budget`` (less when the request's own deadline is nearer). Texts the workers' backlog
cannot reach in that time are not queued, and texts still unanswered when it ends are given up
(their queued chunks skipped); both become ``[REDACTION_DEFERRED]`` and their records' status
``deferred``. Nothing unanalyzed is forwarded raw, and the request is answered on time.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from processors.redaction.config import Mode, OverloadPolicy, RedactionConfig
from processors.redaction.content import ContentWalker, Record, Status
from processors.redaction.operators import DEFERRED, FAILED, Operators, Redacted
from processors.redaction.pool import Backend
from sidecar import semconv
from sidecar.component import BatchContext, Host, Processor, Signal

#: Records walked (and later written back) between two turns of the event loop.
_SLICE = 64
#: Answer this long before the request's deadline: the rest of the chain and the export.
_ANSWER_MARGIN = 0.5


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
        self.deferred = Counter(semconv.OWN_REDACTION_DEFERRED,
                                "Texts withheld as [REDACTION_DEFERRED]: not analyzed within "
                                "the overload budget, by reason (backlog: not queued; "
                                "deadline: given up while queued).", ["reason"], registry=r)
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
        self.interest = self._walker.interest()
        self._operators = operators
        self._fingerprint = fingerprint
        self._key_id = key_id
        self._cache = ResultCache(config.limits.cache_size)
        self._patterns_mode = config.mode is Mode.PATTERNS
        self._withhold = config.overload.policy is OverloadPolicy.WITHHOLD
        self._budget = config.overload.budget
        self._max_backlog = config.overload.max_backlog
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
        walk = (self._walker.iter_traces(batch, ctx.scopes) if ctx.signal is Signal.TRACES
                else self._walker.iter_logs(batch, ctx.scopes))
        loop = asyncio.get_running_loop()
        until = None
        if self._withhold:
            until = loop.time() + self._budget
            if ctx.deadline is not None:
                until = min(until, ctx.deadline - _ANSWER_MARGIN)
        records: list[Record] = []
        requested: set[tuple[str, bool]] = set()
        todo: list[tuple[str, bool]] = []
        tasks: list[tuple[asyncio.Future[dict[tuple[str, bool], Redacted]],
                          list[tuple[str, bool]]]] = []
        forced = 0
        try:
            # Every _SLICE records: send that slice's new texts to the workers and give the
            # event loop a turn, so workers start while the rest of the request is walked and
            # other requests' answers are read.
            for rec in walk:
                records.append(rec)
                for leaf in rec.leaves:
                    if leaf.entity is not None and leaf.forced is None:
                        leaf.forced = self._operators.apply(
                            leaf.text, [(0, len(leaf.text), leaf.entity, 1.0)])
                        continue
                    if leaf.forced is not None:
                        forced += 1
                        continue
                    key = (leaf.text, leaf.patterns_only)
                    if key not in requested:
                        requested.add(key)
                        todo.append(key)
                if len(records) % _SLICE == 0:
                    if todo:
                        tasks.append((asyncio.ensure_future(self.redact_texts(todo, until)),
                                      todo))
                        todo = []
                    await asyncio.sleep(0)
            if not records:
                ctx.untouched()
                return batch
            if todo:
                tasks.append((asyncio.ensure_future(self.redact_texts(todo, until)), todo))
            results: dict[tuple[str, bool], Redacted] = {}
            if until is None:
                for task, _keys in tasks:
                    results.update(await task)
            elif tasks:
                done, _pending = await asyncio.wait(
                    [t for t, _ in tasks], timeout=max(0.0, until - loop.time()))
                given_up = 0
                for task, keys in tasks:
                    if task in done:
                        results.update(task.result())
                    else:
                        task.cancel()  # its queued chunks are skipped
                        given_up += len(keys)
                        for key in keys:
                            results[key] = DEFERRED
                if given_up:
                    self.stats.deferred.labels("deadline").inc(given_up)
        except BaseException:
            for task, _keys in tasks:
                task.cancel()
            raise
        if forced:
            self.stats.failure("size_cap", forced)
        counts = {Status.FAILED: 0, Status.DEFERRED: 0, Status.REDACTED: 0, Status.CLEAN: 0}
        for i, rec in enumerate(records, 1):
            total = rec.apply(results, self._key_id)
            counts[Status.FAILED if total.failed else Status.DEFERRED if total.deferred else (
                Status.REDACTED if total.count else Status.CLEAN)] += 1
            if i % _SLICE == 0:
                await asyncio.sleep(0)
        for status, n in counts.items():
            if n:
                self.stats.values.labels(status).inc(n)
        return batch

    async def redact_texts(
        self, keys: Iterable[tuple[str, bool]], until: float | None = None
    ) -> dict[tuple[str, bool], Redacted]:
        """Outcome per distinct (text, patterns_only): cached, else analyzed; with ``until``
        (``loop.time()``), `DEFERRED` when the backend's backlog cannot reach them by then."""
        results: dict[tuple[str, bool], Redacted] = {}
        todo: list[tuple[tuple[str, bool], Any]] = []
        fp = self._fingerprint
        cache = self._cache
        for key in keys:
            text, po = key
            po = po and not self._patterns_mode
            ck = (fp, po, hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                          digest_size=16).digest())
            hit = cache.get(ck)
            if hit is not None:
                results[key] = hit
            else:
                todo.append((key, ck))
        if results:
            self._hit.inc(len(results))
        if todo:
            self._miss.inc(len(todo))
        admissible = getattr(self.backend, "admissible_chars", None)
        if todo and until is not None and admissible is not None:
            # Queue what the workers can reach in time (at least one text while there is
            # room at all); withhold the rest now rather than let it wait and expire.
            wanted = sum(len(key[0]) for key, _ck in todo)
            room = admissible(until - asyncio.get_running_loop().time(), self._max_backlog,
                              wanted)
            admitted = []
            for item in todo:
                if room > 0:
                    admitted.append(item)
                    room -= len(item[0][0])
                else:
                    results[item[0]] = DEFERRED
            if len(admitted) < len(todo):
                self.stats.deferred.labels("backlog").inc(len(todo) - len(admitted))
            todo = admitted
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
