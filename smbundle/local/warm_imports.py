"""Import the libraries the embedded AWS will need for training and serving while it has nothing else to do.

The server trains the pipeline's XGBoost model and serves endpoints in its own process, and importing XGBoost,
numpy, pandas and scikit-learn takes it a couple of seconds. A CodeBuild build runs its commands in a process of
their own, so while one runs the server mostly waits: ``start()`` imports them then, once, in a background thread.
Nothing changes but when the import cost is paid (a step that needs a library still imports it, and waits for the
background import if it is under way).
"""

from __future__ import annotations

import contextlib
import importlib
import threading

LIBRARIES = ("numpy", "pandas", "xgboost", "sklearn.pipeline", "sklearn.preprocessing", "sklearn.compose")

_started = threading.Event()


def start() -> None:
    """Start the background import (once per process; later calls do nothing)."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_import_all, name="warm-imports", daemon=True).start()


def _import_all() -> None:
    for name in LIBRARIES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
