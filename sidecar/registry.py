"""Processor type name -> factory. An explicit, literal list: no discovery, no entry points.

Each processor package exposes ``TYPE`` (its name in config files), ``SIGNALS`` (the pipelines
it may appear in), ``default_config()`` (an instance of its frozen config model) and
``create(config)`` (builds the processor, loading whatever it needs, so ``process`` never
does), and optionally ``AFTER``: the processor types that must come earlier in a pipeline
that has them (the config check rejects a chain that runs it before them). Adding a processor
means adding its package to `_PACKAGES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from pydantic import BaseModel

from sidecar.component import Processor, Signal


@dataclass(frozen=True, slots=True)
class Factory:
    """How to configure and build one processor type."""

    type: str
    signals: frozenset[Signal]
    config_type: type[BaseModel]
    default_config: Callable[[], BaseModel]
    create: Callable[[BaseModel], Processor]
    #: Types that must run before this one in any pipeline that holds them.
    after: frozenset[str] = frozenset()

    @classmethod
    def of(cls, package: ModuleType) -> Factory:
        """The factory a processor package exposes."""
        return cls(
            type=package.TYPE,
            signals=frozenset(package.SIGNALS),
            config_type=type(package.default_config()),
            default_config=package.default_config,
            create=package.create,
            after=frozenset(getattr(package, "AFTER", ())),
        )


import processors.cost  # noqa: E402 - after Factory: packages import sidecar modules
import processors.logs  # noqa: E402
import processors.metrics  # noqa: E402
import processors.redaction  # noqa: E402

_PACKAGES: tuple[ModuleType, ...] = (
    processors.cost, processors.redaction, processors.metrics, processors.logs,
)

FACTORIES: dict[str, Factory] = {f.type: f for f in map(Factory.of, _PACKAGES)}
