"""What SageMaker refuses in an endpoint update (UpdateEndpoint, and CloudFormation's update of an endpoint).

- An endpoint that is not InService cannot be updated ("Cannot update in-progress endpoint").
- Deployment guardrails (``DeploymentConfig``) are for instance variants only: serverless endpoints are excluded
  (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html).
- ``TrafficRoutingConfiguration``: ``CANARY`` needs ``CanarySize``, at most 50 % of the variant's instance count;
  ``LINEAR`` needs ``LinearStepSize``, 10-50 % of it; ``WaitIntervalInSeconds`` 0-3600,
  ``TerminationWaitInSeconds`` 0-3600, ``MaximumExecutionTimeoutInSeconds`` 600-28800
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html).
  A ``CAPACITY_PERCENT`` size is rounded up to whole instances before the 50 % check.
- ``AutoRollbackConfiguration.Alarms`` are read as the model's execution role, which must be allowed
  ``cloudwatch:DescribeAlarms`` on them
  (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html), and must exist.
- A variant registered with Application Auto Scaling may not change instance type or disappear; changing its model
  is allowed (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html).
"""

from __future__ import annotations

import math

from moto.sagemaker.exceptions import ValidationError

RETAINABLE = ("DesiredInstanceCount", "DesiredWeight", "DataCaptureConfig")


def check_status(endpoint) -> None:
    if endpoint.endpoint_status != "InService":
        raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')


def step_instances(size: dict, fleet: int) -> int:
    value = int(size["Value"])
    if size["Type"] == "INSTANCE_COUNT":
        return value
    return math.ceil(fleet * value / 100)


def _bounded(config: dict, key: str, low: int, high: int) -> None:
    if key in config and not low <= int(config[key]) <= high:
        raise ValidationError(
            message=f"Value '{config[key]}' at '{key[0].lower() + key[1:]}' failed to satisfy constraint: Member "
            f"must have value between {low} and {high}"
        )


def check_deployment_config(deployment: dict | None, variants: list[dict], fleet: int) -> None:
    """``variants``: the new config's; ``fleet``: the instance count the new fleet will have."""
    if not deployment:
        return
    if any(v.get("ServerlessConfig") for v in variants):
        raise ValidationError(
            message="DeploymentConfig is not supported for serverless endpoints: deployment guardrails apply to "
            "instance-based variants only."
        )
    if deployment.get("RollingUpdatePolicy"):
        raise ValidationError(message="RollingUpdatePolicy is not supported locally (docs/local.md)")
    policy = deployment.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    _bounded(routing, "WaitIntervalInSeconds", 0, 3600)
    _bounded(policy, "TerminationWaitInSeconds", 0, 3600)
    _bounded(policy, "MaximumExecutionTimeoutInSeconds", 600, 28800)
    kind = routing.get("Type")
    if kind == "CANARY":
        size = routing.get("CanarySize")
        if not size:
            raise ValidationError(message="CanarySize is required when the traffic routing type is CANARY.")
        if step_instances(size, fleet) * 2 > fleet:
            raise ValidationError(
                message=f"CanarySize ({size['Value']} {size['Type']}) must be less than or equal to 50% of the "
                f"variant's total instance count ({fleet})."
            )
    elif kind == "LINEAR":
        size = routing.get("LinearStepSize")
        if not size:
            raise ValidationError(
                message="LinearStepSize is required when the traffic routing type is LINEAR."
            )
        step = step_instances(size, fleet)
        if step * 2 > fleet or step * 10 < fleet:
            raise ValidationError(
                message=f"LinearStepSize ({size['Value']} {size['Type']}) must be 10-50% of the variant's total "
                f"instance count ({fleet})."
            )
    elif kind != "ALL_AT_ONCE":
        raise ValidationError(
            message=f"Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: "
            "[ALL_AT_ONCE, CANARY, LINEAR]"
        )


def check_alarms(deployment: dict | None, execution_role: str | None, account: str, region: str) -> list[str]:
    """The rollback alarms' names, each readable by the execution role and existing."""
    from moto.cloudwatch.models import cloudwatch_backends

    from smbundle.local.iam import enforcement
    from smbundle.local.iam.principals import PARTITION, Principal

    names = [
        a["AlarmName"]
        for a in ((deployment or {}).get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    ]
    alarms = cloudwatch_backends[account][region].alarms
    for name in names:
        arn = f"arn:{PARTITION}:cloudwatch:{region}:{account}:alarm:{name}"
        if execution_role:
            try:
                enforcement.authorize(
                    Principal(execution_role, "SageMaker"), "cloudwatch:DescribeAlarms", arn, {}, region
                )
            except enforcement.AccessDenied as denial:
                raise ValidationError(
                    message=f"SageMaker cannot read the auto-rollback alarm {name} as the execution role: {denial}"
                ) from None
        if name not in alarms:
            raise ValidationError(message=f"The auto-rollback alarm {name} does not exist.")
    return names


def check_scalable_targets(endpoint, old_config, new_config, account: str, region: str) -> None:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    targets = applicationautoscaling_backends[account][region].targets
    registered = {
        resource.split("/")[3]
        for dimension in targets.values()
        for resource in dimension
        if resource.startswith(f"endpoint/{endpoint.endpoint_name}/variant/")
    }
    old = {v["VariantName"]: v for v in old_config.production_variants} if old_config else {}
    new = {v["VariantName"]: v for v in new_config.production_variants}
    for name in sorted(registered & set(old)):
        if name not in new:
            raise ValidationError(
                message=f"The variant {name} of endpoint {endpoint.endpoint_name} is registered with Application "
                "Auto Scaling and the update would remove it: deregister the scalable target first."
            )
        if new[name].get("InstanceType") != old[name].get("InstanceType"):
            raise ValidationError(
                message=f"The variant {name} of endpoint {endpoint.endpoint_name} is registered with Application "
                f"Auto Scaling and the update would change its instance type ({old[name].get('InstanceType')} to "
                f"{new[name].get('InstanceType')}): deregister the scalable target first."
            )


def retained_variants(endpoint, new_config, retain_all: bool, excluded: list[dict] | None) -> list[dict]:
    """The endpoint's variant summaries after the update: the new config's, with the current instance count and
    weight of same-named variants kept when ``RetainAllVariantProperties`` (minus the excluded property types)."""
    variants = endpoint._process_production_variants(new_config.production_variants)
    if not retain_all:
        return variants
    dropped = {item.get("VariantPropertyType") for item in excluded or []}
    current = {v["VariantName"]: v for v in endpoint.production_variants}
    for variant in variants:
        old = current.get(variant["VariantName"])
        if old is None:
            continue
        if "DesiredInstanceCount" not in dropped and "DesiredInstanceCount" in old:
            variant["DesiredInstanceCount"] = variant["CurrentInstanceCount"] = old["DesiredInstanceCount"]
        if "DesiredWeight" not in dropped and "DesiredWeight" in old:
            variant["DesiredWeight"] = variant["CurrentWeight"] = old["DesiredWeight"]
    return variants
