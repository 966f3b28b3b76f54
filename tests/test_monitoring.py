"""Model Monitor in the embedded AWS: schedules that run data-quality executions on captured prod traffic, in an
account that already uses Model Monitor (``existing_customer``; a new account is refused: test_availability.py).

Plain moto has no monitoring schedules (CreateMonitoringSchedule is not implemented there), so each test here
fails against it.
"""

from __future__ import annotations

import csv
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from pipelines.abalone import data_quality as analyzer

from smbundle.local import server
from smbundle.local.sagemaker import monitoring
from tests._local_helpers import ROLE, SCRIPT_MODE, abalone_artifact, deploy_endpoint, tar_gz

BUCKET = "sagemaker-monitor-test"
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": f"s3://{BUCKET}/datacapture",
    "CaptureOptions": [{"CaptureMode": "Input"}],
    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
}
# A model that answers any record (the abalone model refuses a value that is not a number before it is captured).
TOLERANT_SCRIPT = b"def model_fn(model_dir):\n    return None\n\n\ndef transform_fn(model, body, content_type, accept):\n    return '9.0'\n"


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    with server.start(existing_customer=True) as embedded:
        s3 = embedded.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        artifact, out = abalone_artifact(tmp_path_factory.mktemp("abalone"))
        baseline = analyzer.read_csv((out / "baseline" / "baseline.csv").read_text(), header=True)
        statistics, constraints = analyzer.suggest_baseline(baseline)
        s3.put_object(Bucket=BUCKET, Key="baseline/statistics.json", Body=json.dumps(statistics))
        s3.put_object(Bucket=BUCKET, Key="baseline/constraints.json", Body=json.dumps(constraints))
        embedded.artifact = artifact
        embedded.held_out = [
            row[:8] for row in csv.reader(io.StringIO((out / "test" / "test.csv").read_text()))
        ]
        yield embedded


def prod_endpoint(aws, name: str, artifact: bytes | None = None) -> str:
    """A prod-like endpoint with data capture and a data-quality job definition on it."""
    deploy_endpoint(
        name,
        None,
        endpoint_url=aws.url,
        artifact=artifact or aws.artifact,
        environment=SCRIPT_MODE,
        data_capture=CAPTURE,
    )
    aws.client("sagemaker").create_data_quality_job_definition(
        JobDefinitionName=f"{name}-dq",
        DataQualityBaselineConfig={
            "ConstraintsResource": {"S3Uri": f"s3://{BUCKET}/baseline/constraints.json"},
            "StatisticsResource": {"S3Uri": f"s3://{BUCKET}/baseline/statistics.json"},
        },
        DataQualityAppSpecification={
            "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
        },
        DataQualityJobInput={
            "EndpointInput": {"EndpointName": name, "LocalPath": "/opt/ml/processing/input"}
        },
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {"S3Output": {"S3Uri": f"s3://{BUCKET}/reports", "LocalPath": "/opt/ml/processing/output"}}
            ]
        },
        JobResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
        },
        RoleArn=ROLE,
    )
    return name


def send(aws, name: str, rows: list[list[str]]) -> None:
    runtime = boto3.session.Session(region_name="us-east-1").client("sagemaker-runtime", endpoint_url=aws.url)

    def one(row):
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=",".join(row))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, rows))


def run_now(aws, name: str, schedule: str) -> dict:
    """A one-time schedule (NOW) over the last hour; returns its execution summary once it has ended."""
    sagemaker = aws.client("sagemaker")
    sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=schedule,
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": f"{name}-dq",
            "MonitoringType": "DataQuality",
        },
    )
    deadline = time.monotonic() + 60  # a guard against a hang, not a performance limit
    while time.monotonic() < deadline:
        summaries = sagemaker.list_monitoring_executions(MonitoringScheduleName=schedule)[
            "MonitoringExecutionSummaries"
        ]
        if summaries and summaries[0]["MonitoringExecutionStatus"] in monitoring.TERMINAL:
            return summaries[0]
        time.sleep(0.05)
    raise AssertionError(f"the execution of {schedule} never ended")


def report(aws, summary: dict, name: str, filename: str) -> dict:
    scheduled = summary["ScheduledTime"].astimezone(UTC)
    key = f"reports/{name}/{summary['MonitoringScheduleName']}/{scheduled:%Y/%m/%d/%H}/{filename}"
    return json.loads(aws.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_held_out_traffic_shows_no_violations_and_answers_as_aws(aws):
    name = prod_endpoint(aws, "mon-clean")
    send(aws, name, aws.held_out)
    summary = run_now(aws, name, "mon-clean-now")
    assert summary["MonitoringExecutionStatus"] == "Completed", summary.get("FailureReason")
    assert summary["EndpointName"] == name and summary["MonitoringJobDefinitionName"] == "mon-clean-dq"
    assert summary["ProcessingJobArn"].startswith("arn:aws:sagemaker:us-east-1:123456789012:processing-job/")
    assert report(aws, summary, name, "constraint_violations.json") == {"violations": []}
    statistics = report(aws, summary, name, "statistics.json")
    assert statistics["dataset"]["item_count"] == len(aws.held_out)
    assert [f["name"] for f in statistics["features"]][-1] == "shell_weight"
    sagemaker = aws.client("sagemaker")
    described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName="mon-clean-now")
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert described["LastMonitoringExecutionSummary"]["MonitoringExecutionStatus"] == "Completed"
    job = sagemaker.describe_processing_job(ProcessingJobName=summary["ProcessingJobArn"].rsplit("/", 1)[-1])
    assert job["ProcessingJobStatus"] == "Completed"
    listed = sagemaker.list_monitoring_schedules(EndpointName=name)["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in listed] == ["mon-clean-now"]
    definitions = sagemaker.list_data_quality_job_definitions()["JobDefinitionSummaries"]
    assert {"mon-clean-dq": name}.items() <= {
        d["MonitoringJobDefinitionName"]: d["EndpointName"] for d in definitions
    }.items()


def test_a_feature_scaled_by_one_and_a_half_is_a_drift_violation_naming_it(aws):
    name = prod_endpoint(aws, "mon-drift")
    send(aws, name, [[*row[:7], f"{float(row[7]) * 1.5:.6g}"] for row in aws.held_out])
    summary = run_now(aws, name, "mon-drift-now")
    assert summary["MonitoringExecutionStatus"] == "CompletedWithViolations"
    (violation,) = report(aws, summary, name, "constraint_violations.json")["violations"]
    assert violation["feature_name"] == "shell_weight"
    assert violation["constraint_check_type"] == "baseline_drift_check"
    found = aws.client("sagemaker").list_monitoring_executions(
        EndpointName=name, StatusEquals="CompletedWithViolations"
    )["MonitoringExecutionSummaries"]
    assert [s["MonitoringScheduleName"] for s in found] == ["mon-drift-now"]


def test_a_string_in_a_numeric_column_is_a_data_type_violation(aws):
    name = prod_endpoint(aws, "mon-type", artifact=tar_gz({"code/inference.py": TOLERANT_SCRIPT}))
    rows = [list(row) for row in aws.held_out[:300]]  # a share of strings, whatever the number of records
    for row in rows[::50]:
        row[2] = "wide"
    send(aws, name, rows)
    summary = run_now(aws, name, "mon-type-now")
    checks = {
        (v["feature_name"], v["constraint_check_type"])
        for v in report(aws, summary, name, "constraint_violations.json")["violations"]
    }
    assert ("diameter", "data_type_check") in checks


def test_a_column_missing_in_more_rows_than_the_baseline_allows_is_a_completeness_violation(aws):
    name = prod_endpoint(aws, "mon-complete")
    # a share of empty heights, whatever the number of records
    rows = [list(row) for row in aws.held_out[:300]]
    for row in rows[::5]:
        row[3] = ""  # the model imputes an empty height, so these requests are answered and captured
    send(aws, name, rows)
    summary = run_now(aws, name, "mon-complete-now")
    violations = report(aws, summary, name, "constraint_violations.json")["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [
        ("height", "completeness_check")
    ]


def test_an_execution_without_captured_data_fails_as_on_aws(aws):
    name = prod_endpoint(aws, "mon-empty")
    summary = run_now(aws, name, "mon-empty-now")
    assert summary["MonitoringExecutionStatus"] == "Failed"
    assert summary["FailureReason"] == "Job inputs had no data"


def test_an_hourly_schedule_runs_on_the_hour(aws):
    name = prod_endpoint(aws, "mon-hourly")
    send(aws, name, aws.held_out[:200])
    sagemaker = aws.client("sagemaker")
    sagemaker.create_monitoring_schedule(
        MonitoringScheduleName="mon-hourly",
        MonitoringScheduleConfig={
            # two hours back, so that traffic sent just before an hour turned is still in the window
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)", "DataAnalysisStartTime": "-PT2H"},
            "MonitoringJobDefinitionName": f"{name}-dq",
            "MonitoringType": "DataQuality",
        },
    )
    assert (
        sagemaker.list_monitoring_executions(MonitoringScheduleName="mon-hourly")[
            "MonitoringExecutionSummaries"
        ]
        == []
    )
    schedule = monitoring.schedule_by_name("123456789012", "us-east-1", "mon-hourly")
    top = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert schedule.next_run == top
    monitoring.run_due(now=top + timedelta(seconds=1))  # the clock reaches the next hour
    (summary,) = sagemaker.list_monitoring_executions(MonitoringScheduleName="mon-hourly")[
        "MonitoringExecutionSummaries"
    ]
    assert summary["ScheduledTime"] == top
    assert summary["MonitoringExecutionStatus"] == "Completed", summary.get("FailureReason")
    assert report(aws, summary, name, "statistics.json")["dataset"]["item_count"] == 200
    assert schedule.next_run == top + timedelta(hours=1)
    # without an analysis window, a cron schedule analyzes the hour before its scheduled time
    schedule.config = {**schedule.config, "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"}}
    assert monitoring._window(schedule, top) == (top - timedelta(hours=1), top)


def test_the_server_runs_a_due_schedule_by_itself(aws):
    """While the embedded AWS runs, its scheduler starts a cron schedule's execution when its time comes (here the
    next run is moved into the past, instead of waiting for the hour)."""
    name = prod_endpoint(aws, "mon-background")
    send(aws, name, aws.held_out[:50])
    sagemaker = aws.client("sagemaker")
    sagemaker.create_monitoring_schedule(
        MonitoringScheduleName="mon-background",
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)", "DataAnalysisStartTime": "-PT2H"},
            "MonitoringJobDefinitionName": f"{name}-dq",
            "MonitoringType": "DataQuality",
        },
    )
    schedule = monitoring.schedule_by_name("123456789012", "us-east-1", "mon-background")
    schedule.next_run = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1, seconds=-3599)
    monitoring._wake.set()
    (execution,) = monitoring.wait_for(
        schedule, timeout_s=30
    )  # a guard against a hang, not a performance limit
    assert execution.status == "Completed", execution.failure_reason
    assert schedule.next_run > execution.scheduled_time


def test_schedules_model_monitor_refuses(aws):
    sagemaker = aws.client("sagemaker")
    name = prod_endpoint(aws, "mon-refused")
    config = {"MonitoringJobDefinitionName": f"{name}-dq", "MonitoringType": "DataQuality"}
    with pytest.raises(ClientError, match="Invalid ScheduleExpression 'cron\\(15 \\* \\? \\* \\* \\*\\)'"):
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName="bad-cron",
            MonitoringScheduleConfig={
                **config,
                "ScheduleConfig": {"ScheduleExpression": "cron(15 * ? * * *)"},
            },
        )
    with pytest.raises(ClientError, match="DataAnalysisStartTime"):
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName="now-without-window",
            MonitoringScheduleConfig={**config, "ScheduleConfig": {"ScheduleExpression": "NOW"}},
        )
    deploy_endpoint("mon-serverless", {"MemorySizeInMB": 2048, "MaxConcurrency": 5}, endpoint_url=aws.url)
    inline = {
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringJobDefinition": {
            "MonitoringInputs": [
                {"EndpointInput": {"EndpointName": "mon-serverless", "LocalPath": "/opt/ml/processing/input"}}
            ],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [
                    {"S3Output": {"S3Uri": f"s3://{BUCKET}/r", "LocalPath": "/opt/ml/processing/output"}}
                ]
            },
            "MonitoringResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}
            },
            "MonitoringAppSpecification": {"ImageUri": "analyzer"},
            "RoleArn": ROLE,
        },
    }
    with pytest.raises(ClientError, match="Model Monitor does not support serverless endpoints"):
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName="on-serverless", MonitoringScheduleConfig=inline
        )
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_monitoring_schedule(MonitoringScheduleName="bad-cron")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_the_model_monitor_backend_end_to_end_in_an_existing_customers_account(aws, tmp_path):
    """MonitoringBackend model-monitor: the prod stack gets Model Monitor's job definition and hourly schedule on
    the package's baseline, --drift's one-time execution names the drifted feature, and the project has no
    data-quality pipeline of its own."""
    from smbundle.local.lifecycle import LocalRunOptions, run_lifecycle

    summary = run_lifecycle(
        LocalRunOptions(
            workdir=tmp_path / "work",
            project_name="mm-backend",
            endpoint_url=aws.url,
            monitor=True,
            drift={"shell_weight": 1.5},
            project_parameters={"MonitoringBackend": "model-monitor"},
        ),
        lambda *args: None,
    )
    schedule = summary["prod"]["DescribeMonitoringSchedule"]
    assert schedule["MonitoringScheduleName"] == "mm-backend-prod-data-quality"
    assert schedule["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    monitoring = summary["monitoring"]
    assert monitoring["backend"] == "model-monitor"
    assert monitoring["execution"]["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert [v["feature_name"] for v in monitoring["violations"]] == ["shell_weight"]
    pipelines = [p["name"] for p in aws.client("codepipeline").list_pipelines()["pipelines"]]
    assert pipelines and not [name for name in pipelines if name.endswith("-dataquality")]
