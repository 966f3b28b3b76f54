"""Blue/green endpoint updates on the embedded AWS: a canary whose 5XX errors trip its alarm is rolled back (the old
config serving, the status and reason SageMaker reports), a clean canary completes, all-at-once and linear updates,
a rollback by SetAlarmState, and the refusals (serverless, canary too large)."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from smbundle.local import server
from tests import _endpoint_fleets as fleets
from tests._local_helpers import environment_set

SCALE = "600"  # one AWS minute is 0.1 s: a 600 s bake lasts 1 s


@pytest.fixture(scope="module")
def embedded():
    with environment_set(SMBUNDLE_TIME_SCALE=SCALE, SMBUNDLE_COLD_START_SECONDS="0"), server.start() as aws:
        yield aws


def _errors_alarm(aws, endpoint: str, treat_missing: str = "notBreaching") -> str:
    name = f"{endpoint}-5xx"
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData=treat_missing,
    )
    return name


def _canary(alarms: list[str], wait: int = 600) -> dict:
    config = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                "WaitIntervalInSeconds": wait,
            },
            "TerminationWaitInSeconds": 0,
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


class Load:
    """Requests in the background, counting answers and ModelErrors."""

    def __init__(self, aws, endpoint: str):
        self.client, self.endpoint = aws.client("sagemaker-runtime"), endpoint
        self.ok = self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        while not self.stop.is_set():
            try:
                self.client.invoke_endpoint(
                    EndpointName=self.endpoint, ContentType="text/csv", Body=fleets.ROW
                )
                self.ok += 1
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ModelError"
                self.errors += 1
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def _settled(aws, endpoint: str, seconds: float = 10) -> dict:
    sagemaker = aws.client("sagemaker")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] != "Updating":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{endpoint} still Updating after {seconds} s")


def test_a_canary_answering_errors_is_rolled_back_by_its_alarm(embedded):
    fleets.endpoint(embedded, "bad", instances=2)
    alarm = _errors_alarm(embedded, "bad")
    fleets.config(
        embedded,
        "bad-v2",
        fleets.model(embedded, "bad-m2", fleets.failing_artifact(), fleets.SCRIPT_ENVIRONMENT),
        instances=2,
    )
    sagemaker = embedded.client("sagemaker")
    with Load(embedded, "bad") as load:
        sagemaker.update_endpoint(
            EndpointName="bad", EndpointConfigName="bad-v2", DeploymentConfig=_canary([alarm])
        )
        updating = sagemaker.describe_endpoint(EndpointName="bad")
        assert updating["EndpointStatus"] == "Updating"
        assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == "bad-v2"
        described = _settled(embedded, "bad")
        answered_after = load.ok
        time.sleep(0.2)
        assert load.ok > answered_after  # still serving after the rollback
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "bad-v1"
    assert alarm in described["FailureReason"] and "rolled back" in described["FailureReason"]
    assert 0 < load.errors < load.ok  # only the canary's share failed
    errors_after = load.errors
    client = embedded.client("sagemaker-runtime")
    for _ in range(20):
        client.invoke_endpoint(EndpointName="bad", ContentType="text/csv", Body=fleets.ROW)
    assert load.errors == errors_after
    history = embedded.client("cloudwatch").describe_alarm_history(
        AlarmName=alarm, HistoryItemType="StateUpdate"
    )
    assert any("to ALARM" in item["HistorySummary"] for item in history["AlarmHistoryItems"])


def test_a_clean_canary_completes(embedded):
    fleets.endpoint(embedded, "clean", instances=2)
    alarm = _errors_alarm(embedded, "clean")
    fleets.config(embedded, "clean-v2", fleets.model(embedded, "clean-m2"), instances=2)
    sagemaker = embedded.client("sagemaker")
    with Load(embedded, "clean") as load:
        sagemaker.update_endpoint(
            EndpointName="clean", EndpointConfigName="clean-v2", DeploymentConfig=_canary([alarm], wait=300)
        )
        described = _settled(embedded, "clean")
    assert described["EndpointConfigName"] == "clean-v2"
    assert "FailureReason" not in described
    assert (
        described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"]
        == "CANARY"
    )
    assert load.errors == 0 and load.ok > 0


def test_all_at_once_and_linear_updates(embedded):
    fleets.endpoint(embedded, "shift", instances=4)
    sagemaker = embedded.client("sagemaker")
    fleets.config(embedded, "shift-v2", fleets.model(embedded, "shift-m2"), instances=4)
    sagemaker.update_endpoint(EndpointName="shift", EndpointConfigName="shift-v2")  # SageMaker's default
    assert _settled(embedded, "shift")["EndpointConfigName"] == "shift-v2"
    fleets.config(embedded, "shift-v3", fleets.model(embedded, "shift-m3"), instances=4)
    linear = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": 60,
            }
        }
    }
    sagemaker.update_endpoint(EndpointName="shift", EndpointConfigName="shift-v3", DeploymentConfig=linear)
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sagemaker.update_endpoint(EndpointName="shift", EndpointConfigName="shift-v2")
    described = _settled(embedded, "shift")
    assert described["EndpointConfigName"] == "shift-v3"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 4


def test_set_alarm_state_rolls_an_update_back(embedded):
    fleets.endpoint(embedded, "manual", instances=2)
    alarm = _errors_alarm(embedded, "manual", treat_missing="ignore")
    fleets.config(embedded, "manual-v2", fleets.model(embedded, "manual-m2"), instances=2)
    sagemaker = embedded.client("sagemaker")
    sagemaker.update_endpoint(
        EndpointName="manual", EndpointConfigName="manual-v2", DeploymentConfig=_canary([alarm], wait=1200)
    )
    time.sleep(0.5)  # the green fleet is provisioned, the canary bakes
    embedded.client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="by hand")
    described = _settled(embedded, "manual")
    assert described["EndpointConfigName"] == "manual-v1" and alarm in described["FailureReason"]


def test_what_sagemaker_refuses(embedded):
    sagemaker = embedded.client("sagemaker")
    fleets.endpoint(embedded, "single")
    fleets.config(embedded, "single-v2", fleets.model(embedded, "single-m2"))
    with pytest.raises(ClientError, match="less than or equal to 50%"):
        sagemaker.update_endpoint(
            EndpointName="single", EndpointConfigName="single-v2", DeploymentConfig=_canary([])
        )
    sagemaker.create_endpoint_config(
        EndpointConfigName="serverless-v1",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "single-m2",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="serverless", EndpointConfigName="serverless-v1")
    all_at_once = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
        }
    }
    with pytest.raises(ClientError, match="not supported for serverless endpoints"):
        sagemaker.update_endpoint(
            EndpointName="serverless", EndpointConfigName="serverless-v1", DeploymentConfig=all_at_once
        )
    with pytest.raises(ClientError, match="does not exist"):
        sagemaker.update_endpoint(
            EndpointName="single",
            EndpointConfigName="single-v2",
            DeploymentConfig={
                **all_at_once,
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "nope"}]},
            },
        )


def test_the_prod_stack_scales_and_its_update_is_rolled_back_by_its_alarm(embedded):
    """The deploy seed's endpoint template, prod with autoscaling and alarm rollback, on the embedded CloudFormation:
    the alarms, the scalable target and the policy exist; an update to a model answering errors completes the
    stack update while SageMaker rolls the endpoint back to its previous config (the silent rollback)."""
    from tests._local_helpers import REPO, ROLE

    template = (REPO / "seed_code" / "deploy" / "endpoint-config-template.yml").read_text()
    cloudformation, sagemaker = embedded.client("cloudformation"), embedded.client("sagemaker")
    good = fleets.package(embedded, "stack-good")
    bad = fleets.package(embedded, "stack-bad", fleets.failing_artifact(), fleets.SCRIPT_ENVIRONMENT)

    def parameters(package):
        values = {
            "SageMakerProjectName": "demo",
            "ModelExecutionRoleArn": ROLE,
            "ModelPackageName": package,
            "StageName": "prod",
            "EndpointInstanceCount": "2",
            "MaxInstanceCount": "3",
            "DeploymentStrategy": "canary",
            "CanarySizePercent": "50",
            "BakeTimeSeconds": "600",
            "AlarmRollback": "true",
            "EnableDataCapture": "false",
        }
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]

    cloudformation.create_stack(StackName="demo-prod", TemplateBody=template, Parameters=parameters(good))
    stack = cloudformation.describe_stacks(StackName="demo-prod")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", [
        e.get("ResourceStatusReason")
        for e in cloudformation.describe_stack_events(StackName="demo-prod")["StackEvents"]
    ]
    first = sagemaker.describe_endpoint(EndpointName="demo-prod")["EndpointConfigName"]
    (target,) = embedded.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )["ScalableTargets"]
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == (
        "endpoint/demo-prod/variant/AllTraffic",
        2,
        3,
    )
    alarms = embedded.client("cloudwatch").describe_alarms(AlarmNamePrefix="sagemaker-demo-prod-")[
        "MetricAlarms"
    ]
    assert sorted(a["MetricName"] for a in alarms) == ["Invocation5XXErrors", "ModelLatency"]
    assert [a["ExtendedStatistic"] for a in alarms if a["MetricName"] == "ModelLatency"] == ["p99"]

    with Load(embedded, "demo-prod") as load:
        cloudformation.update_stack(StackName="demo-prod", TemplateBody=template, Parameters=parameters(bad))
    stack = cloudformation.describe_stacks(StackName="demo-prod")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    described = sagemaker.describe_endpoint(EndpointName="demo-prod")
    assert described["EndpointConfigName"] == first  # rolled back: the pipeline's check must notice
    assert "sagemaker-demo-prod-invocation-5xx-errors" in described["FailureReason"]
    assert sagemaker.describe_endpoint_config(EndpointConfigName=first)  # kept (UpdateReplacePolicy: Retain)
    assert load.errors > 0


def test_an_alarm_cloudwatch_would_refuse_is_refused_by_the_embedded_cloudformation():
    from smbundle.local.cloudwatch.cloudformation import check

    good = {"Statistic": "Sum", "Period": 60, "EvaluationPeriods": 3, "DatapointsToAlarm": 2}
    check(good)
    check({**good, "Statistic": None, "ExtendedStatistic": "p99"})
    for bad, fragment in (
        ({**good, "ExtendedStatistic": "p99"}, "exactly one of Statistic and ExtendedStatistic"),
        ({**good, "Statistic": None}, "exactly one of Statistic and ExtendedStatistic"),
        ({**good, "Statistic": None, "ExtendedStatistic": "99th"}, "is not a percentile"),
        ({**good, "Period": 45}, "must be 10, 30 or a multiple of 60"),
        ({**good, "DatapointsToAlarm": 4}, "must not exceed EvaluationPeriods 3"),
    ):
        with pytest.raises(ValueError, match=fragment):
            check(bad)
