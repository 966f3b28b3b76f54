"""What follows an alarm's state change, as CloudWatch does it: the state, its history, its event and its actions.

- ``StateValue``/``StateReason``/``StateReasonData``/``StateUpdatedTimestamp`` change, and a ``StateUpdate`` item
  goes to the alarm's history (``DescribeAlarmHistory``), as does an ``Action`` item per action run.
- A ``CloudWatch Alarm State Change`` event goes to the account's default EventBridge bus
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html).
- With actions enabled, the new state's actions run (AlarmActions, OKActions, InsufficientDataActions): an SNS
  topic gets the alarm's notification; an Application Auto Scaling policy ARN runs the policy (handlers register
  with :func:`register_action`). Actions run on sustained state changes only, except that Auto Scaling actions
  run again for every period the alarm stays in the state
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions.html).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from moto.cloudwatch.models import Alarm

log = logging.getLogger(__name__)

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
# (ARN prefix test, handler(alarm, action_arn, account, region) -> summary, repeats every period)
_handlers: list[tuple[Callable[[str], bool], Callable, bool]] = []
_lock = threading.RLock()


def register_action(matches: Callable[[str], bool], handler: Callable, repeats: bool = False) -> None:
    _handlers.append((matches, handler, repeats))


def history(alarm: Alarm) -> list[dict]:
    if not hasattr(alarm, "smbundle_history"):
        alarm.smbundle_history = []
    return alarm.smbundle_history


def add_history(alarm: Alarm, kind: str, summary: str, data: dict) -> None:
    history(alarm).append(
        {
            "AlarmName": alarm.name,
            "AlarmType": "CompositeAlarm" if alarm.rule else "MetricAlarm",
            "Timestamp": datetime.now(UTC),
            "HistoryItemType": kind,
            "HistorySummary": summary,
            "HistoryData": json.dumps(data, default=str),
        }
    )


def _account_region(alarm: Alarm) -> tuple[str, str]:
    parts = alarm.alarm_arn.split(":")
    return parts[4], parts[3]


def _state(value: str, reason: str, reason_data: str | None, moment: datetime) -> dict:
    state = {
        "value": value,
        "reason": reason,
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
    }
    if reason_data:
        state["reasonData"] = reason_data
    return state


def change(alarm: Alarm, value: str, reason: str, reason_data: str | None) -> bool:
    """Move the alarm to ``value``; returns whether the state changed (same state: nothing happens)."""
    with _lock:
        if alarm.state_value == value:
            return False
        old = _state(
            alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp
        )
        alarm.update_state(reason, reason_data or "{}", value)
        new = _state(value, reason, reason_data, alarm.state_updated_timestamp)
        add_history(
            alarm,
            "StateUpdate",
            f"Alarm updated from {old['value']} to {value}",
            {"version": "1.0", "oldState": old, "newState": new},
        )
    account, region = _account_region(alarm)
    _event(alarm, old, new, account, region)
    run_actions(alarm, repeating=False)
    return True


def _event(alarm: Alarm, old: dict, new: dict, account: str, region: str) -> None:
    from smbundle.local.events import bus

    metric = {
        "id": "m1",
        "metricStat": {
            "metric": {
                "namespace": alarm.namespace,
                "name": alarm.metric_name,
                "dimensions": {d.name: d.value for d in alarm.dimensions},
            },
            "period": alarm.period,
            "stat": alarm.extended_statistic or alarm.statistic,
        },
        "returnData": True,
    }
    detail = {
        "alarmName": alarm.name,
        "state": new,
        "previousState": old,
        "configuration": {"description": alarm.description, "metrics": [metric]},
    }
    try:
        bus.put(
            "aws.cloudwatch",
            "CloudWatch Alarm State Change",
            detail,
            account=account,
            region=region,
            resources=[alarm.alarm_arn],
        )
    except Exception:  # noqa: BLE001 - an event that cannot be delivered never stops the evaluation
        log.exception("the state change event of alarm %s was not delivered", alarm.name)


def _actions_for(alarm: Alarm) -> list[str]:
    return {
        "ALARM": alarm.alarm_actions,
        "OK": alarm.ok_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }.get(alarm.state_value) or []


def run_actions(alarm: Alarm, repeating: bool) -> None:
    """Run the actions of the alarm's current state (``repeating``: only those that repeat every period)."""
    if not alarm.actions_enabled:
        return
    account, region = _account_region(alarm)
    for arn in _actions_for(alarm):
        for matches, handler, repeats in _handlers:
            if not matches(arn) or (repeating and not repeats):
                continue
            try:
                summary = handler(alarm, arn, account, region)
            except Exception as exc:  # noqa: BLE001 - CloudWatch records a failed action and moves on
                log.warning("alarm %s: action %s failed: %s", alarm.name, arn, exc)
                add_history(
                    alarm,
                    "Action",
                    f"Failed to execute action {arn}",
                    {"actionState": "Failed", "error": str(exc)},
                )
                continue
            if summary:
                add_history(
                    alarm,
                    "Action",
                    f"Successfully executed action {arn}",
                    {"actionState": "Succeeded", "notificationResource": arn, "summary": summary},
                )


def _sns(alarm: Alarm, arn: str, account: str, region: str) -> str | None:
    """The alarm's notification to an SNS topic (moto's SNS stores and delivers it)."""
    from moto.sns.models import sns_backends

    message = json.dumps(
        {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": account,
            "NewStateValue": alarm.state_value,
            "NewStateReason": alarm.state_reason,
            "StateChangeTime": alarm.state_updated_timestamp.isoformat(),
            "Region": region,
            "AlarmArn": alarm.alarm_arn,
        }
    )
    topic_region = arn.split(":")[3]
    sns_backends[account][topic_region].publish(
        message, arn=arn, subject=f'ALARM: "{alarm.name}" in {region}'[:100]
    )
    return "published"


register_action(lambda arn: arn.split(":")[2:3] == ["sns"], _sns)
