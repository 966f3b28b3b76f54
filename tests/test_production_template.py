"""Prod's autoscaling, blue/green rollout and rollback alarms: the endpoint template's shape per stage and
settings, the product's refusals under the SageMaker-managed roles, and what the new resources ask of the roles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moto.cloudformation.exceptions import ValidationError as RESTError

from smbundle import resource_permissions, templates
from smbundle.local.cloudformation import validation
from smbundle.project_updates import Rollout, RolloutOptions
from smbundle.resource_permissions import CREATE, UPDATE, Where
from smbundle.template_resolution import resolve

REPO = Path(__file__).resolve().parents[1]
ENDPOINT = templates.load(REPO / "seed_code" / "deploy" / "endpoint-config-template.yml")
PRODUCT = templates.load(REPO / "service_catalog" / "product.yaml")
AT = Where("us-east-1", "123456789012")
BASE = {
    "SageMakerProjectName": "demo",
    "ModelExecutionRoleArn": "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
    "ModelPackageName": "arn:aws:sagemaker:us-east-1:123456789012:model-package/demo-p-1/1",
}
SCALED = {"EndpointInstanceCount": "2", "MaxInstanceCount": "6", "TargetInvocationsPerInstance": "120"}
GUARDED = {"AlarmRollback": "true", "LatencyP99ThresholdMs": "250", "DeploymentStrategy": "canary"}


def resources(stage: str, **parameters) -> dict:
    resolver = resolve(
        ENDPOINT,
        {**BASE, "StageName": stage, **parameters},
        region=AT.region,
        account=AT.account,
        stack_name=f"sagemaker-demo-p-1-deploy-{stage}",
    )
    return {r.logical_id: r for r in resolver.resources()}


def test_the_default_prod_has_no_scaling_no_alarms_and_updates_all_at_once():
    prod = resources("prod")
    assert not {"ScalableTarget", "InvocationsScalingPolicy", "Invocation5XXErrorsAlarm"} & set(prod)
    endpoint = prod["Endpoint"].properties
    assert endpoint["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": "600"},
            "TerminationWaitInSeconds": 0,
        }
    }
    assert "RetainAllVariantProperties" not in endpoint  # a changed instance count applies


def test_autoscaled_prod_registers_its_variant_and_tracks_invocations_per_instance():
    prod = resources("prod", **SCALED)
    target = prod["ScalableTarget"].properties
    assert target == {
        "ServiceNamespace": "sagemaker",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "ResourceId": "endpoint/demo-prod/variant/AllTraffic",
        "MinCapacity": "2",
        "MaxCapacity": "6",
    }
    policy = prod["InvocationsScalingPolicy"].properties
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert (tracking["TargetValue"], tracking["ScaleOutCooldown"], tracking["ScaleInCooldown"]) == (
        "120",
        300,
        600,
    )
    endpoint = prod["Endpoint"].properties
    # an update keeps the instance count autoscaling set; the new config's weight and data capture apply
    assert endpoint["RetainAllVariantProperties"] is True
    assert endpoint["ExcludeRetainedVariantProperties"] == [
        {"VariantPropertyType": "DesiredWeight"},
        {"VariantPropertyType": "DataCaptureConfig"},
    ]


def test_alarm_rollback_creates_the_two_alarms_and_the_canary_watches_them():
    prod = resources("prod", **SCALED, **GUARDED)
    errors = prod["Invocation5XXErrorsAlarm"].properties
    latency = prod["ModelLatencyP99Alarm"].properties
    dimensions = [
        {"Name": "EndpointName", "Value": "demo-prod"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert errors["Dimensions"] == latency["Dimensions"] == dimensions
    assert (errors["Namespace"], errors["MetricName"], errors["Statistic"]) == (
        "AWS/SageMaker",
        "Invocation5XXErrors",
        "Sum",
    )
    assert (errors["Threshold"], errors["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("ModelLatency", "p99")
    assert float(latency["Threshold"]) == 250_000  # ModelLatency is in microseconds
    for alarm in (errors, latency):
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (60, 3, 2)
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmName"].startswith("sagemaker-demo-prod-")
    config = prod["Endpoint"].properties["DeploymentConfig"]
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": "25"},
        "WaitIntervalInSeconds": "600",
    }
    assert {a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]} == {
        errors["AlarmName"],
        latency["AlarmName"],
    }


def test_linear_shifts_in_steps():
    prod = resources("prod", EndpointInstanceCount="4", DeploymentStrategy="linear", LinearStepPercent="50")
    routing = prod["Endpoint"].properties["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing["Type"] == "LINEAR" and routing["LinearStepSize"] == {
        "Type": "CAPACITY_PERCENT",
        "Value": "50",
    }


def test_staging_stays_serverless_without_guardrails():
    staging = resources("staging")
    assert not {"ScalableTarget", "InvocationsScalingPolicy", "ModelLatencyP99Alarm"} & set(staging)
    endpoint = staging["Endpoint"].properties
    assert not {"DeploymentConfig", "RetainAllVariantProperties"} & set(endpoint)


def test_the_model_and_config_an_update_replaces_are_kept_for_a_rollback():
    for logical_id in ("Model", "EndpointConfig"):
        assert ENDPOINT["Resources"][logical_id]["UpdateReplacePolicy"] == "Retain"


def endpoint_rules(**parameters):
    validation.validate(ENDPOINT, {**BASE, **parameters})


def test_the_endpoint_template_refuses_a_canary_on_one_instance_and_rollout_settings_on_staging():
    endpoint_rules(StageName="prod", DeploymentStrategy="canary", EndpointInstanceCount="2")
    endpoint_rules(StageName="prod", DeploymentStrategy="all-at-once")
    with pytest.raises(RESTError, match="at most half of the fleet"):
        endpoint_rules(StageName="prod", DeploymentStrategy="canary")
    with pytest.raises(RESTError, match="serverless endpoints have no\\s+deployment guardrails"):
        endpoint_rules(StageName="staging", AlarmRollback="true")


PROJECT = {"SageMakerProjectName": "demo", "SageMakerProjectId": "p-abc123"}
CUSTOM = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsCustom"


def product_rules(**parameters):
    validation.validate(PRODUCT, {**PROJECT, **parameters})


@pytest.mark.parametrize(
    ("parameters", "missing"),
    [
        ({"ProdMaxInstanceCount": "3"}, "application-autoscaling:RegisterScalableTarget"),
        (
            {"ProdMinInstanceCount": "2", "ProdMaxInstanceCount": "4"},
            "application-autoscaling:RegisterScalableTarget",
        ),
        ({"ProdAlarmRollback": "true"}, "cloudwatch:PutMetricAlarm"),
    ],
)
def test_the_product_refuses_autoscaling_and_alarm_rollback_under_the_managed_roles(parameters, missing):
    with pytest.raises(RESTError) as refused:
        product_rules(**parameters)
    message = str(refused.value)
    assert missing in message and "--roles custom" in message
    # with a custom CloudFormation role (and the pipeline role that may pass it) the same choice is accepted
    product_rules(**parameters, CloudFormationRoleArn=CUSTOM, CodePipelineRoleArn=CUSTOM)


def test_the_product_default_passes_under_the_managed_roles():
    product_rules()
    product_rules(ProdMinInstanceCount="3", ProdDeploymentStrategy="linear")  # maximum 0: no autoscaling
    product_rules(ProdMinInstanceCount="3", ProdMaxInstanceCount="3")


def test_the_managed_cloudformation_role_has_none_of_what_scaling_and_alarms_need():
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    policy = json.loads(aws_managed_policies_data)[
        "AmazonSageMakerServiceCatalogProductsCloudformationServiceRolePolicy"
    ]
    actions = {
        action.lower()
        for statement in policy["Document"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert not any(a.startswith(("application-autoscaling:", "cloudwatch:")) for a in actions)


def test_the_deploy_build_gets_every_prod_choice_and_the_old_count_variable():
    variables = {
        v["Name"]: v["Value"]
        for v in PRODUCT["Resources"]["ModelDeployProject"]["Properties"]["Environment"][
            "EnvironmentVariables"
        ]
    }
    expected = {
        "PROD_MIN_INSTANCE_COUNT": "ProdMinInstanceCount",
        "PROD_INSTANCE_COUNT": "ProdMinInstanceCount",  # read by deploy repositories seeded earlier
        "PROD_MAX_INSTANCE_COUNT": "ProdMaxInstanceCount",
        "PROD_TARGET_INVOCATIONS_PER_INSTANCE": "ProdTargetInvocationsPerInstance",
        "PROD_DEPLOYMENT_STRATEGY": "ProdDeploymentStrategy",
        "PROD_CANARY_SIZE_PERCENT": "ProdCanarySizePercent",
        "PROD_LINEAR_STEP_PERCENT": "ProdLinearStepPercent",
        "PROD_BAKE_TIME_SECONDS": "ProdBakeTimeSeconds",
        "PROD_ALARM_ROLLBACK": "ProdAlarmRollback",
        "PROD_LATENCY_P99_THRESHOLD_MS": "ProdLatencyP99ThresholdMs",
    }
    build_py = (REPO / "seed_code" / "deploy" / "build.py").read_text()
    for name, parameter in expected.items():
        assert variables[name] == {"Ref": parameter} and f'"{name}"' in build_py


def test_an_update_carries_a_project_s_prod_instance_count_to_its_new_name():
    rollout = Rollout(RolloutOptions(), session=object())
    plan = rollout.parameter_plan(
        [{"ParameterKey": "ProdInstanceCount", "ParameterValue": "3"}],
        [{"ParameterKey": "ProdMinInstanceCount", "DefaultValue": "1"}],
    )
    assert plan.values == {"ProdMinInstanceCount": "3"} and plan.dropped == ["ProdInstanceCount"]


def calls(resource_type: str, properties: dict, operation: str = CREATE, old: dict | None = None):
    return [
        (c.action, c.resource)
        for c in resource_permissions.resource_calls(resource_type, operation, "n", properties, AT, old)
    ]


def test_what_scaling_and_alarms_ask_of_the_cloudformation_role():
    prod = resources("prod", **SCALED, **GUARDED)
    target = calls("AWS::ApplicationAutoScaling::ScalableTarget", prod["ScalableTarget"].properties)
    assert (
        "application-autoscaling:RegisterScalableTarget",
        f"arn:aws:application-autoscaling:us-east-1:{AT.account}:scalable-target/*",
    ) in target
    assert (
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        f"arn:aws:sagemaker:us-east-1:{AT.account}:endpoint/demo-prod",
    ) in target
    assert any(
        a == "iam:CreateServiceLinkedRole"
        and "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in r
        for a, r in target
    )
    # the target's Ref, as CloudFormation answers it: <resource id>|<dimension>|<namespace>
    aws_ref = "endpoint/demo-prod/variant/AllTraffic|sagemaker:variant:DesiredInstanceCount|sagemaker"
    properties = {**prod["InvocationsScalingPolicy"].properties, "ScalingTargetId": aws_ref}
    policy = calls("AWS::ApplicationAutoScaling::ScalingPolicy", properties)
    assert policy[0][0] == "application-autoscaling:PutScalingPolicy"
    assert (
        "cloudwatch:PutMetricAlarm",
        f"arn:aws:cloudwatch:us-east-1:{AT.account}:alarm:TargetTracking-endpoint/demo-prod/variant/AllTraffic-*",
    ) in policy
    alarm = prod["Invocation5XXErrorsAlarm"]
    alarm_calls = calls("AWS::CloudWatch::Alarm", alarm.properties)
    arn = f"arn:aws:cloudwatch:us-east-1:{AT.account}:alarm:n"
    assert alarm_calls == [("cloudwatch:PutMetricAlarm", arn), ("cloudwatch:TagResource", arn)]
    # a changed target value re-puts the policy (and its alarms); a changed capacity re-registers the target
    changed = dict(prod["InvocationsScalingPolicy"].properties)
    changed["TargetTrackingScalingPolicyConfiguration"] = {
        **changed["TargetTrackingScalingPolicyConfiguration"],
        "TargetValue": "90",
    }
    assert (
        "application-autoscaling:PutScalingPolicy",
        f"arn:aws:application-autoscaling:us-east-1:{AT.account}:scalable-target/*",
    ) in calls(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        changed,
        UPDATE,
        prod["InvocationsScalingPolicy"].properties,
    )
