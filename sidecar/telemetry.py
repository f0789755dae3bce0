"""The sidecar's own health: Prometheus metrics on ``/metrics``, ``/healthz`` and ``/readyz``
for HTTP probes, and JSON logs.

``/healthz`` answers 200 while the process serves HTTP at all (liveness); ``/readyz`` answers
200 once the OTLP receiver accepts calls and 503 before that and while draining (readiness,
startup). They let a kubelet probe a sidecar whose OTLP port listens on loopback only.

Logs describe the sidecar (start, stop, config, downstream errors by kind), never the
telemetry passing through it: no attribute values, no bodies, no content. Per-item facts are
counted in metrics, not logged.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    make_wsgi_app,
    start_http_server,
)

from sidecar import semconv
from sidecar.config import Endpoint

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0
)


class Telemetry:
    """The sidecar's own metrics, on a registry of their own (so tests can run several)."""

    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received_items = Counter(
            semconv.OWN_RECEIVED_ITEMS, "Items (spans, log records, data points) received.",
            ["signal"], registry=r,
        )
        self.exported_items = Counter(
            semconv.OWN_EXPORTED_ITEMS, "Items accepted by the downstream.", ["signal"], registry=r
        )
        self.failed_items = Counter(
            semconv.OWN_FAILED_ITEMS,
            "Items not delivered, by reason (the client is told and may retry).",
            ["signal", "reason"], registry=r,
        )
        self.requests = Counter(
            semconv.OWN_REQUESTS, "Export requests served, by gRPC status code.",
            ["signal", "code"], registry=r,
        )
        self.request_duration = Histogram(
            semconv.OWN_REQUEST_DURATION, "Time from receiving an export request to answering it.",
            ["signal"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.in_flight = Gauge(
            semconv.OWN_IN_FLIGHT, "Export requests being processed now.", registry=r
        )
        self.refused_bytes = Counter(
            semconv.OWN_REFUSED_BYTES, "Request bytes (decompressed) refused because "
            "server.max_in_flight_mib was reached.", ["signal"], registry=r)
        self.processor_duration = Histogram(
            semconv.OWN_PROCESSOR_DURATION, "Time one processor spent on one batch.",
            ["signal", "processor"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.processor_items = Counter(
            semconv.OWN_PROCESSOR_ITEMS, "Items that went through a processor.",
            ["signal", "processor"], registry=r,
        )
        self.export_attempts = Counter(
            semconv.OWN_EXPORT_ATTEMPTS, "Downstream export attempts, by gRPC status code.",
            ["signal", "code"], registry=r,
        )
        self.derived_items = Counter(
            semconv.OWN_DERIVED_ITEMS, "Items derived by processors (log records, data points), "
            "by export outcome.", ["signal", "outcome"], registry=r,
        )
        build = Gauge(semconv.OWN_BUILD_INFO + "_info", "Build information.", ["version"],
                      registry=r)
        build.labels(version=version).set(1)
        self._http: WSGIServer | None = None
        #: The OTLP receiver accepts calls (``/readyz``); set by the app.
        self.ready = False

    def serve(self, listen: Endpoint) -> int:
        """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``listen`` in a daemon thread;
        returns the bound port."""
        if self._http is not None:
            return self._http.server_address[1]
        host, _, port = listen.rpartition(":")
        metrics = make_wsgi_app(self.registry)

        def app(environ, start_response):
            path = environ.get("PATH_INFO", "")
            if path in ("/healthz", "/readyz"):
                ok = path == "/healthz" or self.ready
                body = b"ok\n" if ok else b"not ready\n"
                start_response("200 OK" if ok else "503 Service Unavailable",
                               [("Content-Type", "text/plain"),
                                ("Content-Length", str(len(body)))])
                return [body]
            return metrics(environ, start_response)

        self._http, _thread = start_http_server(int(port), addr=host.strip("[]"),
                                                registry=self.registry)
        self._http.set_app(app)
        return self._http.server_address[1]

    def stop(self) -> None:
        """Stop the ``/metrics`` server. Idempotent."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg and the record's ``extra`` fields."""

    _RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: messages of parse errors can quote the input.
            out["exc_type"] = record.exc_info[0].__name__
        return json.dumps(out, default=str)


def configure_logging(level: str) -> None:
    """Send the ``sidecar`` and ``processors`` loggers to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("sidecar", "processors"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
