"""The composition root: processor type name -> factory, and config loading with them.

An explicit, literal list: no discovery, no entry points. Nothing else imports the processor
packages to find them: `sidecar.config` validates against the factories it is given, the
pipeline builds each processor from its spec's factory, and the CLI passes `load_config`
(bound to these factories) to the processors' own commands.

Each processor package exposes ``TYPE`` (its name in config files), ``SIGNALS`` (the pipelines
it may appear in), ``default_config()`` (an instance of its frozen config model) and
``create(config)`` (builds the processor, loading whatever it needs, so ``process`` never
does), and optionally ``AFTER``: the processor types that must come earlier in a pipeline
that has them (the config check rejects a chain that runs it before them). Adding a processor
means adding its package to `_PACKAGES`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from sidecar import config as _config
from sidecar.component import Factory

__all__ = ["FACTORIES", "Factory", "build_config", "load_config"]


import processors.calls
import processors.cost
import processors.logs
import processors.metrics
import processors.redaction

_PACKAGES: tuple[ModuleType, ...] = (
    processors.cost, processors.redaction, processors.calls, processors.metrics,
    processors.logs,
)

FACTORIES: dict[str, Factory] = {f.type: f for f in map(Factory.of, _PACKAGES)}


def build_config(data: Mapping[str, Any], source: str = "config",
                 env: Mapping[str, str] | None = None) -> _config.SidecarConfig:
    """`sidecar.config.build_config` with the processors of this distribution."""
    return _config.build_config(data, source, env, factories=FACTORIES)


def load_config(path: str | os.PathLike[str] | None = None,
                overrides: Mapping[str, Any] | None = None,
                env: Mapping[str, str] | None = None) -> _config.SidecarConfig:
    """`sidecar.config.load_config` with the processors of this distribution."""
    return _config.load_config(path, overrides, env, factories=FACTORIES)
