"""The ``cost`` processor: prices LLM spans (genai-prices catalog + user overrides).

See README.md for the settings and what is priced; processor.py for the attributes written.
"""

from __future__ import annotations

from processors.cost.config import CostConfig
from processors.cost.processor import CostProcessor
from sidecar.component import Signal

TYPE = "cost"
SIGNALS = frozenset({Signal.TRACES})


def default_config() -> CostConfig:
    """The defaults: bundled catalog, no overrides, no compatibility keys, no network."""
    return CostConfig()


def create(config: CostConfig) -> CostProcessor:
    """Build the processor; reads the overrides file now (errors stop start-up)."""
    return CostProcessor(config)
