"""The Grafana dashboards: generated from one description, provisioning-ready, and every panel
query parses (promtool) and reads only series and labels the sidecar produces."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from tests import promtool
from tests.unit.test_alert_rules import KNOWN_LABELS

DASHBOARD_FILES = sorted(promtool.DASHBOARDS_DIR.glob("*.json"))
#: The default attribution dimensions of processors/metrics (labels the FinOps board groups by).
ATTRIBUTION_LABELS = {"team", "feature"}


def _generator():
    spec = importlib.util.spec_from_file_location(
        "dashboards_generate", promtool.DASHBOARDS_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dashboards_of_each_persona_exist() -> None:
    """Operations, FinOps, Quality & privacy, Executive and Developer are provisioned."""
    titles = {json.loads(p.read_text())["title"] for p in DASHBOARD_FILES}
    assert titles == {"GenAI / Operations", "GenAI / FinOps", "GenAI / Quality & privacy",
                      "GenAI / Executive", "GenAI / Developer"}


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in DASHBOARD_FILES])
def test_committed_json_is_what_the_generator_writes(path: Path) -> None:
    """Hand edits to the JSON would be lost: change generate.py and rerun it instead."""
    assert path.read_text("utf-8") == _generator().render(path.name)


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in DASHBOARD_FILES])
def test_dashboard_is_provisioning_ready(path: Path) -> None:
    """Unique uid, a datasource variable every query uses, panels on the 24-column grid."""
    doc = json.loads(path.read_text("utf-8"))
    assert re.fullmatch(r"[a-z0-9-]{1,40}", doc["uid"])
    assert "id" not in doc, "a provisioned dashboard must not pin a database id"
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("service", "provider", "model"):
        assert variables[name]["datasource"]["uid"] == "${datasource}"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for p in doc["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert t["expr"].strip()


def test_every_panel_query_parses(tmp_path: Path) -> None:
    """promtool parses every query once Grafana's variables are substituted."""
    queries = promtool.dashboard_queries()
    assert len(queries) >= 20
    promtool.check_exprs({f"q:{i}": q for i, (_, q) in enumerate(queries)}, tmp_path)


def test_a_broken_query_is_caught(tmp_path: Path) -> None:
    """The parse check above can fail: a bad query makes promtool refuse the file."""
    with pytest.raises(AssertionError, match="promtool check rules failed"):
        promtool.check_exprs({"q:bad": "sum by (x (rate(foo[5m]))"}, tmp_path)


def test_panel_queries_read_only_real_series_and_labels() -> None:
    """Series are PROM_* names of semconv; labels are attributes the metrics carry."""
    for where, query in promtool.dashboard_queries():
        unknown = promtool.series_read(query) - promtool.PROM_SERIES
        assert not unknown, f"{where} reads {unknown}"
        used = set()
        for group in re.findall(r"\bby\s*\(([^)]*)\)", query):
            used |= {x.strip() for x in group.split(",") if x.strip()}
        used |= set(re.findall(r"[{,]\s*([A-Za-z_]+)\s*[!=]~?", query))
        assert used <= KNOWN_LABELS | ATTRIBUTION_LABELS, f"{where}: {used}"
