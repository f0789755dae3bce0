"""The ``genai_calls`` processor: one model call counted once, however its spans are batched.

See README.md for the settings and the rule; processor.py for how it is built.
"""

from __future__ import annotations

from processors.calls.config import CallsConfig
from processors.calls.processor import CallsProcessor
from sidecar.component import Signal

TYPE = "genai_calls"
SIGNALS = frozenset({Signal.TRACES})
#: It holds copies of spans for later release: they must carry the cost and be redacted.
AFTER = frozenset({"cost", "redaction"})


def default_config() -> CallsConfig:
    """The defaults: a 30 s pairing window."""
    return CallsConfig()


def create(config: CallsConfig) -> CallsProcessor:
    """Build the processor (nothing to load)."""
    return CallsProcessor(config)
