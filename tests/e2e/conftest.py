"""The end-to-end stack: real backends, collector and sidecar on free ports, real traffic.

One stack per session (tools/stack.sh, the same script as ``make run``) in a temporary run
directory; every address comes from a free port. Traffic (tests/e2e/traffic.py: the OpenAI SDK
with real instrumentation libraries against tests/e2e/fake_llm.py) is sent in two waves, the
second after Prometheus has scraped the first, so rate() over the series has an increase.
Readiness and arrival are awaited by polling each backend's HTTP API with a deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sidecar import semconv
from tests.e2e.fake_llm import FakeLLM
from tests.e2e.traffic import LIBRARIES
from tests.harness import ROOT, collector_bin, free_port

T = TypeVar("T")

#: Deadline for data to show up in a backend: the sidecar's metrics export period (15 s by
#: default), a scrape, Tempo's and Loki's ingestion, on a busy 2-core machine.
ARRIVAL_TIMEOUT = 240.0
POLL_INTERVAL = 0.5


def poll(fetch: Callable[[], T | None], what: str, timeout: float = ARRIVAL_TIMEOUT) -> T:
    """Call ``fetch`` until it returns something truthy; fail naming ``what`` at the deadline.

    ``fetch`` may raise AssertionError or an HTTP error while the data is not there yet; the
    last such error is shown on timeout.
    """
    end = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = fetch()
            if value:
                return value
        except (AssertionError, urllib.error.URLError, ConnectionError, KeyError) as exc:
            last = exc
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                                 + (f"; last error: {last}" if last else ""))
        time.sleep(POLL_INTERVAL)  # polling interval between tries, not a synchronisation wait


def get_json(url: str, params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> Any:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def get_text(url: str, params: dict[str, Any] | None = None) -> str:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


@dataclass
class Stack:
    """Where the private stack listens."""

    env: dict[str, str]
    run_dir: Path

    @property
    def otlp(self) -> str:
        return self.env["COLLECTOR_OTLP_GRPC_ENDPOINT"]

    @property
    def jaeger(self) -> str:
        return f"http://{self.env['JAEGER_QUERY_HTTP_ENDPOINT']}"

    @property
    def tempo(self) -> str:
        return f"http://127.0.0.1:{self.env['TEMPO_HTTP_PORT']}"

    @property
    def loki(self) -> str:
        return f"http://127.0.0.1:{self.env['LOKI_HTTP_PORT']}"

    @property
    def prometheus(self) -> str:
        return f"http://{self.env['PROMETHEUS_ENDPOINT']}"

    def promql(self, query: str) -> list[dict[str, Any]]:
        """An instant query's result vector (empty when nothing matches)."""
        body = get_json(f"{self.prometheus}/api/v1/query", {"query": query})
        assert body["status"] == "success", body
        return body["data"]["result"]


@dataclass
class Sent:
    """What the traffic app sent, per library."""

    service: str
    trace_ids: list[str] = field(default_factory=list)
    #: trace id -> the kind of call it describes (tests/e2e/traffic.py SDK_CALLS)
    calls: dict[str, str] = field(default_factory=dict)
    pii: list[str] = field(default_factory=list)


def _stack_env(run_dir: Path) -> dict[str, str]:
    def addr() -> str:
        return f"127.0.0.1:{free_port()}"

    return {
        **os.environ,
        "STACK_RUN_DIR": str(run_dir),
        "OTELCOL_BIN": collector_bin(),
        "SIDECAR_BIN": str(Path(sys.executable).with_name("genai-sidecar")),
        "COLLECTOR_OTLP_GRPC_ENDPOINT": addr(),
        "COLLECTOR_OTLP_HTTP_ENDPOINT": addr(),
        "COLLECTOR_HEALTH_ENDPOINT": addr(),
        "COLLECTOR_ENRICHED_ENDPOINT": addr(),
        "COLLECTOR_PROMETHEUS_ENDPOINT": addr(),
        "SIDECAR_ENDPOINT": addr(),
        "SIDECAR_METRICS_ENDPOINT": addr(),
        "JAEGER_OTLP_GRPC_ENDPOINT": addr(),
        "JAEGER_QUERY_HTTP_ENDPOINT": addr(),
        "JAEGER_QUERY_GRPC_ENDPOINT": addr(),
        "JAEGER_HEALTH_ENDPOINT": addr(),
        "TEMPO_HTTP_PORT": str(free_port()),
        "TEMPO_GRPC_PORT": str(free_port()),
        "TEMPO_MEMBERLIST_PORT": str(free_port()),
        "TEMPO_OTLP_GRPC_PORT": str(free_port()),
        "LOKI_HTTP_PORT": str(free_port()),
        "LOKI_GRPC_PORT": str(free_port()),
        "PROMETHEUS_ENDPOINT": addr(),
        "PROMETHEUS_SCRAPE_INTERVAL": "1s",
    }


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("stack")
    env = _stack_env(run_dir)
    script = str(ROOT / "tools" / "stack.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True,
                             timeout=900, check=False)
    if started.returncode != 0:
        pytest.fail(f"tools/stack.sh start failed ({started.returncode}):\n"
                    f"{started.stdout[-3000:]}\n{started.stderr[-6000:]}", pytrace=False)
    try:
        yield Stack(env=env, run_dir=run_dir)
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, text=True, timeout=300,
                       check=False)


def _send(stack: Stack, llm: FakeLLM, library: str, service: str, run_id: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.e2e.traffic", "--library", library, "--otlp", stack.otlp,
         "--llm", llm.base_url, "--service", service, "--run-id", run_id],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, f"traffic ({library}) failed:\n{out.stderr[-4000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def await_calls_counted(stack: Stack, expected: dict[str, int]) -> None:
    """Wait until Prometheus counts, for every service, the calls it made so far.

    The sidecar records a span's metrics when it processes the span and exports the totals
    every interval, so one export (and one scrape) may hold some services and not others:
    waiting for "any series" is not enough. One call is one trace (tests/e2e/traffic.py).
    """
    query = (f'sum by (service_name) ({semconv.PROM_REQUESTS}'
             f'{{service_name=~"{"|".join(expected)}"}})')

    def done() -> bool:
        counted = {r["metric"]["service_name"]: float(r["value"][1])
                   for r in stack.promql(query)}
        short = {service: counted.get(service, 0.0) for service, calls in expected.items()
                 if counted.get(service, 0.0) < calls}
        assert not short, f"counted so far, below the calls made: {short}"
        return True

    poll(done, f"{semconv.PROM_REQUESTS} per service >= {expected} in Prometheus")


@pytest.fixture(scope="session")
def sent(stack: Stack) -> dict[str, Sent]:
    """Two waves of traffic from every library; returns what was sent per library.

    The second wave starts only once Prometheus holds every call of the first, so each series
    (time to first chunk included, which only the manual library reports) has an increase that
    rate() and increase() can see.
    """
    run_id = uuid.uuid4().hex[:10]
    result = {lib: Sent(service=f"e2e-{lib}-{run_id}") for lib in LIBRARIES}
    with FakeLLM() as llm:
        for wave in (1, 2):
            for lib, record in result.items():
                out = _send(stack, llm, lib, record.service, run_id)
                record.trace_ids += out["trace_ids"]
                record.calls.update(out["calls"])
                record.pii = out["pii"]
            if wave == 1:
                await_calls_counted(stack, {record.service: len(record.trace_ids)
                                            for record in result.values()})
    return result
