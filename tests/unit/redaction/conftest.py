"""Session-scoped Presidio engines: built once per test session, shared by every test."""

from __future__ import annotations

import asyncio
import threading

import pytest

from processors.redaction import RedactionConfig, create
from processors.redaction.engine import Analyzer, EngineSpec


@pytest.fixture(scope="session")
def ner_analyzer() -> Analyzer:
    return Analyzer(EngineSpec.from_config(RedactionConfig()))


@pytest.fixture(scope="session")
def patterns_analyzer() -> Analyzer:
    return Analyzer(EngineSpec.from_config(RedactionConfig(mode="patterns")))


class CountingAnalyzer:
    """Wraps an analyzer and records every text it is asked about."""

    def __init__(self, inner: Analyzer) -> None:
        self.inner = inner
        self.seen: list[str] = []

    def analyze(self, texts, flags):
        self.seen.extend(texts)
        return self.inner.analyze(texts, flags)


class RaisingAnalyzer:
    def analyze(self, texts, flags):
        raise RuntimeError("injected analyzer failure")


class BlockingAnalyzer:
    """Never answers until released (released at teardown so the thread ends)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def analyze(self, texts, flags):
        self.release.wait()
        return [[] for _ in texts]


@pytest.fixture
def blocking_analyzer():
    a = BlockingAnalyzer()
    yield a
    a.release.set()


def make(analyzer, **settings):
    """A processor over ``analyzer`` with ``settings`` as the YAML would give them."""
    return create(RedactionConfig.model_validate(settings), analyzer=analyzer)


def run(processor, signal, request):
    from sidecar.component import BatchContext

    return asyncio.run(processor.process(request, BatchContext(signal)))
