"""Worker count: the CPUs a container may use, not the node's cores."""

from __future__ import annotations

import os

import pytest

from processors.redaction.pool import available_cpus


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        pytest.param("max 100000\n", None, id="no-quota"),
        pytest.param("50000 100000\n", 1, id="half-cpu-rounds-up-to-one"),
        pytest.param("150000 100000\n", 2, id="one-and-a-half-rounds-up"),
        pytest.param("garbage\n", None, id="unreadable-quota-ignored"),
    ],
)
def test_cgroup_quota_caps_the_affinity(tmp_path, cpu_max, expected):
    (tmp_path / "cpu.max").write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))
    assert available_cpus(str(tmp_path)) == (affinity if expected is None
                                             else min(affinity, expected))


def test_without_cgroup_file_the_affinity_counts(tmp_path):
    assert available_cpus(str(tmp_path)) == len(os.sched_getaffinity(0))
