"""Assembles the runtime from a config and runs its lifecycle.

Start order: telemetry, exporter, processors (loaded in `Sidecar.__init__`, so a missing model
fails before anything binds), pipeline, receiver. Stop order is the reverse and drains: the
receiver refuses new calls and lets in-flight ones finish, processors flush derived data
through the still-open exporter, then the exporter closes.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import metadata

from sidecar.config import SidecarConfig
from sidecar.exporter import OtlpExporter
from sidecar.pipeline import Pipeline
from sidecar.server import OtlpReceiver
from sidecar.telemetry import Telemetry

log = logging.getLogger(__name__)


def version() -> str:
    """The installed distribution's version."""
    try:
        return metadata.version("genai-sidecar")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class Sidecar:
    """One running genai-sidecar: receiver -> pipeline -> exporter, plus own telemetry."""

    def __init__(self, config: SidecarConfig, telemetry: Telemetry | None = None) -> None:
        self.config = config
        self.telemetry = telemetry or Telemetry(version())
        self.exporter = OtlpExporter(config.exporter, self.telemetry)
        self.pipeline = Pipeline.from_config(config, self.exporter, self.telemetry)
        self.receiver = OtlpReceiver(config.server, self.pipeline, self.telemetry)
        self.port: int | None = None
        self.metrics_port: int | None = None
        self._started = False
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        """Start everything; returns once the OTLP port accepts calls. Idempotent."""
        if self._started:
            return
        self._started = True
        if self.config.telemetry.metrics_listen is not None:
            self.metrics_port = self.telemetry.serve(self.config.telemetry.metrics_listen)
        await self.exporter.start()
        await self.pipeline.start()
        self.port = await self.receiver.start()
        self.telemetry.ready = True
        log.info(
            "genai-sidecar started",
            extra={
                "listen_port": self.port,
                "downstream": self.config.exporter.endpoint,
                "metrics_port": self.metrics_port,
                "config": self.config.source,
                "pipelines": {s.value: list(c) for s, c in self.config.pipelines.items()},
            },
        )

    async def stop(self) -> None:
        """Drain and stop, within ``server.drain_timeout`` for in-flight requests. Idempotent."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        grace = self.config.server.drain_timeout
        log.info("genai-sidecar draining", extra={"in_flight": self.receiver.in_flight,
                                                   "grace_s": grace})
        self.telemetry.ready = False
        await self.receiver.stop(grace)
        await self.pipeline.shutdown()
        await self.exporter.shutdown(grace=1.0)
        self.telemetry.stop()
        log.info("genai-sidecar stopped")
