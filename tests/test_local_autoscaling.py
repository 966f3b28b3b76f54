"""Application Auto Scaling on the embedded AWS: a SageMaker variant registered, target tracking's alarms, scale-out
under load and scale-in after (as CurrentInstanceCount and DescribeScalingActivities show), endpoint metrics."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from botocore.exceptions import ClientError

from smbundle.local import server, time_scale
from tests import _endpoint_fleets as fleets
from tests._local_helpers import environment_set

ROW = "1.0,0,0,0,0,0,0,0,0,1\n"
RESOURCE = "endpoint/scaled/variant/AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SCALE = "600"  # one AWS minute is 0.1 s


@pytest.fixture(scope="module")
def embedded():
    with environment_set(SMBUNDLE_TIME_SCALE=SCALE, SMBUNDLE_COLD_START_SECONDS="0"), server.start() as aws:
        yield aws


def _variant(aws, name="scaled"):
    return aws.client("sagemaker").describe_endpoint(EndpointName=name)["ProductionVariants"][0]


def _wait(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_time_scale_is_checked():
    with pytest.raises(time_scale.BadSetting, match="must be a number of 1 or more"):
        time_scale.check({"SMBUNDLE_TIME_SCALE": "0.5"})
    with pytest.raises(time_scale.BadSetting, match="not a number"):
        time_scale.check({"SMBUNDLE_TIME_SCALE": "fast"})
    assert time_scale.factor({"SMBUNDLE_TIME_SCALE": "60"}) == 60


def test_target_tracking_scales_out_under_load_and_in_after(embedded):
    fleets.endpoint(embedded, "scaled")
    scaling = embedded.client("application-autoscaling")
    scaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=RESOURCE,
        ScalableDimension=DIMENSION,
        MinCapacity=1,
        MaxCapacity=3,
    )
    target = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"][0]
    assert target["RoleARN"].endswith(
        "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )
    assert embedded.client("iam").get_role(
        RoleName="AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )
    policy = scaling.put_scaling_policy(
        PolicyName="invocations",
        ServiceNamespace="sagemaker",
        ResourceId=RESOURCE,
        ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 5.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleOutCooldown": 60,
            "ScaleInCooldown": 60,
        },
    )
    names = sorted(a["AlarmName"] for a in policy["Alarms"])
    assert names[0].startswith(f"TargetTracking-{RESOURCE}-AlarmHigh-")
    assert names[1].startswith(f"TargetTracking-{RESOURCE}-AlarmLow-")
    alarms = {
        a["AlarmName"]: a
        for a in embedded.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    }
    high = alarms[names[0]]
    assert (high["MetricName"], high["Threshold"], high["EvaluationPeriods"]) == (
        "InvocationsPerInstance",
        5.0,
        3,
    )
    assert alarms[names[1]]["Threshold"] == 4.5 and alarms[names[1]]["EvaluationPeriods"] == 15

    runtime = embedded.client("sagemaker-runtime")
    stop = threading.Event()
    pause = {"seconds": 0.0}

    def load():
        while not stop.is_set():
            runtime.invoke_endpoint(EndpointName="scaled", ContentType="text/csv", Body=ROW)
            time.sleep(pause["seconds"])

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        assert _wait(lambda: _variant(embedded)["CurrentInstanceCount"] > 1, 8), "no scale-out under load"
        pause["seconds"] = 0.06  # about 5 requests per AWS minute: below 90 % of the target per instance
        assert _wait(lambda: _variant(embedded)["CurrentInstanceCount"] == 1, 10), (
            "no scale-in after the load"
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    activities = scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=RESOURCE)[
        "ScalingActivities"
    ]
    assert len(activities) >= 2
    assert all(a["StatusCode"] == "Successful" for a in activities)
    assert "AlarmLow" in activities[0]["Cause"] and "AlarmHigh" in activities[-1]["Cause"]
    assert activities[-1]["Description"].startswith("Setting desired instance count to ")

    points = _variant_datapoints(embedded, "Invocations", "Sum")
    assert sum(p["Sum"] for p in points) > 30
    latency = _variant_datapoints(embedded, "ModelLatency", "Maximum", Unit="Microseconds")
    assert latency and 0 < latency[0]["Maximum"] < 5_000_000


def test_an_update_that_changes_a_scaled_variants_instance_type_is_refused(embedded):
    fleets.endpoint(embedded, "refused")
    sagemaker = embedded.client("sagemaker")
    embedded.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/refused/variant/AllTraffic",
        ScalableDimension=DIMENSION,
        MinCapacity=1,
        MaxCapacity=2,
    )
    fleets.config(embedded, "c-refused-bigger", "refused-m1", instance_type="ml.c5.xlarge")
    with pytest.raises(ClientError) as error:
        sagemaker.update_endpoint(EndpointName="refused", EndpointConfigName="c-refused-bigger")
    assert "registered with Application Auto Scaling" in error.value.response["Error"]["Message"]
    assert sagemaker.describe_endpoint(EndpointName="refused")["EndpointStatus"] == "InService"


def test_registering_a_missing_variant_is_refused(embedded):
    with pytest.raises(ClientError) as error:
        embedded.client("application-autoscaling").register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId="endpoint/nowhere/variant/AllTraffic",
            ScalableDimension=DIMENSION,
            MinCapacity=1,
            MaxCapacity=2,
        )
    assert "nowhere does not exist" in error.value.response["Error"]["Message"]


def _variant_datapoints(embedded, metric: str, statistic: str, **extra) -> list[dict]:
    """The last five minutes of ``metric`` of the scaled endpoint's variant, per minute."""
    now = datetime.datetime.now(datetime.UTC)
    return embedded.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": "scaled"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        StartTime=now - datetime.timedelta(minutes=5),
        EndTime=now + datetime.timedelta(minutes=1),
        Period=60,
        Statistics=[statistic],
        **extra,
    )["Datapoints"]
