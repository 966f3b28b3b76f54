"""The embedded CloudWatch's clock: a background thread that publishes endpoint metrics and evaluates alarms.

Every metric period (60 AWS seconds, ``SMBUNDLE_TIME_SCALE`` times shorter locally) it publishes the periods that
ended (``endpoint_metrics``), then evaluates every metric alarm of every account and Region over the periods that
ended (``alarm_evaluation``), changing states and running actions (``alarm_state``); an alarm that stays in ALARM
runs its Auto Scaling actions again, as CloudWatch does each period. The thread starts with the extensions and is
a daemon: it costs a dictionary walk per tick when there are no alarms.
"""

from __future__ import annotations

import logging
import threading
import time

from moto.cloudwatch.models import cloudwatch_backends

from smbundle.local.cloudwatch import alarm_evaluation, alarm_state, endpoint_metrics

log = logging.getLogger(__name__)

_thread: threading.Thread | None = None
_wake = threading.Event()
_last_boundary = 0.0


def _backends():
    for account in list(cloudwatch_backends.keys()):
        regions = cloudwatch_backends[account]
        for region in list(regions.keys()):
            yield regions[region]


def evaluate_all(boundary: float) -> None:
    """Publish the metric periods that ended by ``boundary`` and evaluate every metric alarm up to it."""
    endpoint_metrics.flush(boundary)
    for backend in _backends():
        if not backend.alarms:
            continue
        data = list(backend.metric_data)
        for alarm in list(backend.alarms.values()):
            if alarm.rule is not None:
                continue
            try:
                verdict = alarm_evaluation.evaluate(alarm, data, boundary)
                if verdict is None:
                    continue
                if not alarm_state.change(alarm, verdict.state, verdict.reason, verdict.reason_data):
                    alarm_state.run_actions(alarm, repeating=True)
            except Exception:  # noqa: BLE001 - one bad alarm never stops the others
                log.exception("evaluating alarm %s failed", alarm.name)


def tick(now: float | None = None) -> bool:
    """Evaluate when a metric period boundary has passed since the last evaluation; returns whether it did."""
    global _last_boundary
    now = time.time() if now is None else now
    length = endpoint_metrics.period_length()
    boundary = endpoint_metrics.period_start(now, length)
    if boundary <= _last_boundary + endpoint_metrics.EPSILON:
        return False
    _last_boundary = boundary
    evaluate_all(boundary)
    return True


def _run() -> None:
    while True:
        try:
            tick()
        except Exception:  # noqa: BLE001
            log.exception("the CloudWatch evaluator failed a tick")
        _wake.wait(min(max(endpoint_metrics.period_length() / 10, 0.02), 0.5))
        _wake.clear()


def start() -> None:
    global _thread
    if _thread is None or not _thread.is_alive():
        _thread = threading.Thread(target=_run, name="cloudwatch-evaluator", daemon=True)
        _thread.start()


def wake() -> None:
    """Re-read the period now (after SMBUNDLE_TIME_SCALE changed)."""
    _wake.set()
