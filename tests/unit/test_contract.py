"""Contract tests generated from the registry: every processor package keeps the same shape."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from sidecar.component import Processor, Signal
from sidecar.config import StrictModel
from sidecar.registry import _PACKAGES, FACTORIES, load_config

ROOT = Path(__file__).resolve().parents[2]
FACTORY_PARAMS = [pytest.param(f, id=name) for name, f in sorted(FACTORIES.items())]
PACKAGE_PARAMS = [pytest.param(p, id=p.TYPE) for p in _PACKAGES]


def test_registry_names_are_unique_and_match_the_packages():
    assert len(FACTORIES) == len(_PACKAGES)
    assert sorted(FACTORIES) == sorted(p.TYPE for p in _PACKAGES)


@pytest.mark.parametrize("factory", FACTORY_PARAMS)
def test_default_config_is_strict_and_frozen(factory):
    cfg = factory.default_config()
    assert isinstance(cfg, StrictModel)
    assert factory.config_type.model_config.get("frozen") is True
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        factory.config_type.model_validate({"no_such_setting_xyz": 1})
    # The defaults are reachable from an empty mapping (what `processors: {name: }` means).
    assert factory.config_type.model_validate({}) == cfg


@pytest.mark.parametrize("factory", FACTORY_PARAMS)
def test_signals_are_known(factory):
    assert factory.signals and factory.signals <= set(Signal)


@pytest.mark.parametrize("package", PACKAGE_PARAMS)
def test_package_layout(package):
    folder = Path(package.__file__).parent
    for part in ("config.py", "processor.py", "README.md"):
        assert (folder / part).exists(), f"{folder.name}/{part} is missing"
    assert (folder / "testdata").is_dir(), f"{folder.name}/testdata is missing"
    readme = (folder / "README.md").read_text()
    cfg_fields = package.default_config().__class__.model_fields
    missing = [f for f in cfg_fields if f"`{f}`" not in readme]
    assert not missing, f"{folder.name}/README.md does not document: {missing}"


@pytest.mark.parametrize("package", PACKAGE_PARAMS)
def test_config_module_holds_the_config_model(package):
    config_module = importlib.import_module(f"{package.__name__}.config")
    model = type(package.default_config())
    assert issubclass(model, BaseModel)
    assert getattr(config_module, model.__name__) is model


def test_embedded_default_enables_every_registered_processor():
    cfg = load_config(None, env={})
    used = {cfg.processors[n].type for chain in cfg.pipelines.values() for n in chain}
    assert used == set(FACTORIES)


@pytest.mark.parametrize("factory", FACTORY_PARAMS)
def test_shutdown_without_start_is_safe_and_idempotent(factory):
    proc = factory.create(factory.default_config())
    assert isinstance(proc, Processor)

    async def twice() -> None:
        await proc.shutdown()
        await proc.shutdown()

    asyncio.run(twice())


def test_the_registry_is_the_one_composition_root():
    """sidecar.config and the pipeline know no processor package; processors never import
    the registry (the cycle config -> registry -> processors -> config is gone)."""
    import subprocess
    import sys

    code = ("import sys, sidecar.config, sidecar.pipeline, sidecar.component; "
            "print(sorted(m for m in sys.modules "
            "if m.startswith('processors') or m == 'sidecar.registry'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]", out.stdout
    root = Path(__file__).resolve().parents[2] / "processors"
    importers = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if "sidecar.registry" in p.read_text("utf-8")
                 or "from sidecar import registry" in p.read_text("utf-8")]
    assert importers == []
