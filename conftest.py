"""For every test of the repository (tooling and both seeds), in every pytest worker and the processes it starts.

- Numerical libraries run single-threaded. ``make test`` runs two workers on two cores, and each trains and serves
  XGBoost models (in the embedded AWS's process and in the tests); with a thread per core in each, OpenMP's and
  OpenBLAS's threads spin-wait on cores the other worker needs: 8 to 15 % more CPU time for the suite. Set here,
  before any test module loads numpy or XGBoost (they read these once, when loaded).
- A pytest-xdist worker ends at once when its exit handlers have run (the embedded AWS's worker processes stopped,
  its files removed), skipping the interpreter's teardown of thousands of modules: 1.5 s at the end of every run.
  The results are with the controller by then. As ``smbundle.cli.exit_at_once`` does for the scripts.
- The garbage collector runs less often (``smbundle.gc_tuning``): a worker running the lifecycle tests spent a
  quarter of its CPU in collections.
- Importing ``boto_sessions`` (before any test module imports moto) makes every botocore session of the worker share
  one loader of the service models: boto3's default session is new in every test, as moto resets it.
"""

from __future__ import annotations

import atexit
import os
import sys

from smbundle import gc_tuning
from smbundle.local.forked_script import SINGLE_THREADED  # a light module

os.environ.update(SINGLE_THREADED)  # as in the local processing jobs and build commands
gc_tuning.collect_less_often()  # as in the scripts and the embedded AWS they run

from smbundle.local import boto_sessions  # noqa: E402, F401


def _exit_at_once() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if os.environ.get("PYTEST_XDIST_WORKER"):
    atexit.register(_exit_at_once)  # before the embedded AWS registers its handlers: it runs after them
