"""The lock files (requirements/*.txt, made by `make lock`): they pin everything pyproject.toml
asks for, with hashes; the image's runtime lock agrees with the tested dev lock; and the venv the
tests run in holds exactly the dev lock's versions."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "requirements" / "requirements-dev.txt"
RUNTIME = ROOT / "requirements" / "requirements-runtime.txt"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def pins(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """Canonical name -> (version, hashes) of every requirement of a lock file."""
    out: dict[str, tuple[str, set[str]]] = {}
    current = None
    for line in path.read_text("utf-8").splitlines():
        m = _PIN.match(line)
        if m:
            current = canonicalize_name(m.group(1))
            assert current not in out, f"{path.name}: {current} pinned twice"
            out[current] = (m.group(2), set())
        for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            assert current, f"{path.name}: a hash before any requirement"
            out[current][1].add(digest)
        if line.strip() and not line.lstrip().startswith(("#", "--hash")) and not m:
            pytest.fail(f"{path.name}: a line that is neither a pin nor a hash: {line!r}")
    return {name: (version, frozenset(h)) for name, (version, h) in out.items()}


def _requirements(*extras: str) -> list[Requirement]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return [r for r in reqs if r.marker is None or r.marker.evaluate()]


@pytest.mark.parametrize(("lock", "extras"), [
    pytest.param(DEV, ("test", "dev", "e2e"), id="dev"),
    pytest.param(RUNTIME, (), id="runtime"),
])
def test_lock_satisfies_pyproject(lock: Path, extras: tuple[str, ...]) -> None:
    """Each requirement is pinned at a version its specifier allows (else: make lock)."""
    locked = pins(lock)
    for req in _requirements(*extras):
        name = canonicalize_name(req.name)
        assert name in locked, f"{lock.name} lacks {req}: run make lock"
        assert req.specifier.contains(locked[name][0], prereleases=True), (
            f"{lock.name} pins {name}=={locked[name][0]}, outside {req}: run make lock")


def test_every_pin_has_hashes() -> None:
    for lock in (DEV, RUNTIME):
        unhashed = [name for name, (_, hashes) in pins(lock).items() if not hashes]
        assert not unhashed, f"{lock.name}: pins without hashes: {unhashed}"


def test_runtime_lock_is_the_dev_lock_minus_test_tools() -> None:
    """The image ships the versions the tests ran with: every runtime pin is a dev pin."""
    dev, runtime = pins(DEV), pins(RUNTIME)
    differ = {name: (version, dev.get(name, ("missing",))[0])
              for name, (version, _) in runtime.items() if dev.get(name, ("",))[0] != version}
    assert not differ, f"runtime pins that differ from the dev lock (runtime, dev): {differ}"
    for name, (_, hashes) in runtime.items():
        assert hashes <= dev[name][1], f"{name}: runtime hashes the dev lock does not vouch for"


def test_catalog_is_pinned_exactly() -> None:
    """The price catalog is data the output depends on: one version, upgraded on purpose."""
    (req,) = [r for r in _requirements() if canonicalize_name(r.name) == "genai-prices"]
    assert len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==", req


def test_the_venv_holds_the_dev_lock() -> None:
    """`make install` installed exactly the lock: every pinned version is the installed one."""
    wrong = {}
    for name, (version, _) in pins(DEV).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"locked vs installed (rebuild the venv: make install): {wrong}"
