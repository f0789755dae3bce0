"""Redaction processor: PII in GenAI content (traces and logs) found with Presidio and replaced.

``create(config)`` prepares everything the hot path needs: it checks the pinned spaCy model
(NER mode; start-up fails if it is missing or altered), reads the pseudonym key, compiles the
content-key matcher and operators, and sets up the worker pool, which builds the Presidio
engines once per worker when the processor starts. See README.md for the configuration.
"""

from __future__ import annotations

import hashlib

from processors.redaction.config import Mode, RedactionConfig
from processors.redaction.engine import Analyzer, EngineSpec, verify_model
from processors.redaction.operators import Operators, load_key
from processors.redaction.pool import Backend, InlineBackend, WorkerPool
from processors.redaction.processor import RedactionProcessor, RedactionStats
from sidecar.component import Signal

TYPE = "redaction"
SIGNALS = frozenset({Signal.TRACES, Signal.LOGS})

__all__ = ["SIGNALS", "TYPE", "Analyzer", "EngineSpec", "RedactionConfig", "RedactionProcessor",
           "create", "default_config"]


def default_config() -> RedactionConfig:
    return RedactionConfig()


def create(config: RedactionConfig, *, analyzer: Analyzer | None = None,
           backend: Backend | None = None) -> RedactionProcessor:
    """Build the processor.

    Args:
        config: the validated config.
        analyzer: analyze in this process with these engines instead of worker processes
            (the CLI and tests, which share one per session).
        backend: a ready backend (tests); overrides ``analyzer``.

    Raises:
        processors.redaction.engine.ModelError: NER mode and the pinned model is missing.
        processors.redaction.operators.KeyError_: the pseudonym key cannot be read.
    """
    if config.mode is Mode.NER:
        verify_model(config.model)
    key = load_key(config)
    spec = EngineSpec.from_config(config)
    stats = RedactionStats()
    if backend is None:
        if analyzer is not None:
            backend = InlineBackend(analyzer, config.workers.batch_size,
                                    config.limits.value_timeout, on_failure=stats.failure)
        else:
            backend = WorkerPool(
                spec, config.workers.count, config.workers.start_method.value,
                config.workers.batch_size, config.limits.value_timeout,
                config.workers.startup_timeout,
                on_restart=stats.restarts.inc, on_failure=stats.failure)
    key_id = key[1] if key else None
    ops = Operators(config, key[0] if key else None)
    fingerprint = hashlib.sha256(
        (spec.fingerprint() + config.default_operator.model_dump_json()
         + str(sorted((k, v.model_dump_json()) for k, v in config.operators.items()))
         + (hashlib.sha256(key[0]).hexdigest() if key else "")).encode()).hexdigest()[:16]
    return RedactionProcessor(config, backend, ops, fingerprint, key_id, stats)
