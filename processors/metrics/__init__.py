"""The ``genai_metrics`` processor: GenAI metrics (OTLP) derived from LLM spans.

See README.md for the settings and the metrics; processor.py for how they are recorded.
"""

from __future__ import annotations

from processors.metrics.config import MetricsConfig
from processors.metrics.processor import MetricsProcessor
from sidecar.component import Signal

TYPE = "genai_metrics"
SIGNALS = frozenset({Signal.TRACES})
#: Processor types that must run before this one in a pipeline that has them: it reads
#: the cost results and the redaction summary of each span.
AFTER = frozenset({"cost", "redaction", "genai_calls"})


def default_config() -> MetricsConfig:
    """The defaults: export every 15 s, team and feature attribution, 2000 series per metric."""
    return MetricsConfig()


def create(config: MetricsConfig) -> MetricsProcessor:
    """Build the processor (the SDK meter provider and instruments; no thread, no I/O)."""
    return MetricsProcessor(config)
