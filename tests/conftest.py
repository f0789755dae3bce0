"""Shared pytest options and fixtures."""

from __future__ import annotations

import pytest

# One BLAS thread for in-process NER (set before anything imports numpy), as in the workers:
# sums in a fixed order, the same entities on every run.
import processors.redaction.worker_env  # noqa: F401


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden expected files from current output (those tests then fail on purpose)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
