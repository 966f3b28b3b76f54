"""For every test of the repository (tooling and both seeds), in every pytest worker and the processes it starts.

- Numerical libraries run single-threaded. ``make test`` runs two workers on two cores, and each trains and serves
  XGBoost models (in the embedded AWS's process and in the tests); with a thread per core in each, OpenMP's and
  OpenBLAS's threads spin-wait on cores the other worker needs, which cost 15 % of the suite's CPU time. Set here,
  before any test module loads numpy or XGBoost (they read these once, when loaded).
- Importing ``boto_sessions`` (before any test module imports moto) makes every botocore session of the worker share
  one loader of the service models: boto3's default session is new in every test, as moto resets it.
"""

from __future__ import annotations

import os

os.environ.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})

from smbundle.local import boto_sessions  # noqa: E402, F401
