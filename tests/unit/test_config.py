"""Config loading: defaults, overrides, ${env:VAR}, and errors that name their YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.component import Signal
from sidecar.config import ConfigError, parse_yaml
from sidecar.registry import build_config, load_config


def errors_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        build_config(parse_yaml(text, "t.yaml"), "t.yaml", env or {})
    return info.value.errors


def test_embedded_default_is_valid_and_listens_where_the_design_says():
    cfg = load_config(None, env={})
    assert cfg.server.listen == "127.0.0.1:14317"
    assert cfg.exporter.endpoint == "127.0.0.1:14318"
    assert cfg.source == "<embedded default>"
    assert set(cfg.pipelines) == set(Signal)


def test_empty_file_means_all_defaults():
    cfg = build_config(parse_yaml("", "t.yaml"), "t.yaml", {})
    assert cfg.server.max_recv_msg_size_mib == 64
    assert cfg.exporter.timeout == 10.0
    assert all(chain == () for chain in cfg.pipelines.values())


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("10s", 10.0, id="seconds"),
        pytest.param("2m", 120.0, id="minutes"),
        pytest.param("1h", 3600.0, id="hours"),
        pytest.param("3", 3.0, id="bare-number"),
        pytest.param("1.5s", 1.5, id="fraction"),
    ],
)
def test_durations(text, seconds):
    cfg = build_config({"exporter": {"timeout": text}}, "t.yaml", {})
    assert cfg.exporter.timeout == seconds


def test_cli_style_overrides_win_over_the_file(tmp_path: Path):
    f = tmp_path / "c.yaml"
    f.write_text("server:\n  listen: 127.0.0.1:1000\n")
    cfg = load_config(f, {"server.listen": "127.0.0.1:0", "exporter.endpoint": "[::1]:9"}, env={})
    assert cfg.server.listen == "127.0.0.1:0"
    assert cfg.exporter.endpoint == "[::1]:9"


def test_env_substitution_with_default_and_inside_text():
    cfg = build_config(
        {"exporter": {"endpoint": "${env:HOST:-127.0.0.1}:${env:PORT}",
                      "headers": {"authorization": "Bearer ${env:TOKEN}"}}},
        "t.yaml",
        {"PORT": "4317", "TOKEN": "abc"},
    )
    assert cfg.exporter.endpoint == "127.0.0.1:4317"
    assert cfg.exporter.headers == {"authorization": "Bearer abc"}


def test_every_error_is_reported_with_its_yaml_path():
    text = """
server:
  listen: nope
  max_in_flight_requests: 0
  bogus: 1
exporter:
  timeout: 5x
  compression: brotli
  headers:
    a: ${env:MISSING_VAR}
"""
    assert errors_of(text) == [
        "exporter.headers.a: environment variable MISSING_VAR is not set",
        "server.listen: invalid endpoint 'nope'; expected HOST:PORT, e.g. 127.0.0.1:14317",
        "server.max_in_flight_requests: Input should be greater than or equal to 1",
        "server.bogus: unknown key",
        "exporter.compression: Input should be 'none' or 'gzip'",
        "exporter.timeout: invalid duration '5x'; use e.g. '500ms', '10s', '1m', '1h'",
    ]


def test_unknown_top_level_key():
    assert errors_of("recievers: {}\n") == ["recievers: unknown key"]


def test_unknown_processor_type_and_undefined_pipeline_reference():
    errs = errors_of("processors:\n  nosuch/x: {}\npipelines:\n  traces: [nosuch/x, ghost]\n")
    assert errs[0].startswith("processors.nosuch/x: unknown processor type 'nosuch'; known: ")
    assert errs[1] == "pipelines.traces[1]: processor 'ghost' is not defined; defined: nosuch/x"
    assert len(errs) == 2


def test_a_stage_before_the_one_whose_results_it_reads_is_refused():
    # Metrics before cost validated and then silently produced no cost metrics.
    text = ("processors:\n  cost: {}\n  genai_metrics: {}\n  inference_logs: {}\n"
            "  redaction/r: {}\npipelines:\n"
            "  traces: [genai_metrics, cost, inference_logs, redaction/r]\n")
    assert errors_of(text) == [
        "pipelines.traces[0]: processor 'genai_metrics' must come after 'cost' "
        "(pipelines.traces[1]): it reads what cost writes",
        "pipelines.traces[0]: processor 'genai_metrics' must come after 'redaction/r' "
        "(pipelines.traces[3]): it reads what redaction writes",
        "pipelines.traces[2]: processor 'inference_logs' must come after 'redaction/r' "
        "(pipelines.traces[3]): it reads what redaction writes",
    ]


def test_a_derived_stage_without_its_producers_is_allowed():
    text = "processors:\n  genai_metrics: {}\npipelines:\n  traces: [genai_metrics]\n"
    assert build_config(parse_yaml(text, "t.yaml"), "t.yaml", {}).pipelines


def test_invalid_yaml_names_line_and_column():
    errs = errors_of("server:\n  listen: [unclosed\n")
    assert len(errs) == 1 and errs[0].startswith("<root>: invalid YAML (line 3, column 1)")


def test_top_level_must_be_a_mapping():
    assert errors_of("- a\n- b\n") == ["<root>: expected a mapping at the top level"]


def test_unreadable_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.yaml")
    assert info.value.errors == ["<root>: cannot read file: No such file or directory"]


def test_models_are_frozen():
    cfg = load_config(None, env={})
    with pytest.raises(Exception, match="frozen"):
        cfg.server.listen = "x:1"  # type: ignore[misc]


def test_processor_errors_are_reported_together_with_top_level_errors():
    errs = errors_of("server:\n  listen: nope\nprocessors:\n  nosuch: {}\n")
    assert errs[0] == (
        "server.listen: invalid endpoint 'nope'; expected HOST:PORT, e.g. 127.0.0.1:14317"
    )
    assert errs[1].startswith("processors.nosuch: unknown processor type 'nosuch'")
