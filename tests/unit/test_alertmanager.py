"""The Alertmanager routing tree (collector-config/alertmanager/alertmanager.yaml): amtool
accepts it as tools/stack.sh renders it, and every alert of the rule file reaches the receiver
its labels call for."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests import amtool
from tests.promtool import ROOT

RENDER = ROOT / "tools" / "render-config"


def rendered(tmp_path: Path, **env: str) -> Path:
    """The config as tools/stack.sh renders it (defaults, or the variables given)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALERT_")}
    out = subprocess.run([str(RENDER), str(amtool.CONFIG)], env={**clean, **env},
                         capture_output=True, text=True, check=True, timeout=60).stdout
    path = tmp_path / "alertmanager.yaml"
    path.write_text(out, "utf-8")
    return path


@pytest.mark.parametrize("env", [
    pytest.param({}, id="defaults"),
    pytest.param({"ALERT_WEBHOOK_URL": "http://127.0.0.1:1/hook", "ALERT_GROUP_WAIT": "1s",
                  "ALERT_CRITICAL_GROUP_WAIT": "1s", "ALERT_GROUP_INTERVAL": "2s"}, id="e2e"),
])
def test_amtool_accepts_the_config(env: dict[str, str], tmp_path: Path) -> None:
    """The rendered file passes ``amtool check-config``, with defaults and with overrides."""
    path = rendered(tmp_path, **env)
    amtool.check_config(path)
    assert "${" not in path.read_text("utf-8")


@pytest.mark.parametrize("labels", [pytest.param(a, id=a["alertname"])
                                    for a in amtool.alert_labels()])
def test_every_alert_reaches_its_receiver(labels: dict[str, str], tmp_path: Path) -> None:
    """Budget alerts go to FinOps, other critical ones to the pager, warnings to ops."""
    assert amtool.route_of(rendered(tmp_path), labels) == amtool.expected_receiver(labels)


def test_unlabelled_alert_falls_back_to_ops(tmp_path: Path) -> None:
    """An alert without a severity (a user's own rule, say) still reaches someone."""
    assert amtool.route_of(rendered(tmp_path), {"alertname": "SomethingElse"}) == "ops"


def test_receivers_are_exactly_pager_ops_finops(tmp_path: Path) -> None:
    doc = yaml.safe_load(rendered(tmp_path).read_text("utf-8"))
    assert sorted(r["name"] for r in doc["receivers"]) == ["finops", "ops", "pager"]
