"""One BLAS / OpenMP thread per redaction worker.

The pool already runs one worker process per usable CPU; a BLAS library that also starts a
thread per core in every worker oversubscribes the CPUs (OpenBLAS threads spin while they
wait). Imported first by the forkserver, before numpy is loaded, and by `Analyzer` when
numpy is not loaded yet (spawned workers, the CLI, the evaluation). A value set by the
operator is kept.
"""

from __future__ import annotations

import os

VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def apply() -> None:
    for name in VARIABLES:
        os.environ.setdefault(name, "1")


apply()
