"""Typed configuration: the schema, loading, ``${env:VAR}`` substitution and error reporting.

Every error names its YAML path (``processors.redaction.entities[2]: ...``), all errors of a
file are reported at once, unknown keys are errors, and a config that does not validate stops
start-up (`ConfigError`). Defaults live in the models below and in the embedded
``default.yaml``; nothing else supplies a value.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from sidecar.component import Factory, Signal

DEFAULT_CONFIG_RESOURCE = "default.yaml"


class ConfigError(Exception):
    """The configuration is invalid. ``errors`` holds one ``path: message`` line per problem."""

    def __init__(self, errors: Sequence[str], source: str = "config") -> None:
        self.errors = list(errors)
        self.source = source
        super().__init__(f"{source}: {len(self.errors)} error(s)\n  " + "\n  ".join(self.errors))


class StrictModel(BaseModel):
    """Base of every config model: frozen, unknown keys rejected, no silent coercion of str."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


# --------------------------------------------------------------------------------------------
# Shared field types
# --------------------------------------------------------------------------------------------
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _parse_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '500ms', '10s' or '1m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"invalid duration {value!r}; use e.g. '500ms', '10s', '1m', '1h'")
        seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    else:
        raise ValueError("expected a duration such as '500ms', '10s' or '1m'")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


#: Seconds, written in YAML as ``500ms``, ``10s``, ``1m``, ``1h`` or a bare number of seconds.
Duration = Annotated[float, BeforeValidator(_parse_duration)]


def _check_endpoint(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid endpoint {value!r}; expected HOST:PORT, e.g. 127.0.0.1:14317")
    return value


#: ``HOST:PORT`` (IPv6 hosts in brackets). Port 0 asks the OS for a free port (listeners only).
Endpoint = Annotated[str, AfterValidator(_check_endpoint)]


class Compression(enum.StrEnum):
    NONE = "none"
    GZIP = "gzip"


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
class ServerConfig(StrictModel):
    """The OTLP/gRPC receiver."""

    #: Address the OTLP/gRPC server binds.
    listen: Endpoint = "127.0.0.1:14317"
    #: Largest accepted request, in MiB (a 512-span batch with 4 KB prompts is about 4.5 MB).
    max_recv_msg_size_mib: int = Field(64, ge=1, le=2047)
    #: Requests processed at once; more are refused with RESOURCE_EXHAUSTED + RetryInfo.
    max_in_flight_requests: int = Field(32, ge=1, le=100_000)
    #: Request bytes (after gzip decompression) processed at once, in MiB: a request that
    #: would go over is refused with RESOURCE_EXHAUSTED + RetryInfo (a small gzip request can
    #: inflate to the size cap; 24 of them held 1.5 GB). A request alone is always taken.
    max_in_flight_mib: int = Field(256, ge=1, le=65_536)
    #: Retry delay suggested to clients refused for load (RetryInfo).
    retry_after: Duration = 1.0
    #: Deadline assumed for a request that carries none.
    default_request_timeout: Duration = Field(30.0, gt=0)
    #: On SIGTERM, how long in-flight requests may take to finish.
    drain_timeout: Duration = 30.0


class TLSConfig(StrictModel):
    """TLS for the downstream connection; plaintext when disabled (same-pod loopback)."""

    enabled: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Expected server name when it differs from the endpoint's host.
    server_name_override: str | None = None


class RetryConfig(StrictModel):
    """Retries of retryable downstream codes, always within the caller's deadline."""

    enabled: bool = True
    initial_interval: Duration = 0.05
    max_interval: Duration = 2.0
    multiplier: float = Field(2.0, ge=1.0)
    #: Each delay is drawn uniformly from ``delay * (1 ± randomization_factor)``.
    randomization_factor: float = Field(0.5, ge=0.0, le=1.0)


class ExporterConfig(StrictModel):
    """The OTLP/gRPC client to the downstream collector receiver."""

    endpoint: Endpoint = "127.0.0.1:14318"
    tls: TLSConfig = TLSConfig()
    #: Extra gRPC metadata sent on every export (e.g. an auth header).
    headers: dict[str, str] = Field(default_factory=dict)
    compression: Compression = Compression.NONE
    #: Deadline of one export attempt; capped by the deadline of the request being served.
    timeout: Duration = Field(10.0, gt=0)
    retry: RetryConfig = RetryConfig()


class TelemetryConfig(StrictModel):
    """The sidecar's own health: Prometheus metrics and JSON logs (never telemetry content)."""

    #: Address of the Prometheus ``/metrics`` endpoint; null disables it.
    metrics_listen: Endpoint | None = "127.0.0.1:14319"
    log_level: LogLevel = LogLevel.INFO


class PipelinesConfig(StrictModel):
    """Processor chains per signal, by processor name, in order. Empty means pass-through."""

    traces: list[str] = Field(default_factory=list)
    logs: list[str] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)


class RawSidecarConfig(StrictModel):
    """The file's top level before processor configs are typed."""

    server: ServerConfig = ServerConfig()
    exporter: ExporterConfig = ExporterConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    #: ``type`` or ``type/name`` -> that processor type's settings.
    processors: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    pipelines: PipelinesConfig = PipelinesConfig()


@dataclass(frozen=True, slots=True)
class ProcessorSpec:
    """A configured processor: its name in the file, its type and its typed config."""

    name: str
    type: str
    config: BaseModel
    #: What builds it (`sidecar.registry.FACTORIES` in this distribution).
    factory: Factory


@dataclass(frozen=True, slots=True)
class SidecarConfig:
    """The validated configuration the runtime is built from."""

    server: ServerConfig
    exporter: ExporterConfig
    telemetry: TelemetryConfig
    processors: Mapping[str, ProcessorSpec]
    pipelines: Mapping[Signal, tuple[str, ...]]
    source: str


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def format_path(loc: Iterable[Any]) -> str:
    """Render a location tuple as a YAML path: ``processors.cost.overrides[2].model``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def _substitute_env(node: Any, path: tuple[Any, ...], env: Mapping[str, str], errors: list[str]):
    if isinstance(node, str):

        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            errors.append(f"{format_path(path)}: environment variable {name} is not set")
            return ""

        return _ENV_REF.sub(repl, node)
    if isinstance(node, dict):
        return {k: _substitute_env(v, (*path, k), env, errors) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_env(v, (*path, i), env, errors) for i, v in enumerate(node)]
    return node


def validation_errors(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[str]:
    """Pydantic errors as ``yaml.path: message`` lines, under ``prefix`` (for nested files)."""
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(f"{format_path((*prefix, *loc))}: {msg}")
    return out


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """Parse YAML text into the top-level mapping, raising `ConfigError` on syntax errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"<root>: invalid YAML{where}: {problem}"], source) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(["<root>: expected a mapping at the top level"], source)
    return data


def build_config(
    data: Mapping[str, Any],
    source: str = "config",
    env: Mapping[str, str] | None = None,
    *,
    factories: Mapping[str, Factory],
) -> SidecarConfig:
    """Validate a parsed config mapping into a `SidecarConfig`, against the processor types
    of ``factories`` (the distribution's, `sidecar.registry`).

    Raises:
        ConfigError: with every problem found, each naming its YAML path.
    """
    errors: list[str] = []
    data = _substitute_env(dict(data), (), os.environ if env is None else env, errors)
    try:
        raw = RawSidecarConfig.model_validate(data)
    except ValidationError as exc:
        errors.extend(validation_errors(exc, ()))
        raw = None
    # Processor settings are checked even when the top level failed: report everything at once.
    section = raw.processors if raw is not None else data.get("processors")
    specs: dict[str, ProcessorSpec] = {}
    for name, settings in (section if isinstance(section, dict) else {}).items():
        type_name = str(name).split("/", 1)[0]
        factory = factories.get(type_name)
        if factory is None:
            known = ", ".join(sorted(factories)) or "(none)"
            errors.append(
                f"processors.{name}: unknown processor type {type_name!r}; known: {known}"
            )
            continue
        try:
            cfg = factory.config_type.model_validate(settings or {})
        except ValidationError as exc:
            errors.extend(validation_errors(exc, ("processors", name)))
            continue
        specs[name] = ProcessorSpec(name=name, type=type_name, config=cfg, factory=factory)
    if raw is None:
        raise ConfigError(errors, source)

    pipelines: dict[Signal, tuple[str, ...]] = {}
    for signal in Signal:
        chain = getattr(raw.pipelines, signal.value)
        for i, pname in enumerate(chain):
            where = f"pipelines.{signal.value}[{i}]"
            if pname not in raw.processors:
                defined = ", ".join(sorted(raw.processors)) or "(none)"
                errors.append(f"{where}: processor {pname!r} is not defined; defined: {defined}")
            elif pname in specs:
                factory = specs[pname].factory
                if signal not in factory.signals:
                    allowed = ", ".join(sorted(s.value for s in factory.signals))
                    errors.append(
                        f"{where}: processor {pname!r} does not handle {signal.value}; "
                        f"it handles: {allowed}"
                    )
            if chain.count(pname) > 1 and chain.index(pname) != i:
                errors.append(f"{where}: processor {pname!r} appears twice in this pipeline")
        errors.extend(_order_errors(signal, chain, specs))
        pipelines[signal] = tuple(chain)

    if errors:
        raise ConfigError(errors, source)
    return SidecarConfig(
        server=raw.server,
        exporter=raw.exporter,
        telemetry=raw.telemetry,
        processors=specs,
        pipelines=pipelines,
        source=source,
    )


def _order_errors(signal: Signal, chain: Sequence[str],
                  specs: Mapping[str, ProcessorSpec]) -> list[str]:
    """A processor placed before one whose results it reads (its factory's ``after``)."""
    errors = []
    for i, pname in enumerate(chain):
        spec = specs.get(pname)
        if spec is None:
            continue
        for j in range(i + 1, len(chain)):
            later = specs.get(chain[j])
            if later is not None and later.type in spec.factory.after:
                errors.append(
                    f"pipelines.{signal.value}[{i}]: processor {pname!r} must come after "
                    f"{chain[j]!r} (pipelines.{signal.value}[{j}]): it reads what "
                    f"{later.type} writes"
                )
    return errors


def default_config_text() -> str:
    """The embedded default configuration (``sidecar/default.yaml``)."""
    return resources.files("sidecar").joinpath(DEFAULT_CONFIG_RESOURCE).read_text("utf-8")


def load_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    factories: Mapping[str, Factory],
) -> SidecarConfig:
    """Load and validate a config file, or the embedded default when ``path`` is None.

    ``overrides`` are dotted paths set after parsing (the CLI's ``--listen`` and
    ``--downstream``), e.g. ``{"server.listen": "127.0.0.1:0"}``.

    Raises:
        ConfigError: the file is unreadable or invalid (every error is listed).
    """
    if path is None:
        source, text = "<embedded default>", default_config_text()
    else:
        source = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ConfigError([f"<root>: cannot read file: {exc.strerror}"], source) from None
    data = parse_yaml(text, source)
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[leaf] = value
    return build_config(data, source, env, factories=factories)
