"""How long a serverless cold start takes in the embedded runtime: a model from documented parameters.

SageMaker documents what a serverless cold start is made of (the serverless inference page of the developer guide:
"the duration depends on your model size, how long it takes to download your model, and the start-up time of
your container") and reports it as the ``ModelSetupTime`` metric; AWS describes its order of magnitude for small
models as "in the order of seconds" (AWS Machine Learning blog, "Introducing the Amazon SageMaker Serverless
Inference Benchmarking Toolkit", 2022-10-26). So a cold start here is

    seconds = SMBUNDLE_COLD_START_BASE_SECONDS + model artifact size / SMBUNDLE_COLD_START_DOWNLOAD_MB_PER_SECOND

with defaults 1.0 s (provisioning and start of the serving container: the low end of "the order of seconds",
as fits a model of this product's size, a model.tar.gz of about 100 KB whose download is negligible; third-party
reports for small models range from 1 to 5 s) and 50 MB/s (an assumed download rate from S3, which AWS does not
publish; it only matters for large models). ``SMBUNDLE_COLD_START_SECONDS`` replaces the whole model with a fixed
duration (``0`` disables cold starts, e.g. in tests). After ``SMBUNDLE_IDLE_SECONDS`` (default 300; AWS does not
publish how long an idle endpoint stays warm) without requests, the endpoint scales back to its provisioned
copies. Everything derived from these latencies in a local run is a local figure, not an AWS measurement.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEFAULT_BASE_SECONDS = 1.0
DEFAULT_DOWNLOAD_MB_PER_SECOND = 50.0
DEFAULT_IDLE_SECONDS = 300.0
VARIABLES = {
    "SMBUNDLE_COLD_START_SECONDS": None,
    "SMBUNDLE_COLD_START_BASE_SECONDS": DEFAULT_BASE_SECONDS,
    "SMBUNDLE_COLD_START_DOWNLOAD_MB_PER_SECOND": DEFAULT_DOWNLOAD_MB_PER_SECOND,
    "SMBUNDLE_IDLE_SECONDS": DEFAULT_IDLE_SECONDS,
}
_warned: set[tuple[str, str]] = set()


class BadSetting(ValueError):
    """A cold-start variable that is not a number of the right sign."""


def check(environ=os.environ) -> None:
    """Raise BadSetting naming the first variable that cannot be used (for the commands' argument checks)."""
    for name in VARIABLES:
        raw = environ.get(name)
        if raw in (None, ""):
            continue
        try:
            value = float(raw)
        except ValueError:
            raise BadSetting(f"{name}={raw!r} is not a number") from None
        positive = name == "SMBUNDLE_COLD_START_DOWNLOAD_MB_PER_SECOND"
        if not (value > 0 if positive else value >= 0) or value != value or value == float("inf"):
            raise BadSetting(f"{name}={raw!r} must be {'positive' if positive else 'zero or more'}")


def _number(environ, name: str) -> float | None:
    raw = environ.get(name)
    default = VARIABLES[name]
    if raw in (None, ""):
        return default
    try:
        check({name: raw})
        return float(raw)
    except BadSetting as exc:
        if (name, raw) not in _warned:
            _warned.add((name, raw))
            log.warning("%s; using the default %s", exc, default)
        return default


@dataclass(frozen=True)
class ColdStartModel:
    fixed_seconds: float | None = None
    base_seconds: float = DEFAULT_BASE_SECONDS
    download_mb_per_second: float = DEFAULT_DOWNLOAD_MB_PER_SECOND
    idle_seconds: float = DEFAULT_IDLE_SECONDS

    @classmethod
    def from_environment(cls, environ=os.environ) -> ColdStartModel:
        return cls(
            fixed_seconds=_number(environ, "SMBUNDLE_COLD_START_SECONDS"),
            base_seconds=_number(environ, "SMBUNDLE_COLD_START_BASE_SECONDS"),
            download_mb_per_second=_number(environ, "SMBUNDLE_COLD_START_DOWNLOAD_MB_PER_SECOND"),
            idle_seconds=_number(environ, "SMBUNDLE_IDLE_SECONDS"),
        )

    def seconds(self, model_bytes: int) -> float:
        """The cold start of one new copy of a model whose artifact has ``model_bytes`` bytes."""
        if self.fixed_seconds is not None:
            return self.fixed_seconds
        return self.base_seconds + model_bytes / (self.download_mb_per_second * 1_000_000)

    def describe(self, model_bytes: int | None = None) -> str:
        if self.fixed_seconds is not None:
            return f"{self.fixed_seconds:g} s fixed (SMBUNDLE_COLD_START_SECONDS)"
        if model_bytes is None:
            return (
                f"{self.base_seconds:g} s container start + the model artifact at "
                f"{self.download_mb_per_second:g} MB/s, after {self.idle_seconds:g} s idle"
            )
        return (
            f"{self.seconds(model_bytes):.3f} s = {self.base_seconds:g} s container start + "
            f"{model_bytes / 1e6:.3f} MB at {self.download_mb_per_second:g} MB/s"
        )
