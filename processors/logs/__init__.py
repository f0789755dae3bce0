"""The ``inference_logs`` processor: one structured log record per LLM call.

See README.md for the settings and the record; processor.py for how it is built.
"""

from __future__ import annotations

from processors.logs.config import LogsConfig
from processors.logs.processor import InferenceLogsProcessor
from sidecar.component import Signal

TYPE = "inference_logs"
SIGNALS = frozenset({Signal.TRACES})
#: Processor types that must run before this one in a pipeline that has them: it reads
#: the cost results and the redaction summary of each span.
AFTER = frozenset({"cost", "redaction", "genai_calls"})


def default_config() -> LogsConfig:
    """The defaults: provider and operation on the resource, no previews."""
    return LogsConfig()


def create(config: LogsConfig) -> InferenceLogsProcessor:
    """Build the processor (nothing to load)."""
    return InferenceLogsProcessor(config)
