"""Fewer garbage collections for our own processes: the scripts, the embedded AWS and the test workers.

These processes keep hundreds of thousands of long-lived objects (botocore's service models, moto's backends,
CloudFormation templates, the libraries they import) and allocate many more while they work. With CPython's
default thresholds (700, 10, 10) the collector runs thousands of times and keeps re-walking everything that lives
long: in a fresh ``scripts/run_local.py`` 1.8 s of its 6.1 s of CPU went to collections, and in a test worker
running the lifecycle and update tests a quarter of its CPU. A first-generation threshold of 10,000 cuts that to
0.3 s (the run's CPU to 4.1 s). Reference counting still frees every object that is not in a cycle at once; a
cycle waits for the next collection a little longer.

Measured with ``gc.callbacks`` timing every collection (docs/local.md, "Where the time goes").
Code the embedded AWS runs on a user's behalf (build commands, processing and training scripts) runs with the
interpreter's defaults, as on AWS: the worker processes it is forked from raise the thresholds only while they import
its libraries ahead of time (0.3 s less per worker for the SageMaker SDK, scikit-learn and XGBoost).
"""

from __future__ import annotations

import contextlib
import gc

THRESHOLDS = (10_000, 10, 10)


def collect_less_often() -> None:
    """Raise the collector's thresholds for this process (idempotent)."""
    gc.set_threshold(*THRESHOLDS)


@contextlib.contextmanager
def collecting_less_often():
    """The raised thresholds for what the block does, then the previous ones again."""
    previous = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
