"""Target tracking for SageMaker variants, as Application Auto Scaling runs it (moto stores policies only).

- ``PutScalingPolicy`` (TargetTrackingScaling) on a SageMaker variant creates the two CloudWatch alarms Application
  Auto Scaling creates and answers them in ``Alarms``: ``TargetTracking-<resource id>-AlarmHigh-<uuid>`` (above the
  target for 3 of 3 one-minute periods) and ``...-AlarmLow-<uuid>`` (below 90 % of the target for 15 of 15: scale
  in is more conservative, "usually more than 10% lower",
  https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html).
  The metric is the predefined ``SageMakerVariantInvocationsPerInstance`` (``AWS/SageMaker`` ``InvocationsPerInstance``,
  Sum, per EndpointName and VariantName) or the policy's ``CustomizedMetricSpecification``. Their action is the
  policy's ARN; replacing or deleting the policy replaces or deletes them.
- When one of them is in ALARM (each period, as CloudWatch repeats Auto Scaling actions), the policy computes the
  capacity that brings the metric to the target, ``ceil(current * metric / target)``, within the target's
  MinCapacity..MaxCapacity; AlarmHigh only scales out, AlarmLow only scales in (never with ``DisableScaleIn``).
  ``ScaleOutCooldown`` blocks another scale-out and any scale-in after a scale-out; ``ScaleInCooldown`` blocks
  another scale-in (defaults 300 s for SageMaker variants; time-scaled). Nothing scales while the endpoint is
  updating, or while the target's dynamic scaling is suspended.
- Each change is a scaling activity (``DescribeScalingActivities``): InProgress, then Successful.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from moto.applicationautoscaling import models, responses
from moto.cloudwatch.models import cloudwatch_backends

from smbundle.local import time_scale
from smbundle.local.applicationautoscaling import sagemaker_variants
from smbundle.local.cloudwatch import alarm_state

DEFAULT_COOLDOWN = 300  # seconds, for SageMaker variants
SCALE_IN_RATIO = 0.9


@dataclass
class _Cooldowns:
    last_out: float = -math.inf
    last_in: float = -math.inf


@dataclass
class _Activities:
    items: list[dict] = field(default_factory=list)
    cooldowns: dict[str, _Cooldowns] = field(default_factory=dict)


_state: dict[tuple[str, str], _Activities] = {}
_lock = threading.Lock()


def _activities(account: str, region: str) -> _Activities:
    return _state.setdefault((account, region), _Activities())


def _metric(policy) -> tuple[str, str, list[dict], str]:
    config = policy.target_tracking_scaling_policy_configuration or {}
    custom = config.get("CustomizedMetricSpecification")
    if custom:
        return (
            custom["Namespace"],
            custom["MetricName"],
            custom.get("Dimensions") or [],
            custom.get("Statistic") or "Average",
        )
    endpoint, variant = sagemaker_variants.parse(policy.resource_id)
    return (
        "AWS/SageMaker",
        "InvocationsPerInstance",
        [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
        "Sum",
    )


def create_sagemaker_alarms(policy) -> list:
    cloudwatch = cloudwatch_backends[policy.account_id][policy.region_name]
    config = policy.target_tracking_scaling_policy_configuration or {}
    target = float(config["TargetValue"])
    namespace, name, dimensions, statistic = _metric(policy)
    action = f"{policy.policy_arn}"
    description = f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {action}."
    alarms = []
    shapes = [("AlarmHigh", "GreaterThanThreshold", target, 3)]
    if not config.get("DisableScaleIn"):
        shapes.append(("AlarmLow", "LessThanThreshold", target * SCALE_IN_RATIO, 15))
    for suffix, comparison, threshold, periods in shapes:
        alarms.append(
            cloudwatch.put_metric_alarm(
                name=f"TargetTracking-{policy.resource_id}-{suffix}-{uuid.uuid4()}",
                namespace=namespace,
                metric_name=name,
                metric_data_queries=[],
                comparison_operator=comparison,
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                period=60,
                threshold=threshold,
                statistic=statistic,
                description=description,
                dimensions=dimensions,
                alarm_actions=[action],
            )
        )
    return alarms


def _find_policy(account: str, region: str, arn: str):
    backend = models.applicationautoscaling_backends[account][region]
    for policy in list(backend.policies.values()):
        if policy.policy_arn == arn:
            return backend, policy
    return backend, None


def execute(alarm, arn: str, account: str, region: str) -> str | None:
    """A target-tracking alarm in ALARM runs its policy (the alarm action handler)."""
    backend, policy = _find_policy(account, region, arn)
    if policy is None or policy.service_namespace != "sagemaker":
        return None
    target = backend.targets.get(policy.scalable_dimension, {}).get(policy.resource_id)
    if target is None:
        return None
    high = "-AlarmHigh-" in alarm.name
    suspended = target.suspended_state or {}
    if suspended.get("DynamicScalingOutSuspended" if high else "DynamicScalingInSuspended") in (True, "true"):
        return None
    config = policy.target_tracking_scaling_policy_configuration or {}
    endpoint, _ = sagemaker_variants.endpoint_variant(account, region, policy.resource_id)
    if endpoint.endpoint_status != "InService":
        return None  # an endpoint being updated is not scaled; the alarm runs the policy again next period
    current = sagemaker_variants.desired_count(account, region, policy.resource_id)
    value = _latest_value(alarm)
    if value is None:
        return None
    wanted = math.ceil(current * value / float(config["TargetValue"]))
    wanted = max(int(target.min_capacity or 0), min(int(target.max_capacity or wanted), wanted))
    if (high and wanted <= current) or (not high and (wanted >= current or config.get("DisableScaleIn"))):
        return None
    now = time.monotonic()
    with _lock:
        cooldowns = _activities(account, region).cooldowns.setdefault(policy.resource_id, _Cooldowns())
        out_cooldown = time_scale.local_seconds(int(config.get("ScaleOutCooldown", DEFAULT_COOLDOWN)))
        in_cooldown = time_scale.local_seconds(int(config.get("ScaleInCooldown", DEFAULT_COOLDOWN)))
        if now - cooldowns.last_out < out_cooldown:
            return None
        if not high and now - cooldowns.last_in < in_cooldown:
            return None
        if high:
            cooldowns.last_out = now
        else:
            cooldowns.last_in = now
    activity = {
        "ActivityId": str(uuid.uuid4()),
        "ServiceNamespace": policy.service_namespace,
        "ResourceId": policy.resource_id,
        "ScalableDimension": policy.scalable_dimension,
        "Description": f"Setting desired instance count to {wanted}.",
        "Cause": f"monitor alarm {alarm.name} in state ALARM triggered policy {policy.policy_name}",
        "StartTime": datetime.now(UTC),
        "StatusCode": "InProgress",
        "StatusMessage": "",
    }
    with _lock:
        _activities(account, region).items.append(activity)

    def done(ok: bool, message: str) -> None:
        activity.update(
            StatusCode="Successful" if ok else "Failed", StatusMessage=message, EndTime=datetime.now(UTC)
        )

    try:
        sagemaker_variants.set_desired_count(account, region, policy.resource_id, wanted, done)
    except Exception as exc:
        done(False, f"Failed to set desired instance count to {wanted}. Reason: {exc}")
        raise
    return activity["Description"]


def _latest_value(alarm) -> float | None:
    import json

    try:
        data = json.loads(alarm.state_reason_data or "{}")
    except ValueError:
        return None
    points = data.get("recentDatapoints") or []
    return float(points[-1]) if points else None


def describe_scaling_activities(self) -> str:
    import json

    self._validate_params()
    namespace = self._get_param("ServiceNamespace")
    resource_id = self._get_param("ResourceId")
    dimension = self._get_param("ScalableDimension")
    with _lock:
        items = list(_activities(self.current_account, self.region).items)
    items = [
        item
        for item in reversed(items)
        if item["ServiceNamespace"] == namespace
        and (not resource_id or item["ResourceId"] == resource_id)
        and (not dimension or item["ScalableDimension"] == dimension)
    ]
    shaped = []
    for item in items:
        entry = dict(item)
        for key in ("StartTime", "EndTime"):
            if key in entry:
                entry[key] = entry[key].timestamp()
        shaped.append(entry)
    return json.dumps({"ScalingActivities": shaped[: int(self._get_param("MaxResults") or 50)]})


def _patch_policy_alarms() -> None:
    original = models.FakeApplicationAutoscalingPolicy.create_alarms

    def create_alarms(self) -> None:
        if self.policy_type == "TargetTrackingScaling" and self.service_namespace == "sagemaker":
            self.alarms.extend(create_sagemaker_alarms(self))
            return
        original(self)

    models.FakeApplicationAutoscalingPolicy.create_alarms = create_alarms

    original_put = models.ApplicationAutoscalingBackend.put_scaling_policy

    def put_scaling_policy(
        self, policy_name, service_namespace, resource_id, scalable_dimension, *args, **kwargs
    ):
        if not self._scalable_target_exists(resource_id, scalable_dimension):
            raise models.AWSValidationException(
                f"No scalable target registered for service namespace: {service_namespace}, resource ID: "
                f"{resource_id}, scalable dimension: {scalable_dimension}"
            )
        key = models.FakeApplicationAutoscalingPolicy.formulate_key(
            service_namespace, resource_id, scalable_dimension, policy_name
        )
        old = self.policies.get(key)
        policy = original_put(
            self, policy_name, service_namespace, resource_id, scalable_dimension, *args, **kwargs
        )
        if old is not None and old is not policy:
            old.delete_alarms(self.account_id, self.region_name)  # replaced by the new policy's
        return policy

    models.ApplicationAutoscalingBackend.put_scaling_policy = put_scaling_policy


def _patch_targets() -> None:
    original_register = models.ApplicationAutoscalingBackend.register_scalable_target
    original_deregister = models.ApplicationAutoscalingBackend.deregister_scalable_target

    def register_scalable_target(
        self, namespace, r_id, dimension, min_capacity, max_capacity, role_arn, suspended_state
    ):
        if namespace == "sagemaker":
            sagemaker_variants.check_target(self.account_id, self.region_name, r_id, dimension)
            exists = self._scalable_target_exists(r_id, dimension)
            if not exists and (min_capacity is None or max_capacity is None):
                raise models.AWSValidationException(
                    "MinCapacity and MaxCapacity are required when registering a new scalable target"
                )
            low = min_capacity if min_capacity is not None else self.targets[dimension][r_id].min_capacity
            high = max_capacity if max_capacity is not None else self.targets[dimension][r_id].max_capacity
            if int(low) > int(high):
                raise models.AWSValidationException(
                    f"Minimum capacity ({low}) cannot be greater than maximum capacity ({high})"
                )
            role_arn = sagemaker_variants.ensure_service_linked_role(self.account_id)
        return original_register(
            self, namespace, r_id, dimension, min_capacity, max_capacity, role_arn, suspended_state
        )

    def deregister_scalable_target(self, namespace, r_id, dimension):
        original_deregister(self, namespace, r_id, dimension)
        for key, policy in list(self.policies.items()):  # its policies (and their alarms) go with it
            if policy.resource_id == r_id and policy.scalable_dimension == dimension:
                policy.delete_alarms(self.account_id, self.region_name)
                del self.policies[key]

    models.ApplicationAutoscalingBackend.register_scalable_target = register_scalable_target
    models.ApplicationAutoscalingBackend.deregister_scalable_target = deregister_scalable_target


def reset() -> None:
    with _lock:
        _state.clear()


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _patch_policy_alarms()
    _patch_targets()
    responses.ApplicationAutoScalingResponse.describe_scaling_activities = describe_scaling_activities
    alarm_state.register_action(
        lambda arn: ":autoscaling:" in arn and ":scalingPolicy:" in arn, execute, repeats=True
    )
    _applied = True
