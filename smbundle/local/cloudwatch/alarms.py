"""moto's CloudWatch alarms made to behave as CloudWatch's.

- A new alarm starts ``INSUFFICIENT_DATA`` ("Unchecked: Initial alarm creation"); updating an existing alarm with
  PutMetricAlarm keeps its state and history (moto created it anew, in OK). Each is a ``ConfigurationUpdate`` in the
  alarm's history.
- ``SetAlarmState`` changes the state through the same path as an evaluation (history, event, actions), and the
  next evaluation sets it back when the data disagree, as CloudWatch does.
- ``DescribeAlarmHistory`` (moto lacks it) answers the history, newest first, filtered by type and dates.
- The evaluator thread (``evaluator``) starts with the extensions.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html
"""

from __future__ import annotations

from moto.cloudwatch import models, responses
from moto.core.responses import ActionResult

from smbundle.local.cloudwatch import alarm_state, evaluator

_applied = False


def _patch_put_metric_alarm() -> None:
    original = models.CloudWatchBackend.put_metric_alarm

    def put_metric_alarm(self, name, *args, **kwargs):
        previous = self.alarms.get(name)
        alarm = original(self, name, *args, **kwargs)
        if previous is not None:
            alarm.state_value, alarm.state_reason = previous.state_value, previous.state_reason
            alarm.state_reason_data = previous.state_reason_data
            alarm.state_updated_timestamp = previous.state_updated_timestamp
            alarm.history = previous.history
            alarm.smbundle_history = alarm_state.history(previous)
            summary = f'Alarm "{name}" updated'
        else:
            alarm.state_value = "INSUFFICIENT_DATA"
            summary = f'Alarm "{name}" created'
        alarm_state.add_history(alarm, "ConfigurationUpdate", summary, {"type": "Update", "version": "1.0"})
        return alarm

    models.CloudWatchBackend.put_metric_alarm = put_metric_alarm


def _patch_set_alarm_state() -> None:
    original = models.CloudWatchBackend.set_alarm_state

    def set_alarm_state(self, alarm_name, reason, reason_data, state_value):
        alarm = self.alarms.get(alarm_name)
        previous = None if alarm is None else alarm.state_value
        original(self, alarm_name, reason, reason_data, state_value)  # moto's checks and update
        alarm = self.alarms[alarm_name]
        if previous is not None and previous != state_value:
            current = alarm.state_value
            alarm.state_value = previous  # go through the same transition as an evaluation
            alarm.history.pop()
            alarm_state.change(alarm, current, reason, reason_data)

    models.CloudWatchBackend.set_alarm_state = set_alarm_state


def describe_alarm_history(self) -> ActionResult:
    name = self._get_param("AlarmName")
    kind = self._get_param("HistoryItemType")
    start, end = self._get_param("StartDate"), self._get_param("EndDate")
    newest_first = (self._get_param("ScanBy") or "TimestampDescending") == "TimestampDescending"
    maximum = int(self._get_param("MaxRecords") or 100)
    alarms = self.cloudwatch_backend.alarms
    items = []
    for alarm in list(alarms.values()):
        if name and alarm.name != name:
            continue
        items.extend(alarm_state.history(alarm))
    items = [
        item
        for item in items
        if (not kind or item["HistoryItemType"] == kind)
        and (start is None or item["Timestamp"] >= _aware(start))
        and (end is None or item["Timestamp"] <= _aware(end))
    ]
    items.sort(key=lambda item: item["Timestamp"], reverse=newest_first)
    return ActionResult({"AlarmHistoryItems": items[:maximum]})


def _aware(moment):
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def apply() -> None:
    global _applied
    if _applied:
        return
    _patch_put_metric_alarm()
    _patch_set_alarm_state()
    responses.CloudWatchResponse.describe_alarm_history = describe_alarm_history
    evaluator.start()
    _applied = True
