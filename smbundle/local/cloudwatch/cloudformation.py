"""``AWS::CloudWatch::Alarm`` on moto's CloudWatch backend (moto has no CloudFormation model for alarms).

Properties as the registry schema has them (AlarmName, AlarmDescription, ActionsEnabled, AlarmActions, OKActions,
InsufficientDataActions, Namespace, MetricName, Dimensions, Statistic, ExtendedStatistic, Period,
EvaluationPeriods, DatapointsToAlarm, Threshold, ComparisonOperator, TreatMissingData, Unit,
EvaluateLowSampleCountPercentile, Metrics, ThresholdMetricId, Tags). ``Ref`` is the alarm name, ``Fn::GetAtt Arn``
its ARN. A new AlarmName replaces the alarm; any other change is a PutMetricAlarm in place (state kept).
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-alarm.html
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
from moto.core.common_models import CloudFormationModel

from smbundle.local.cfn_support import refresh_model_map


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _integer(value: Any) -> int | None:
    return None if value is None else int(float(value))


def _queries(metrics: list[dict] | None) -> list[MetricDataQuery] | None:
    if not metrics:
        return None
    queries = []
    for item in metrics:
        stat = None
        if item.get("MetricStat"):
            source = item["MetricStat"]
            metric = Metric(
                source["Metric"].get("MetricName"),
                source["Metric"].get("Namespace"),
                [Dimension(d["Name"], d["Value"]) for d in source["Metric"].get("Dimensions") or []],
            )
            stat = MetricStat(metric, source.get("Period"), source.get("Stat"), source.get("Unit"))
        queries.append(
            MetricDataQuery(
                query_id=item["Id"],
                label=item.get("Label"),
                period=item.get("Period"),
                return_data=item.get("ReturnData"),
                expression=item.get("Expression"),
                metric_stat=stat,
            )
        )
    return queries


PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,10})?|100)$")


def check(properties: dict) -> None:
    """What PutMetricAlarm refuses in a single-metric alarm (the texts are ours: docs/local.md)."""
    if properties.get("Metrics"):
        return
    statistic, extended = properties.get("Statistic"), properties.get("ExtendedStatistic")
    if bool(statistic) == bool(extended):
        raise ValueError("a metric alarm needs exactly one of Statistic and ExtendedStatistic")
    if extended and not PERCENTILE.match(str(extended)):
        raise ValueError(f"ExtendedStatistic {extended!r} is not a percentile such as p99 or p99.9")
    period = _integer(properties.get("Period"))
    if period is None or not (period in (10, 30) or (period > 0 and period % 60 == 0)):
        raise ValueError(f"Period {period} must be 10, 30 or a multiple of 60 seconds")
    evaluation, datapoints = (
        _integer(properties.get("EvaluationPeriods")),
        _integer(properties.get("DatapointsToAlarm")),
    )
    if datapoints is not None and evaluation is not None and datapoints > evaluation:
        raise ValueError(f"DatapointsToAlarm {datapoints} must not exceed EvaluationPeriods {evaluation}")


def put(name: str, properties: dict, account_id: str, region_name: str):
    check(properties)
    backend = cloudwatch_backends[account_id][region_name]
    enabled = properties.get("ActionsEnabled", True)
    return backend.put_metric_alarm(
        name=name,
        namespace=properties.get("Namespace"),
        metric_name=properties.get("MetricName"),
        comparison_operator=properties["ComparisonOperator"],
        evaluation_periods=_integer(properties["EvaluationPeriods"]),
        period=_integer(properties.get("Period")),
        threshold=_number(properties.get("Threshold")),
        statistic=properties.get("Statistic"),
        description=properties.get("AlarmDescription"),
        dimensions=[
            {"Name": d["Name"], "Value": str(d["Value"])} for d in properties.get("Dimensions") or []
        ],
        alarm_actions=list(properties.get("AlarmActions") or []),
        metric_data_queries=_queries(properties.get("Metrics")),
        datapoints_to_alarm=_integer(properties.get("DatapointsToAlarm")),
        extended_statistic=properties.get("ExtendedStatistic"),
        ok_actions=list(properties.get("OKActions") or []),
        insufficient_data_actions=list(properties.get("InsufficientDataActions") or []),
        unit=properties.get("Unit"),
        actions_enabled=enabled if isinstance(enabled, bool) else str(enabled).lower() == "true",
        treat_missing_data=properties.get("TreatMissingData"),
        evaluate_low_sample_count_percentile=properties.get("EvaluateLowSampleCountPercentile"),
        threshold_metric_id=properties.get("ThresholdMetricId"),
        tags=properties.get("Tags"),
    )


class MetricAlarm(CloudFormationModel):
    def __init__(self, alarm, account_id: str, region_name: str):
        self.alarm, self.account_id, self.region_name = alarm, account_id, region_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @property
    def physical_resource_id(self) -> str:
        return self.alarm.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Arn":
            return self.alarm.alarm_arn
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kw
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("AlarmName") or resource_name
        return cls(put(name, properties, account_id, region_name), account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("AlarmName") or original_resource.alarm.name
        if name != original_resource.alarm.name:
            original_resource.delete(account_id, region_name)
        return cls(put(name, properties, account_id, region_name), account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.alarm.name])


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    refresh_model_map()
    _applied = True
