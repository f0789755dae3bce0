"""amtool from tests: check an Alertmanager config and ask its routing tree where an alert goes.

Used by the routing tests of collector-config/alertmanager and by the chart's tests, which
check the Secret the chart renders from the same file. amtool comes from Debian's
``prometheus-alertmanager`` package (``make monitoring-tools``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.promtool import ROOT, RULES_FILE

CONFIG = ROOT / "collector-config" / "alertmanager" / "alertmanager.yaml"


def amtool() -> str:
    """The amtool executable; fails the test (never skips) when it is not installed."""
    path = shutil.which("amtool")
    if path is None:
        pytest.fail("amtool is not installed: run `make monitoring-tools` "
                    "(Debian package prometheus-alertmanager)")
    return path


def check_config(path: Path) -> None:
    """Assert that ``amtool check-config`` accepts the file."""
    proc = subprocess.run([amtool(), "check-config", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def route_of(config: Path, labels: dict[str, str]) -> str:
    """The receiver(s) amtool's routing test picks for an alert with ``labels``."""
    proc = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={config}",
         *(f"{k}={v}" for k, v in labels.items())],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def expected_receiver(labels: dict[str, str]) -> str:
    """What the routing promises: budget -> finops, critical -> pager, warning -> ops."""
    if labels.get("category") == "budget":
        return "finops"
    return {"critical": "pager", "warning": "ops"}[labels["severity"]]


def alert_labels() -> list[dict[str, str]]:
    """alertname plus the static labels of every alert of the rule file."""
    doc = yaml.safe_load(RULES_FILE.read_text("utf-8"))
    return [{"alertname": r["alert"], **r.get("labels", {})}
            for g in doc["groups"] for r in g["rules"] if "alert" in r]
