"""How fast AWS's clocks run in the embedded AWS: ``SMBUNDLE_TIME_SCALE`` (the one place that reads it).

The default, 1, keeps AWS's periods. ``N`` makes N AWS seconds pass in one local second for everything the embedded
services time by themselves: endpoint metric periods and alarm evaluation (CloudWatch), scaling cooldowns and
instance provisioning (Application Auto Scaling, SageMaker), and the bake, wait and termination intervals of an
endpoint's blue/green deployment. Metric datapoints keep real timestamps; only their periods shrink (docs/local.md).
"""

from __future__ import annotations

import math
import os

VARIABLE = "SMBUNDLE_TIME_SCALE"


class BadSetting(ValueError):
    """SMBUNDLE_TIME_SCALE is not a number of 1 or more."""


def problem(raw: str | None) -> str | None:
    """Why ``raw`` cannot be the time scale, or None when it can (unset or empty means 1)."""
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        return f"{VARIABLE}={raw!r} is not a number"
    if not math.isfinite(value) or value < 1:
        return f"{VARIABLE}={raw!r} must be a number of 1 or more (1 = AWS's periods)"
    return None


def check(environ=os.environ) -> None:
    """Raise BadSetting when the variable is set to something unusable (the commands' startup check)."""
    message = problem(environ.get(VARIABLE))
    if message:
        raise BadSetting(message)


def factor(environ=os.environ) -> float:
    """AWS seconds per local second (a bad value, refused at startup by the commands, counts as 1)."""
    raw = environ.get(VARIABLE)
    return 1.0 if problem(raw) or raw in (None, "") else float(raw)


def local_seconds(aws_seconds: float) -> float:
    """How long ``aws_seconds`` of AWS's time last here."""
    return float(aws_seconds) / factor()
