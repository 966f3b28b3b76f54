"""How CloudWatch decides a metric alarm's state, for moto's stored alarms (moto never evaluates them).

As documented in https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
("Evaluating an alarm", "Configuring how CloudWatch alarms treat missing data"): the alarm looks at its last
``EvaluationPeriods`` periods of ``Period`` seconds; each period's datapoint is the alarm's ``Statistic`` (SampleCount,
Sum, Average, Minimum, Maximum) or ``ExtendedStatistic`` (pNN) of the metric with exactly the alarm's dimensions;
it goes to ALARM when at least ``DatapointsToAlarm`` (default: EvaluationPeriods) of them breach the threshold by
``ComparisonOperator``. A period without a datapoint is treated per ``TreatMissingData``: ``missing`` (the default:
neither breaching nor not; all periods missing is INSUFFICIENT_DATA), ``notBreaching``, ``breaching``, or
``ignore`` (the state stays as it is). The state reason reads as CloudWatch's ("Threshold Crossed: ...").
Alarms on metric math (``Metrics``) are not evaluated locally: they keep their state (docs/local.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from moto.cloudwatch.models import Alarm, MetricAggregatedDatum, MetricDatum

from smbundle.local import time_scale

COMPARISONS = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}


SLACK = 1e-3  # seconds: datapoint timestamps keep microseconds, period boundaries are floats


@dataclass
class Verdict:
    state: str
    reason: str
    reason_data: str


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%d/%m/%y %H:%M:%S")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _matches(datum, alarm: Alarm) -> bool:
    if datum.namespace != alarm.namespace or datum.name != alarm.metric_name:
        return False
    wanted = {(d.name, d.value) for d in alarm.dimensions}
    return {(d.name, d.value) for d in datum.dimensions} == wanted and (
        not alarm.unit or datum.unit == alarm.unit
    )


def statistic(data: list, alarm: Alarm) -> float | None:
    """The alarm's statistic over one period's datapoints (None: no datapoint, or no samples for a percentile)."""
    if not data:
        return None
    if alarm.extended_statistic:
        samples: list[float] = []
        for datum in data:
            if isinstance(datum, MetricDatum):
                samples.append(datum.value)
            elif getattr(datum, "samples", None):
                samples.extend(datum.samples)
            else:
                return None  # a statistic set without its samples has no percentile
        samples.sort()
        share = float(alarm.extended_statistic.lstrip("p")) / 100
        return samples[max(math.ceil(share * len(samples)) - 1, 0)]
    count = total = 0.0
    low, high = math.inf, -math.inf
    for datum in data:
        if isinstance(datum, MetricAggregatedDatum):
            count += datum.sample_count
            total += datum.sum
            low, high = min(low, datum.min), max(high, datum.max)
        else:
            count += 1
            total += datum.value
            low, high = min(low, datum.value), max(high, datum.value)
    name = alarm.statistic or "Average"
    return {
        "SampleCount": count,
        "Sum": total,
        "Average": total / count if count else None,
        "Minimum": low,
        "Maximum": high,
    }.get(name)


def periods(alarm: Alarm, metric_data: list, end: float) -> list[tuple[float, float | None]]:
    """(start, value) of the alarm's evaluation periods ending at ``end`` (epoch seconds), oldest first."""
    length = time_scale.local_seconds(int(alarm.period or 60))
    count = int(alarm.evaluation_periods or 1)
    first = end - count * length
    buckets: list[list] = [[] for _ in range(count)]
    for datum in metric_data:
        moment = datum.timestamp.replace(tzinfo=UTC).timestamp()
        if first - SLACK <= moment < end - SLACK and _matches(datum, alarm):
            buckets[min(max(int((moment - first + SLACK) / length), 0), count - 1)].append(datum)
    return [(first + i * length, statistic(bucket, alarm)) for i, bucket in enumerate(buckets)]


def evaluate(alarm: Alarm, metric_data: list, end: float) -> Verdict | None:
    """The state the alarm should be in at ``end``; None when it cannot be evaluated here (metric math) or when
    missing data is ignored."""
    if alarm.metric_data_queries or not alarm.metric_name or alarm.comparison_operator not in COMPARISONS:
        return None
    compare, words = COMPARISONS[alarm.comparison_operator]
    threshold = float(alarm.threshold)
    values = periods(alarm, metric_data, end)
    count = len(values)
    needed = int(alarm.datapoints_to_alarm or count)
    treat = alarm.treat_missing_data or "missing"
    present = [(start, value) for start, value in values if value is not None]
    missing = count - len(present)
    breaching = [(s, v) for s, v in present if compare(v, threshold)]
    breaching_count = len(breaching) + (missing if treat == "breaching" else 0)
    data = {
        "version": "1.0",
        "queryDate": _iso(end),
        "startDate": _iso(values[0][0]),
        "period": int(alarm.period or 60),
        "recentDatapoints": [round(v, 6) for _, v in present],
        "threshold": threshold,
        "evaluatedDatapoints": [{"timestamp": _iso(s), "value": round(v, 6)} for s, v in reversed(present)],
    }
    if alarm.extended_statistic:
        data["extendedStatistic"] = alarm.extended_statistic
    else:
        data["statistic"] = alarm.statistic
    listing = ", ".join(f"{v:g} ({_stamp(s)})" for s, v in reversed(present))
    if breaching_count >= needed:
        return Verdict(
            "ALARM",
            f"Threshold Crossed: {breaching_count} out of the last {count} datapoints [{listing}] were {words} the "
            f"threshold ({threshold:g}) (minimum {needed} datapoint{'s' if needed != 1 else ''} for OK -> ALARM "
            "transition).",
            json.dumps(data),
        )
    if not present:
        if treat == "ignore":
            return None
        if treat == "missing":
            return Verdict(
                "INSUFFICIENT_DATA",
                f"Insufficient Data: {count} datapoint{'s were' if count != 1 else ' was'} unknown.",
                json.dumps(data),
            )
        return Verdict(
            "OK",
            f"Threshold Crossed: no datapoints were received for {count} period{'s' if count != 1 else ''} and "
            f"{count} missing datapoint{'s were' if count != 1 else ' was'} treated as [NonBreaching].",
            json.dumps(data),
        )
    if len(present) - len(breaching) < count - needed + 1:
        return None  # too few datapoints either way: the state stays (CloudWatch's "minimum ... for ... transition")
    return Verdict(
        "OK",
        f"Threshold Crossed: {len(present) - len(breaching)} out of the last {count} datapoints [{listing}] were "
        f"not {words} the threshold ({threshold:g}) (minimum {count - needed + 1} datapoint"
        f"{'s' if count - needed + 1 != 1 else ''} for ALARM -> OK transition).",
        json.dumps(data),
    )
