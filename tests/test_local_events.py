"""The embedded EventBridge delivers: SageMaker's pipeline events and schedule rules start their targets as the
target's role, as EventBridge does (moto stores rules but starts no CodePipeline)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from smbundle.local import server
from smbundle.local.events import bus, scheduler
from smbundle.local.events.delivery import Delivery
from smbundle.local.iam.enforcement import AccessDenied

ACCOUNT = "123456789012"
EVENTS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsEventsRole"
EXECUTION_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
)
PIPELINE_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsCodePipelineRole"
)


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        aws.client("s3").create_bucket(Bucket="sagemaker-events-test")
        yield aws


def target_pipeline(embedded, name: str) -> str:
    """A CodePipeline to start (what it runs does not matter here)."""
    embedded.client("codepipeline").create_pipeline(
        pipeline={
            "name": name,
            "roleArn": PIPELINE_ROLE,
            "artifactStore": {"type": "S3", "location": "sagemaker-events-test"},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "Code",
                            "actionTypeId": {
                                "category": "Source",
                                "owner": "AWS",
                                "provider": "CodeCommit",
                                "version": "1",
                            },
                            "configuration": {"RepositoryName": f"{name}-repo", "BranchName": "main"},
                            "outputArtifacts": [{"name": "Out"}],
                        }
                    ],
                },
                {
                    "name": "Build",
                    "actions": [
                        {
                            "name": "Build",
                            "actionTypeId": {
                                "category": "Build",
                                "owner": "AWS",
                                "provider": "CodeBuild",
                                "version": "1",
                            },
                            "configuration": {"ProjectName": f"{name}-build"},
                            "inputArtifacts": [{"name": "Out"}],
                        }
                    ],
                },
            ],
        }
    )
    return f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:{name}"


def executions(embedded, name: str) -> list[dict]:
    return embedded.client("codepipeline").list_pipeline_executions(pipelineName=name)[
        "pipelineExecutionSummaries"
    ]


def wait_for_executions(embedded, name: str, count: int, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = executions(embedded, name)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    return executions(embedded, name)


def test_a_failed_step_of_a_sagemaker_pipeline_starts_the_rule_that_matches_it(embedded):
    """The project's retrain rule, as the product defines it: a SageMaker Pipeline's fail step named
    DataQualityViolations starts its target; a rule on another step starts nothing."""
    target = target_pipeline(embedded, "sagemaker-retrain-target")
    other = target_pipeline(embedded, "sagemaker-other-target")
    events = embedded.client("events")
    pipeline_arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/Check-Pipeline"
    for rule, step, arn in (
        ("sagemaker-retrain", "DataQualityViolations", target),
        ("sagemaker-other", "Other", other),
    ):
        events.put_rule(
            Name=rule,
            EventPattern=json.dumps(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": ["SageMaker Model Building Pipeline Execution Step Status Change"],
                    "detail": {
                        "pipelineArn": [{"equals-ignore-case": pipeline_arn}],
                        "stepName": [step],
                        "currentStepStatus": ["Failed"],
                    },
                }
            ),
        )
        events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": arn, "RoleArn": EVENTS_ROLE}])
    sagemaker = embedded.client("sagemaker")
    definition = {
        "Version": "2020-12-01",
        "Steps": [
            {"Name": "DataQualityViolations", "Type": "Fail", "Arguments": {"ErrorMessage": "drift: x"}}
        ],
    }
    sagemaker.create_pipeline(
        PipelineName="Check-Pipeline", PipelineDefinition=json.dumps(definition), RoleArn=EXECUTION_ROLE
    )
    sagemaker.start_pipeline_execution(PipelineName="Check-Pipeline")
    (started,) = wait_for_executions(embedded, "sagemaker-retrain-target", 1)
    assert started["trigger"] == {
        "triggerType": "CloudWatchEvent",
        "triggerDetail": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/sagemaker-retrain",
    }
    assert executions(embedded, "sagemaker-other-target") == []
    # Each rule an event triggers is counted, as AWS counts it (AWS/Events TriggeredRules, dimension RuleName)
    assert [triggered(embedded, rule) for rule in ("sagemaker-retrain", "sagemaker-other")] == [1, 0]


def triggered(embedded, rule: str) -> float:
    now = datetime.now(UTC)
    points = embedded.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Events",
        MetricName="TriggeredRules",
        Dimensions=[{"Name": "RuleName", "Value": rule}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_a_target_the_events_role_may_not_start_is_refused_as_that_role(embedded):
    """The managed Events role may start only CodePipelines named sagemaker-*."""
    arn = target_pipeline(embedded, "retrain-target")
    with pytest.raises(
        AccessDenied, match="AmazonSageMakerServiceCatalogProductsEventsRole/events is not authorized"
    ):
        bus.start(Delivery("rule", arn, EVENTS_ROLE), ACCOUNT, "us-east-1")
    assert executions(embedded, "retrain-target") == []


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 * ? * * *)", "2026-12-06T10:15", "2026-12-06T11:00"),
        ("cron(0 2 ? * * *)", "2026-12-06T10:15", "2026-12-07T02:00"),
        ("cron(0 3/6 ? * * *)", "2026-12-06T10:15", "2026-12-06T15:00"),
        ("cron(30 8 ? * MON-FRI *)", "2026-12-05T09:00", "2026-12-07T08:30"),  # a Saturday, then Monday
        ("rate(5 minutes)", "2026-12-06T10:16", "2026-12-06T10:20"),
    ],
)
def test_schedule_expressions_fire_when_eventbridge_says(expression, after, expected):
    anchor = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert scheduler.next_time(expression, moment, anchor) == datetime.fromisoformat(expected).replace(
        tzinfo=UTC
    )


def test_a_schedule_rule_starts_its_target_when_its_time_comes(embedded):
    arn = target_pipeline(embedded, "sagemaker-scheduled-target")
    events = embedded.client("events")
    now = datetime.now(UTC)
    # Daily, at the top of an hour more than an hour away: the server's own scheduler cannot fire it meanwhile.
    hour = (now + timedelta(hours=2)).hour
    events.put_rule(Name="sagemaker-daily", ScheduleExpression=f"cron(0 {hour} ? * * *)")
    events.put_targets(Rule="sagemaker-daily", Targets=[{"Id": "t", "Arn": arn, "RoleArn": EVENTS_ROLE}])
    ready, _ = scheduler.due(now)
    assert "sagemaker-daily" not in [r.name for r in ready]  # not before its hour
    ready, _ = scheduler.due(now + timedelta(hours=1))
    assert "sagemaker-daily" not in [r.name for r in ready]
    ready, upcoming = scheduler.due(now + timedelta(hours=3))
    (rule,) = [r for r in ready if r.name == "sagemaker-daily"]
    assert upcoming is not None and upcoming.minute == 0
    scheduler.fire(rule)
    assert len(wait_for_executions(embedded, "sagemaker-scheduled-target", 1)) == 1
    events.disable_rule(Name="sagemaker-daily")
    ready, _ = scheduler.due(now + timedelta(days=2))
    assert "sagemaker-daily" not in [r.name for r in ready]  # a disabled rule does not fire


def test_put_events_reaches_the_rules_and_refuses_aws_sources(embedded):
    """Your own events are matched against the rules (a CodePipeline target starts as its role); an event that
    claims an AWS source is refused entry by entry, as EventBridge answers it."""
    arn = target_pipeline(embedded, "sagemaker-custom-event-target")
    events = embedded.client("events")
    events.put_rule(Name="sagemaker-custom", EventPattern=json.dumps({"source": ["ml.team"]}))
    events.put_targets(Rule="sagemaker-custom", Targets=[{"Id": "t", "Arn": arn, "RoleArn": EVENTS_ROLE}])
    answer = events.put_events(
        Entries=[
            {"Source": "aws.sagemaker", "DetailType": "SageMaker Model Package State Change", "Detail": "{}"},
            {"Source": "ml.team", "DetailType": "Retrain please", "Detail": '{"why": "new data"}'},
        ]
    )
    assert answer["FailedEntryCount"] == 1
    refused, accepted = answer["Entries"]
    assert refused == {
        "ErrorCode": "NotAuthorizedForSourceException",
        "ErrorMessage": "Not authorized for the source.",
    }
    assert accepted["EventId"]
    (started,) = wait_for_executions(embedded, "sagemaker-custom-event-target", 1)
    assert started["trigger"]["triggerType"] == "CloudWatchEvent"


def test_an_operation_the_embedded_aws_does_not_serve_answers_at_once_as_aws_would(embedded):
    """The protocol's unknown-operation error (HTTP 400, which the SDKs do not retry), never an HTML page."""
    for service, call, kwargs in (
        ("sagemaker", "list_actions", {}),  # a service we serve, an operation we do not
        ("cloudwatch", "describe_anomaly_detectors", {}),
        ("apprunner", "list_services", {}),  # a service nobody serves here
    ):
        client = embedded.client(service)
        started = time.monotonic()
        with pytest.raises(ClientError) as refused:
            getattr(client, call)(**kwargs)
        error = refused.value.response
        assert error["Error"]["Code"] in ("UnknownOperationException", "InvalidAction"), error
        assert "is not served by the embedded AWS" in error["Error"]["Message"]
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["ResponseMetadata"]["RetryAttempts"] == 0 and time.monotonic() - started < 2
