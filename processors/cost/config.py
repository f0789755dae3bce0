"""Settings of the ``cost`` processor (``processors.cost`` in the sidecar config)."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import Field

from sidecar.config import Duration, StrictModel


class CompatKeys(enum.StrEnum):
    """Extra cost keys some backends read, written besides ours."""

    #: ``gen_ai.usage.cost`` (OpenLIT; read by Langfuse). Never overwrites one already present.
    OPENLIT = "openlit"
    #: ``llm.cost.total`` / ``llm.cost.prompt`` / ``llm.cost.completion`` (OpenInference, Arize).
    OPENINFERENCE = "openinference"


class CatalogUpdateConfig(StrictModel):
    """Refreshing the genai-prices catalog over the network. Off: the bundled snapshot only."""

    #: Fetch newer prices in a background thread (the only network access of this processor).
    enabled: bool = False
    #: How often to fetch.
    interval: Duration = Field(3600.0, ge=60)


class CostConfig(StrictModel):
    """Price LLM spans from the genai-prices catalog and user overrides."""

    #: YAML file of price overrides (see README); null for none. Read at start-up (errors stop
    #: start-up) and again when it changes (errors keep the last good file, logged + counted).
    overrides_file: Path | None = None
    #: How often the overrides file is checked for changes (mtime, size); 0 disables reloads.
    reload_interval: Duration = 10.0
    #: Compatibility keys to write as well; none by default.
    compatibility: list[CompatKeys] = Field(default_factory=list)
    #: Network refresh of the catalog (off by default).
    catalog_update: CatalogUpdateConfig = CatalogUpdateConfig()
    #: Lookup cache size (distinct provider, model, service tier); least recently added evicted.
    cache_size: int = Field(4096, ge=16, le=1_000_000)
