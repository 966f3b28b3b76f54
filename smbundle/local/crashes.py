"""An executor bug is logged with its traceback; work cut short because its account stopped is not a bug.

Background work (pipeline executions, monitoring runs, product updates) may still be running when the embedded
AWS stops; its next request then fails to connect. That ends the work as Failed, quietly.
"""

from __future__ import annotations

import logging
import threading

_serving = threading.Event()


def set_serving(serving: bool) -> None:
    if serving:
        _serving.set()
    else:
        _serving.clear()


def report(logger: logging.Logger, message: str, *args) -> None:
    """Call from an ``except`` block: the traceback while the account serves, a debug line after it stopped."""
    if _serving.is_set():
        logger.exception(message, *args)
    else:
        logger.debug(message + " (the embedded AWS had stopped)", *args, exc_info=True)
