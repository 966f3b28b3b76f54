"""``AWS::ApplicationAutoScaling::ScalableTarget`` and ``::ScalingPolicy`` on moto's Application Auto Scaling backend
(moto has the API but no CloudFormation models). Shapes from the registry schemas cfn-lint ships:

- ScalableTarget: ServiceNamespace, ResourceId, ScalableDimension, MinCapacity, MaxCapacity, RoleARN,
  SuspendedState (ScheduledActions are not served locally: a template with them fails, saying so). ``Ref`` is
  ``<ResourceId>|<ScalableDimension>|<ServiceNamespace>`` as on AWS; ``Fn::GetAtt Id`` the same. Changing the
  namespace, resource or dimension replaces it; the rest updates in place.
- ScalingPolicy: PolicyName, PolicyType, and ScalingTargetId (a target's Ref) or ResourceId + ScalableDimension +
  ServiceNamespace; TargetTrackingScalingPolicyConfiguration or StepScalingPolicyConfiguration. ``Ref`` and
  ``Fn::GetAtt Arn`` are the policy ARN.
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.core.common_models import CloudFormationModel

from smbundle.local.cfn_support import refresh_model_map

_NUMBERS = (
    "TargetValue",
    "ScaleInCooldown",
    "ScaleOutCooldown",
    "Cooldown",
    "MinAdjustmentMagnitude",
    "ScalingAdjustment",
    "MetricIntervalLowerBound",
    "MetricIntervalUpperBound",
)
_BOOLEANS = (
    "DisableScaleIn",
    "DynamicScalingInSuspended",
    "DynamicScalingOutSuspended",
    "ScheduledScalingSuspended",
)


def typed(value: Any) -> Any:
    """Template strings to the API's numbers and booleans."""
    if isinstance(value, list):
        return [typed(v) for v in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        if key in _NUMBERS and isinstance(item, str):
            number = float(item)
            item = int(number) if number.is_integer() and key != "TargetValue" else number
        elif key in _BOOLEANS and isinstance(item, str):
            item = item.lower() == "true"
        result[key] = typed(item)
    return result


class ScalableTarget(CloudFormationModel):
    def __init__(self, target, account_id: str, region_name: str):
        self.target, self.account_id, self.region_name = target, account_id, region_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApplicationAutoScaling::ScalableTarget"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        t = self.target
        return f"{t.resource_id}|{t.scalable_dimension}|{t.service_namespace}"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Id":
            return self.physical_resource_id
        raise UnformattedGetAttTemplateException()

    @classmethod
    def _register(cls, properties: dict, account_id: str, region_name: str):
        if properties.get("ScheduledActions"):
            raise ValueError("ScheduledActions of a scalable target are not served locally")
        backend = applicationautoscaling_backends[account_id][region_name]
        return backend.register_scalable_target(
            properties["ServiceNamespace"],
            properties["ResourceId"],
            properties["ScalableDimension"],
            min_capacity=int(properties["MinCapacity"]),
            max_capacity=int(properties["MaxCapacity"]),
            role_arn=properties.get("RoleARN"),
            suspended_state=typed(properties.get("SuspendedState")),
        )

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kw
    ):
        target = cls._register(cloudformation_json["Properties"], account_id, region_name)
        return cls(target, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        properties = cloudformation_json["Properties"]
        old = original_resource.target
        if (properties["ServiceNamespace"], properties["ResourceId"], properties["ScalableDimension"]) != (
            old.service_namespace,
            old.resource_id,
            old.scalable_dimension,
        ):
            original_resource.delete(account_id, region_name)
        return cls(cls._register(properties, account_id, region_name), account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        backend = applicationautoscaling_backends[account_id][region_name]
        if backend._scalable_target_exists(properties["ResourceId"], properties["ScalableDimension"]):
            backend.deregister_scalable_target(
                properties["ServiceNamespace"], properties["ResourceId"], properties["ScalableDimension"]
            )

    def delete(self, account_id: str, region_name: str) -> None:
        backend = applicationautoscaling_backends[account_id][region_name]
        t = self.target
        if backend._scalable_target_exists(t.resource_id, t.scalable_dimension):
            backend.deregister_scalable_target(t.service_namespace, t.resource_id, t.scalable_dimension)


def _policy_target(properties: dict) -> tuple[str, str, str]:
    if properties.get("ScalingTargetId"):
        resource, dimension, namespace = str(properties["ScalingTargetId"]).split("|")
        return namespace, resource, dimension
    return properties["ServiceNamespace"], properties["ResourceId"], properties["ScalableDimension"]


class ScalingPolicy(CloudFormationModel):
    def __init__(self, policy, account_id: str, region_name: str):
        self.policy, self.account_id, self.region_name = policy, account_id, region_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApplicationAutoScaling::ScalingPolicy"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "PolicyName"

    @property
    def physical_resource_id(self) -> str:
        return self.policy.policy_arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Arn":
            return self.policy.policy_arn
        raise UnformattedGetAttTemplateException()

    @classmethod
    def _put(cls, name: str, properties: dict, account_id: str, region_name: str):
        namespace, resource, dimension = _policy_target(properties)
        kind = properties["PolicyType"]
        body = typed(
            properties.get("TargetTrackingScalingPolicyConfiguration")
            if kind == "TargetTrackingScaling"
            else properties.get("StepScalingPolicyConfiguration")
        )
        backend = applicationautoscaling_backends[account_id][region_name]
        return backend.put_scaling_policy(name, namespace, resource, dimension, body, kind)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kw
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("PolicyName") or resource_name
        return cls(cls._put(name, properties, account_id, region_name), account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("PolicyName") or original_resource.policy.policy_name
        old = original_resource.policy
        if (name, *_policy_target(properties)) != (
            old.policy_name,
            old.service_namespace,
            old.resource_id,
            old.scalable_dimension,
        ):
            original_resource.delete(account_id, region_name)
        return cls(cls._put(name, properties, account_id, region_name), account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        namespace, resource, dimension = _policy_target(properties)
        backend = applicationautoscaling_backends[account_id][region_name]
        name = properties.get("PolicyName") or resource_name
        key = f"{namespace}\t{resource}\t{dimension}\t{name}"
        if key in backend.policies:
            backend.delete_scaling_policy(name, namespace, resource, dimension)

    def delete(self, account_id: str, region_name: str) -> None:
        p = self.policy
        backend = applicationautoscaling_backends[account_id][region_name]
        key = f"{p.service_namespace}\t{p.resource_id}\t{p.scalable_dimension}\t{p.policy_name}"
        if key in backend.policies:
            backend.delete_scaling_policy(
                p.policy_name, p.service_namespace, p.resource_id, p.scalable_dimension
            )


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    refresh_model_map()
    _applied = True
