"""Analysis backends: worker processes (production) or in-process (CLI, tests).

`WorkerPool` runs N worker processes (forkserver or spawn; never fork, which is unsafe with
gRPC's threads). Each builds its Presidio engines once at start-up and then analyzes chunks of
texts sent over a pipe. The event loop never blocks: it waits for a worker's answer with
``loop.add_reader`` on the pipe. One chunk at a time per worker, so the per-value deadline
(``value_timeout`` x texts in the chunk) runs from the moment a worker takes the chunk.

Failure handling, all fail closed (the chunk's texts come back as None):

* the analyzer raised in the worker: the worker answers with the error and stays;
* the deadline passed: the worker is killed (it may be stuck in a regex) and replaced;
* the worker died (EOF on its pipe): it is replaced.

Threading contract: every method is called on the event loop thread. ``shutdown`` is
idempotent, safe without ``start``, and bounded (workers that do not exit are killed).
"""

from __future__ import annotations

import asyncio
import contextlib
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


class _AnalysisError(Exception):
    pass


def _worker_main(conn: Any, spec: EngineSpec) -> None:
    """Entry point of a worker process: build engines once, then serve chunks until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    # One BLAS thread per worker, set before the engines import numpy (spawn; the forkserver
    # imported it first already). Not imported by the parent: its environment stays as is.
    import processors.redaction.worker_env  # noqa: F401
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


class _Worker:
    def __init__(self, ctx: Any, spec: EngineSpec) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn = parent
        self.process = ctx.Process(target=_worker_main, args=(child, spec),
                                   name="genai-sidecar-redaction", daemon=True)
        self.process.start()
        child.close()  # so EOF reaches us when the worker dies
        self.pid = self.process.pid

    async def receive(self, timeout: float) -> tuple[str, Any]:
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

    async def call(self, texts: list[str], flags: list[bool], timeout: float) -> list[Outcome]:
        try:
            self.conn.send((texts, flags))
        except (OSError, ValueError) as exc:
            raise _WorkerGone(str(exc)) from None
        kind, payload = await self.receive(timeout)
        if kind == "error":
            raise _AnalysisError(payload)
        return payload

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
        self._idle: asyncio.Queue[_Worker] | None = None
        self._spawning: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False

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
        self._idle = asyncio.Queue()
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
        assert self._idle is not None
        self._idle.put_nowait(worker)

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        self._workers.discard(worker)
        # Reap in a thread so no zombie is left and the loop does not wait.
        asyncio.get_running_loop().run_in_executor(None, worker.process.join, 1.0)

    def _replace(self, worker: _Worker) -> None:
        self._discard(worker)
        if self._closed:
            return
        self._on_restart()
        task = asyncio.get_running_loop().create_task(self._respawn())
        self._spawning.add(task)
        task.add_done_callback(self._spawning.discard)

    async def _respawn(self) -> None:
        try:
            await self._spawn()
        except WorkerStartError:
            log.error("redaction worker restart failed; pool has %d workers", len(self._workers))

    async def restarts_settled(self) -> None:
        """Wait until every pending worker replacement is ready (or has failed)."""
        while self._spawning:
            await asyncio.gather(*self._spawning, return_exceptions=True)

    async def analyze(self, texts: Sequence[str], patterns_only: Sequence[bool]) -> list[Outcome]:
        """Outcomes for ``texts``, chunked over the workers; failures come back as None."""
        if not texts:
            return []
        if not self._started or self._closed:
            self._on_failure("not_running", len(texts))
            return [None] * len(texts)
        n = self._batch
        chunks = [(list(texts[i:i + n]), list(patterns_only[i:i + n]))
                  for i in range(0, len(texts), n)]
        parts = await asyncio.gather(*(self._run_chunk(t, f) for t, f in chunks))
        return [o for part in parts for o in part]

    async def _run_chunk(self, texts: list[str], flags: list[bool]) -> list[Outcome]:
        assert self._idle is not None
        if not self._workers and not self._spawning:
            self._on_failure("no_workers", len(texts))
            return [None] * len(texts)
        try:
            worker = await asyncio.wait_for(self._idle.get(), self._startup_timeout)
        except TimeoutError:
            self._on_failure("no_workers", len(texts))
            return [None] * len(texts)
        deadline = self._value_timeout * len(texts)
        try:
            result = await worker.call(texts, flags, deadline)
        except _AnalysisError:
            self._idle.put_nowait(worker)
            self._on_failure("error", len(texts))
            return [None] * len(texts)
        except TimeoutError:
            self._replace(worker)
            self._on_failure("timeout", len(texts))
            return [None] * len(texts)
        except _WorkerGone:
            self._replace(worker)
            self._on_failure("worker_crash", len(texts))
            return [None] * len(texts)
        except asyncio.CancelledError:
            # The answer would arrive out of order for the next caller: retire the worker.
            self._replace(worker)
            raise
        self._idle.put_nowait(worker)
        return result

    async def shutdown(self) -> None:
        """Stop every worker: ask, wait briefly (in a thread), then kill. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._spawning):
            task.cancel()
        workers = list(self._workers)
        self._workers.clear()
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
