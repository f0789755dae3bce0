"""Analysis backends: worker processes (production) or in-process (CLI, tests).

`WorkerPool` runs N worker processes (forkserver or spawn; never fork, which is unsafe with
gRPC's threads). Each builds its Presidio engines once at start-up and then analyzes chunks of
texts sent over a pipe, answering in order. The event loop never blocks: each worker's pipe has
a reader callback, and that callback hands the worker its next chunk at once, so a worker is
not left idle while the event loop is busy with other requests. Each worker holds at most
``_DEPTH`` chunks: the one it is analyzing and the next, waiting in its pipe. The per-value
deadline (``value_timeout`` x texts in the chunk) of a chunk runs from the moment the worker
takes it (when the previous answer arrives).

Failure handling, all fail closed (the chunk's texts come back as None):

* the analyzer raised in the worker: the worker answers with the error and stays;
* the deadline passed: the worker is killed (it may be stuck in a regex) and replaced;
* the worker died (EOF on its pipe): it is replaced.

In both last cases only the chunk being analyzed fails; the chunk waiting behind it was never
started and goes back to the front of the queue for another worker.

Threading contract: every method is called on the event loop thread. ``shutdown`` is
idempotent, safe without ``start``, and bounded (workers that do not exit are killed).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from processors.redaction.engine import Analyzer, EngineSpec, Finding

log = logging.getLogger(__name__)

#: One analysis answer per text: its findings, or None when it could not be analyzed.
Outcome = list[Finding] | None

_SHUTDOWN_GRACE = 3.0



def available_cpus(cgroup_root: str = "/sys/fs/cgroup") -> int:
    """CPUs this process may really use: its affinity, capped by a cgroup v2 CPU quota.

    ``os.cpu_count()`` counts the node's cores; in a container limited to 2 CPUs on a 64-core
    node it would start 64 workers, each holding its own spaCy pipeline.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    try:
        with open(os.path.join(cgroup_root, "cpu.max"), encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)

#: Characters per second per worker assumed before any chunk finished (NER on this project's
#: 2-core reference machine analyzes ~150k; patterns mode far more). Then measured.
_INITIAL_RATE = 100_000.0
#: Weight of each finished chunk in the measured rate.
_RATE_WEIGHT = 0.2
#: A call that has waited this long for its next chunk is served before shorter ones.
_STARVATION_S = 1.0

class Backend(Protocol):
    """Where texts are analyzed."""

    async def start(self) -> None: ...

    async def analyze(self, texts: Sequence[str], patterns_only: Sequence[bool]) -> list[Outcome]:
        """One outcome per text, in order. Never raises for analysis problems."""
        ...

    async def shutdown(self) -> None: ...


class WorkerStartError(RuntimeError):
    """A worker could not build its engines (e.g. the model is missing)."""


class _WorkerGone(Exception):
    pass


#: Chunks a worker holds at once: the one it analyzes and the next one, in its pipe.
_DEPTH = 2
#: Upper bound of the characters in one chunk (beside ``batch_size`` texts), so a chunk
#: waiting in a worker's pipe fits the socket buffer and sending it never blocks the loop.
_CHUNK_CHARS = 64 * 1024


def _worker_main(conn: Any, spec: EngineSpec) -> None:
    """Entry point of a worker process: build engines once, then serve chunks until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    logging.disable(logging.WARNING)  # Presidio warns per text; we never log content
    try:
        analyzer = Analyzer(spec)
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        texts, flags = msg
        try:
            result = analyzer.analyze(texts, flags)
        except Exception as exc:  # reported without the text
            conn.send(("error", type(exc).__name__))
            continue
        conn.send(("ok", result))


class _Job:
    """One chunk of texts and the future its outcomes are delivered to."""

    __slots__ = ("chars", "flags", "future", "group", "started", "texts")

    def __init__(self, texts: list[str], flags: list[bool], future: asyncio.Future,
                 group: int = 0) -> None:
        self.texts = texts
        #: The `WorkerPool.analyze` call it belongs to (fair scheduling).
        self.group = group
        self.flags = flags
        self.future = future
        self.chars = sum(map(len, texts))
        #: ``loop.time()`` when a worker began on it.
        self.started = 0.0


class _FairQueue:
    """Chunks not sent yet, grouped by the call they belong to. The next chunk comes from the
    call with the fewest chunks left (shortest first: a small request's chunk goes out ahead
    of a large prompt's, and calls of equal size finish one after another rather than all
    late together, as round-robin would make them); a call that has waited longer than
    `_STARVATION_S` since it last got a chunk goes first, so a large prompt keeps moving
    under a stream of small ones."""

    def __init__(self, clock=time.monotonic) -> None:
        self._groups: dict[int, collections.deque[_Job]] = {}
        self._served: dict[int, float] = {}
        self._clock = clock

    def __bool__(self) -> bool:
        return bool(self._groups)

    def __iter__(self):
        for jobs in self._groups.values():
            yield from jobs

    def extend(self, jobs: list[_Job]) -> None:
        now = self._clock()
        for job in jobs:
            if job.group not in self._groups:
                self._groups[job.group] = collections.deque()
                self._served[job.group] = now
            self._groups[job.group].append(job)

    def requeue(self, jobs: list[_Job]) -> None:
        """Put back chunks that were sent but never started, first in their call's line."""
        for job in reversed(jobs):
            group = self._groups.get(job.group)
            if group is None:
                group = self._groups[job.group] = collections.deque()
                self._served[job.group] = float("-inf")  # first in line
            group.appendleft(job)

    def appendleft(self, job: _Job) -> None:
        self.requeue([job])

    def popleft(self) -> _Job:
        now = self._clock()
        group = min(self._groups, key=lambda g: (
            now - self._served[g] <= _STARVATION_S, len(self._groups[g]) if
            now - self._served[g] <= _STARVATION_S else self._served[g], g))
        jobs = self._groups[group]
        job = jobs.popleft()
        if jobs:
            self._served[group] = now
        else:
            del self._groups[group], self._served[group]
        return job


class _Worker:
    def __init__(self, ctx: Any, spec: EngineSpec) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn = parent
        self.process = ctx.Process(target=_worker_main, args=(child, spec),
                                   name="genai-sidecar-redaction", daemon=True)
        self.process.start()
        child.close()  # so EOF reaches us when the worker dies
        self.pid = self.process.pid
        #: Chunks sent and not answered yet, oldest (the one being analyzed) first.
        self.inflight: collections.deque[_Job] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.reading = False

    async def receive(self, timeout: float) -> tuple[str, Any]:
        """The next message, awaited without blocking the loop (start-up only)."""
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = self.conn.fileno()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await asyncio.wait_for(ready, timeout)
        finally:
            loop.remove_reader(fd)
        try:
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            raise _WorkerGone(str(exc)) from None

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.conn.close()


class WorkerPool:
    """N worker processes fed chunks of texts. See the module docstring."""

    def __init__(
        self,
        spec: EngineSpec,
        count: int,
        start_method: str,
        batch_size: int,
        value_timeout: float,
        startup_timeout: float,
        on_restart: Callable[[], None] = lambda: None,
        on_failure: Callable[[str, int], None] = lambda reason, n: None,
    ) -> None:
        self._spec = spec
        self._count = count or available_cpus()
        self._ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            # Workers fork from a server that already imported the heavy modules.
            self._ctx.set_forkserver_preload(["processors.redaction.worker_env",
                                              "processors.redaction.engine", "spacy",
                                              "presidio_analyzer"])
        self._batch = batch_size
        self._value_timeout = value_timeout
        self._startup_timeout = startup_timeout
        self._on_restart = on_restart
        self._on_failure = on_failure
        self._workers: set[_Worker] = set()
        #: Workers serving chunks (engines built, reader registered), in start order.
        self._serving: list[_Worker] = []
        #: Chunks not sent yet, in arrival order.
        self._queue = _FairQueue()
        self._calls = itertools.count(1)
        self._spawning: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._closed = False
        #: Characters per second one worker analyzes (moving average of finished chunks).
        self._rate = _INITIAL_RATE

    @property
    def size(self) -> int:
        return self._count

    def worker_pids(self) -> list[int]:
        """Pids of the live workers (for tests and diagnostics)."""
        return sorted(w.pid for w in self._workers)

    async def start(self) -> None:
        """Start every worker and wait until each has built its engines.

        Raises:
            WorkerStartError: a worker failed or did not become ready within the timeout.
        """
        if self._started:
            return
        self._started = True
        self._loop = asyncio.get_running_loop()
        results = await asyncio.gather(*(self._spawn() for _ in range(self._count)),
                                       return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await self.shutdown()
            raise WorkerStartError(f"redaction worker failed to start: {errors[0]}")

    async def _spawn(self) -> None:
        worker = await asyncio.to_thread(_Worker, self._ctx, self._spec)
        self._workers.add(worker)
        try:
            kind, payload = await worker.receive(self._startup_timeout)
        except (TimeoutError, _WorkerGone) as exc:
            self._discard(worker)
            raise WorkerStartError(f"no answer from worker: {type(exc).__name__}") from None
        if kind != "ready":
            self._discard(worker)
            raise WorkerStartError(str(payload))
        if self._closed:
            self._discard(worker)
            return
        assert self._loop is not None
        self._loop.add_reader(worker.conn.fileno(), self._on_readable, worker)
        worker.reading = True
        self._serving.append(worker)
        self._dispatch()

    def _discard(self, worker: _Worker) -> None:
        if worker.reading:
            assert self._loop is not None
            with contextlib.suppress(Exception):
                self._loop.remove_reader(worker.conn.fileno())
            worker.reading = False
        if worker.timer is not None:
            worker.timer.cancel()
            worker.timer = None
        if worker in self._serving:
            self._serving.remove(worker)
        worker.kill()
        self._workers.discard(worker)
        # Reap in a thread so no zombie is left and the loop does not wait.
        asyncio.get_running_loop().run_in_executor(None, worker.process.join, 1.0)

    def _lost(self, worker: _Worker, reason: str) -> None:
        """The worker died or overran its deadline: fail its current chunk, requeue the rest,
        replace it."""
        if worker not in self._workers:
            return
        inflight = list(worker.inflight)
        worker.inflight.clear()
        self._discard(worker)
        if inflight:
            self._fail(inflight[0], reason)
            self._queue.requeue(inflight[1:])  # never started: first in line, in order
        if not self._closed:
            self._on_restart()
            task = asyncio.get_running_loop().create_task(self._respawn())
            self._spawning.add(task)
            task.add_done_callback(self._spawning.discard)
        self._dispatch()

    async def _respawn(self) -> None:
        try:
            await self._spawn()
        except WorkerStartError:
            log.error("redaction worker restart failed; pool has %d workers", len(self._workers))
            current = asyncio.current_task()
            if not self._serving and all(t is current for t in self._spawning):
                self._fail_queue("no_workers")

    async def restarts_settled(self) -> None:
        """Wait until every pending worker replacement is ready (or has failed)."""
        while self._spawning:
            await asyncio.gather(*self._spawning, return_exceptions=True)

    def backlog_seconds(self) -> float:
        """How long work queued now would wait: characters not analyzed yet (queued and in
        the workers) over the measured rate of the serving workers."""
        pending = sum(j.chars for j in self._queue if not j.future.done())
        pending += sum(j.chars for w in self._serving for j in w.inflight)
        return pending / (self._rate * max(1, len(self._serving)))

    def active_calls(self) -> int:
        """Calls with chunks queued or being analyzed."""
        groups = {j.group for j in self._queue if not j.future.done()}
        groups.update(j.group for w in self._serving for j in w.inflight)
        return len(groups)

    def admissible_chars(self, budget: float, busy_budget: float,
                         wanted: float = math.inf) -> float:
        """Characters a new call of ``wanted`` characters could queue now and still have
        analyzed within the shorter of ``budget`` and ``busy_budget`` (negative: none).

        The queue serves the call with the fewest chunks left first, so of each other call
        only about as much as the new call's own size is served before it: a small request
        beside a large prompt still fits, while under a flood of like-sized requests this is
        the whole backlog. Kept short on purpose: under a flood each call asks for little and
        is answered soon, so the collector's fixed number of export consumers keeps its
        throughput. (A lone prompt larger than that has the rest withheld; overload.policy
        wait waits for it.)"""
        within = min(busy_budget, budget)
        pending: dict[int, int] = {}
        for j in self._queue:
            if not j.future.done():
                pending[j.group] = pending.get(j.group, 0) + j.chars
        for w in self._serving:
            for j in w.inflight:
                pending[j.group] = pending.get(j.group, 0) + j.chars
        ahead = sum(min(p, wanted) for p in pending.values())
        capacity = self._rate * max(1, len(self._serving))
        return within * capacity - ahead

    # -- the hot path ---------------------------------------------------------------------
    async def analyze(self, texts: Sequence[str], patterns_only: Sequence[bool]) -> list[Outcome]:
        """Outcomes for ``texts``, chunked over the workers; failures come back as None."""
        if not texts:
            return []
        if not self._started or self._closed:
            self._on_failure("not_running", len(texts))
            return [None] * len(texts)
        if not self._serving and not self._spawning:
            self._on_failure("no_workers", len(texts))
            return [None] * len(texts)
        loop = asyncio.get_running_loop()
        group = next(self._calls)
        jobs = [_Job(t, f, loop.create_future(), group)
                for t, f in self._chunks(texts, patterns_only)]
        self._queue.extend(jobs)
        self._dispatch()
        try:
            parts = [await job.future for job in jobs]
        except asyncio.CancelledError:
            # Queued chunks are skipped when their turn comes; answers to sent ones dropped.
            for job in jobs:
                job.future.cancel()
            raise
        return [o for part in parts for o in part]

    def _chunks(self, texts: Sequence[str], flags: Sequence[bool]):
        chunk: list[str] = []
        chunk_flags: list[bool] = []
        size = 0
        for text, flag in zip(texts, flags, strict=True):
            if chunk and (len(chunk) >= self._batch or size + len(text) > _CHUNK_CHARS):
                yield chunk, chunk_flags
                chunk, chunk_flags, size = [], [], 0
            chunk.append(text)
            chunk_flags.append(flag)
            size += len(text)
        if chunk:
            yield chunk, chunk_flags

    def _dispatch(self) -> None:
        """Send queued chunks to the least busy workers that have room."""
        queue = self._queue
        while queue:
            worker = min(self._serving, key=lambda w: len(w.inflight), default=None)
            if worker is None or len(worker.inflight) >= _DEPTH:
                return
            job = queue.popleft()
            if job.future.done():  # its caller gave up
                continue
            try:
                worker.conn.send((job.texts, job.flags))
            except (OSError, ValueError):
                queue.appendleft(job)
                self._lost(worker, "worker_crash")
                return
            worker.inflight.append(job)
            if len(worker.inflight) == 1:
                self._arm(worker)

    def _arm(self, worker: _Worker) -> None:
        """Start the deadline of the chunk the worker takes now."""
        assert self._loop is not None
        job = worker.inflight[0]
        job.started = self._loop.time()
        worker.timer = self._loop.call_later(self._value_timeout * len(job.texts),
                                             self._expired, worker, job)

    def _expired(self, worker: _Worker, job: _Job) -> None:
        if worker.inflight and worker.inflight[0] is job:
            self._lost(worker, "timeout")

    def _on_readable(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                kind, payload = worker.conn.recv()
                job = worker.inflight.popleft()
                elapsed = self._loop.time() - job.started if self._loop else 0.0
                if elapsed > 0 and job.chars:
                    self._rate += _RATE_WEIGHT * (job.chars / elapsed - self._rate)
                if worker.timer is not None:
                    worker.timer.cancel()
                    worker.timer = None
                if worker.inflight:
                    self._arm(worker)
                if kind == "ok":
                    if not job.future.done():
                        job.future.set_result(payload)
                else:
                    self._fail(job, "error")
        except (EOFError, OSError, IndexError):
            self._lost(worker, "worker_crash")
            return
        self._dispatch()

    def _fail(self, job: _Job, reason: str) -> None:
        if not job.future.done():
            self._on_failure(reason, len(job.texts))
            job.future.set_result([None] * len(job.texts))

    def _fail_queue(self, reason: str) -> None:
        while self._queue:
            self._fail(self._queue.popleft(), reason)

    async def shutdown(self) -> None:
        """Stop every worker: ask, wait briefly (in a thread), then kill. Idempotent.

        Chunks not answered yet fail closed (``not_running``).
        """
        if self._closed:
            return
        self._closed = True
        for task in list(self._spawning):
            task.cancel()
        workers = list(self._workers)
        for w in workers:
            if w.reading and self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(w.conn.fileno())
                w.reading = False
            if w.timer is not None:
                w.timer.cancel()
            for job in w.inflight:
                self._fail(job, "not_running")
            w.inflight.clear()
        self._fail_queue("not_running")
        self._workers.clear()
        self._serving.clear()
        for w in workers:
            with contextlib.suppress(Exception):
                w.conn.send(None)

        def join_all() -> None:
            deadline = time.monotonic() + _SHUTDOWN_GRACE
            for w in workers:
                w.process.join(max(0.0, deadline - time.monotonic()))
                if w.process.is_alive():
                    w.kill()
                    w.process.join(1.0)
                with contextlib.suppress(Exception):
                    w.conn.close()

        await asyncio.to_thread(join_all)


class InlineBackend:
    """Analysis in this process, off the event loop in a thread. For the CLI and tests.

    The analyzer is built by the caller (tests share one per session). A deadline that passes
    fails the texts closed; the thread itself cannot be stopped and finishes in the background.
    """

    def __init__(self, analyzer: Any, batch_size: int, value_timeout: float,
                 on_failure: Callable[[str, int], None] = lambda reason, n: None) -> None:
        self._analyzer = analyzer
        self._batch = batch_size
        self._value_timeout = value_timeout
        self._on_failure = on_failure
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        return None

    async def analyze(self, texts: Sequence[str], patterns_only: Sequence[bool]) -> list[Outcome]:
        out: list[Outcome] = []
        n = self._batch
        for i in range(0, len(texts), n):
            t, f = list(texts[i:i + n]), list(patterns_only[i:i + n])
            try:
                async with self._lock:
                    part = await asyncio.wait_for(
                        asyncio.to_thread(self._analyzer.analyze, t, f),
                        self._value_timeout * len(t))
            except TimeoutError:
                self._on_failure("timeout", len(t))
                part = [None] * len(t)
            except Exception:
                self._on_failure("error", len(t))
                part = [None] * len(t)
            out.extend(part)
        return out

    async def shutdown(self) -> None:
        return None
