"""The ``genai-sidecar`` command: run, check-config (and the processors' own commands).

Exit codes: 0 success; 1 runtime failure; 2 invalid configuration or usage; further codes are
documented per command.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from processors.cost.cli import add_price
from processors.redaction.cli import add_keygen, add_redact
from sidecar.app import Sidecar, version
from sidecar.config import ConfigError
from sidecar.registry import load_config
from sidecar.telemetry import configure_logging

log = logging.getLogger("sidecar.cli")

EXIT_CONFIG = 2


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    out = {}
    if getattr(args, "listen", None):
        out["server.listen"] = args.listen
    if getattr(args, "downstream", None):
        out["exporter.endpoint"] = args.downstream
    if getattr(args, "metrics_listen", None):
        out["telemetry.metrics_listen"] = args.metrics_listen
    return out


def cmd_run(args: argparse.Namespace) -> int:
    """Run the sidecar until SIGTERM or SIGINT, then drain."""
    try:
        config = load_config(args.config, _overrides(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(config.telemetry.log_level.value)
    return asyncio.run(_run(config))


#: The cyclic collector's first-generation threshold while serving (CPython's default: 700).
#: A request allocates thousands of short-lived, acyclic containers (parsed JSON messages,
#: protobuf wrappers), freed by reference counting anyway; at 700 the collector ran every few
#: spans and took about a quarter of the redaction processor's event-loop time.
GC_GEN0_THRESHOLD = 10_000


def _tune_gc() -> None:
    """Once started: what start-up built lives as long as the process and is never scanned
    again (``gc.freeze``), and the young generation is collected less often."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


async def _run(config) -> int:
    try:
        sidecar = Sidecar(config)
    except Exception as exc:
        # A processor that cannot load what it needs (a model, a price file): stop start-up.
        log.error("start-up failed", extra={"error": str(exc), "exc_type": type(exc).__name__})
        return 1
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    try:
        await sidecar.start()
    except Exception as exc:
        log.error("start-up failed", extra={"error": str(exc), "exc_type": type(exc).__name__})
        await sidecar.stop()
        return 1
    _tune_gc()
    # Machine-readable readiness line for scripts (`make run`, tests): the bound ports.
    print(
        f"genai-sidecar listening on port {sidecar.port}"
        f" (metrics on port {sidecar.metrics_port}); exporting to {config.exporter.endpoint}",
        flush=True,
    )
    await stop_requested.wait()
    await sidecar.stop()
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a config file; print every error by YAML path."""
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    chains = ", ".join(f"{s.value}: [{', '.join(c)}]" for s, c in config.pipelines.items())
    print(f"{config.source}: OK ({chains})")
    return 0


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="receive OTLP/gRPC, process, export (default config embedded)")
    p.add_argument("--config", help="YAML config file (default: the embedded default config)")
    p.add_argument("--listen", metavar="HOST:PORT", help="override server.listen")
    p.add_argument("--downstream", metavar="HOST:PORT", help="override exporter.endpoint")
    p.add_argument("--metrics-listen", metavar="HOST:PORT",
                   help="override telemetry.metrics_listen")
    p.set_defaults(func=cmd_run)


def _add_check_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-config", help="validate a config file and exit")
    p.add_argument("file", help="YAML config file")
    p.set_defaults(func=cmd_check_config)


#: Each adds one subcommand. Processor packages contribute theirs here, explicitly.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_run,
    _add_check_config,
    add_price,
    add_redact,
    add_keygen,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genai-sidecar",
        description="OTLP sidecar that prices LLM calls and redacts personal data.",
    )
    parser.add_argument("--version", action="version", version=f"genai-sidecar {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    # The processors' own commands load configs with the distribution's factories too.
    parser.set_defaults(load_config=load_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
