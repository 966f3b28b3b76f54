"""SageMaker endpoint invocation metrics, published to moto's CloudWatch as SageMaker publishes them.

Per variant, namespace ``AWS/SageMaker``, dimensions ``EndpointName`` and ``VariantName``, one datapoint per metric
and one-minute period with traffic (SageMaker sends endpoint invocation metrics at a 1-minute frequency and nothing
for a minute without requests: https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html):

- ``Invocations``: InvokeEndpoint requests that reached the model (Sum; SampleCount the same);
- ``InvocationsPerInstance``: each request sends 1/instance count of the fleet that served it, so the Sum is the
  invocations per instance (what target tracking's ``SageMakerVariantInvocationsPerInstance`` tracks);
- ``ModelLatency`` and ``OverheadLatency`` in microseconds: the container's time, and SageMaker's own around it;
- ``Invocation4XXErrors`` / ``Invocation5XXErrors``: 1 per request whose model answered a 4xx / 5xx status, else 0
  (the caller receives either as a ``ModelError``, HTTP 424, with the container's status in OriginalStatusCode);
- ``ModelSetupTime`` (serverless only): the cold start a request paid, in microseconds.

Requests refused before the model (throttling, payload limits, an unknown endpoint) are not model invocations and
count in none of them. Requests are counted in memory and each finished period becomes one statistic-set datapoint
(as PutMetricData's StatisticValues), so a load of thousands of requests a minute costs a few datapoints. The
latency datapoints keep their samples so alarms can evaluate percentiles (``ExtendedStatistic`` p99). A period is
60 AWS seconds, ``SMBUNDLE_TIME_SCALE`` times shorter locally; datapoints carry real timestamps.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from moto.cloudwatch.models import MetricAggregatedDatum, cloudwatch_backends

from smbundle.local import time_scale

NAMESPACE = "AWS/SageMaker"
PERIOD = 60  # AWS seconds


class SampledDatum(MetricAggregatedDatum):
    """A statistic set that also keeps its samples (for percentiles)."""

    def __init__(self, *args, samples: list[float] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.samples = samples


@dataclass
class _Period:
    start: float  # epoch seconds
    length: float  # local seconds
    invocations: int = 0
    per_instance: float = 0.0
    model_latency: list[float] = field(default_factory=list)
    overhead_latency: list[float] = field(default_factory=list)
    errors_4xx: int = 0
    errors_5xx: int = 0
    setup_time: list[float] = field(default_factory=list)


_periods: dict[tuple[str, str, str, str], _Period] = {}
_finished: list[tuple[tuple[str, str, str, str], _Period]] = []
_lock = threading.Lock()


def period_length() -> float:
    """One metric period in local seconds."""
    return time_scale.local_seconds(PERIOD)


EPSILON = 1e-6  # seconds: period boundaries are floats


def period_start(moment: float, length: float) -> float:
    return math.floor(moment / length + EPSILON) * length


def record(
    account: str,
    region: str,
    endpoint: str,
    variant: str,
    *,
    instances: int | None,
    model_seconds: float,
    overhead_seconds: float,
    status: int | None = None,
    setup_seconds: float | None = None,
) -> None:
    """One request the model answered (``status``: the container's error status, None when it succeeded)."""
    now = time.time()
    length = period_length()
    key = (account, region, endpoint, variant)
    with _lock:
        current = _periods.get(key)
        if current is None or now >= current.start + current.length:
            if current is not None:
                _finished.append((key, current))
            current = _periods[key] = _Period(period_start(now, length), length)
        current.invocations += 1
        current.per_instance += 1.0 / max(int(instances or 1), 1)
        current.model_latency.append(model_seconds * 1e6)
        current.overhead_latency.append(overhead_seconds * 1e6)
        if status is not None and 400 <= status < 500:
            current.errors_4xx += 1
        elif status is not None and status >= 500:
            current.errors_5xx += 1
        if setup_seconds:
            current.setup_time.append(setup_seconds * 1e6)


def flush(until: float | None = None) -> None:
    """Publish every period that ended by ``until`` (now by default)."""
    until = time.time() if until is None else until
    with _lock:
        ready = list(_finished)
        _finished.clear()
        for key, current in list(_periods.items()):
            if current.start + current.length <= until + EPSILON:
                ready.append((key, current))
                del _periods[key]
    for key, finished in ready:
        _publish(key, finished)


def _publish(key: tuple[str, str, str, str], period: _Period) -> None:
    account, region, endpoint, variant = key
    backend = cloudwatch_backends[account][region]
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    stamp = datetime.fromtimestamp(period.start, UTC).replace(tzinfo=None)  # moto's naive UTC
    count = period.invocations

    def put(name: str, unit: str, total: float, low: float, high: float, samples: int, values=None) -> None:
        backend.metric_data.append(
            SampledDatum(
                NAMESPACE,
                name,
                min_stat=low,
                max_stat=high,
                sample_count=samples,
                sum_stat=total,
                dimensions=dimensions,
                timestamp=stamp,
                unit=unit,
                samples=values,
            )
        )

    put("Invocations", "None", count, 1, 1, count)
    share = period.per_instance / count if count else 0.0  # 1/instances per request
    put("InvocationsPerInstance", "None", period.per_instance, share, share, count)
    for name, errors in (
        ("Invocation4XXErrors", period.errors_4xx),
        ("Invocation5XXErrors", period.errors_5xx),
    ):
        put(name, "None", errors, 1 if errors == count else 0, 1 if errors else 0, count)
    for name, values in (
        ("ModelLatency", period.model_latency),
        ("OverheadLatency", period.overhead_latency),
        ("ModelSetupTime", period.setup_time),
    ):
        if values:
            put(name, "Microseconds", sum(values), min(values), max(values), len(values), sorted(values))


def reset() -> None:
    with _lock:
        _periods.clear()
        _finished.clear()
