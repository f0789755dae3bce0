"""The command line: exit codes and messages of run / check-config / --version."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from sidecar.cli import main
from sidecar.telemetry import JsonFormatter


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("genai-sidecar ")


def test_check_config_ok(tmp_path: Path, capsys):
    f = tmp_path / "ok.yaml"
    f.write_text("server:\n  listen: 127.0.0.1:0\n")
    assert main(["check-config", str(f)]) == 0
    assert capsys.readouterr().out.startswith(f"{f}: OK (traces: [")


def test_check_config_lists_every_error_and_exits_2(tmp_path: Path, capsys):
    f = tmp_path / "bad.yaml"
    f.write_text("server:\n  listen: nope\nexporter:\n  compression: zstd\n")
    assert main(["check-config", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}: 2 error(s)" in err
    assert "server.listen: invalid endpoint 'nope'" in err
    assert "exporter.compression: Input should be 'none' or 'gzip'" in err


def test_run_refuses_an_invalid_config_before_binding(tmp_path: Path, capsys):
    f = tmp_path / "bad.yaml"
    f.write_text("pipelines:\n  traces: [ghost]\n")
    assert main(["run", "--config", str(f), "--listen", "127.0.0.1:0"]) == 2
    assert "pipelines.traces[0]: processor 'ghost' is not defined" in capsys.readouterr().err


def test_json_logs_carry_exception_type_not_its_message():
    formatter = JsonFormatter()
    try:
        raise ValueError("jane.doe@example.com leaked into an exception message")
    except ValueError:
        record = logging.getLogger("sidecar.test").makeRecord(
            "sidecar.test", logging.ERROR, __file__, 1, "processor failed", (), None,
            extra={"processor": "x"},
        )
        import sys

        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    data = json.loads(line)
    assert data["msg"] == "processor failed"
    assert data["exc_type"] == "ValueError"
    assert data["processor"] == "x"
    assert "jane.doe" not in line
