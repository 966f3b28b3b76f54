"""``run_local.py --monitor``: prod traffic, one data-quality check, and what it found.

After the lifecycle deployed prod, this does what a person checking the monitoring would do, through the APIs only:

1. sends prod the model package's held-out records (``CustomerMetadataProperties.TestDataS3Uri``, without their
   label), one request each, with ``--drift FEATURE=FACTOR`` scaling a measurement first;
2. runs a check at once instead of waiting for the schedule. With the project's own check (MonitoringBackend
   ``project``, the default): starts the project's data-quality CodePipeline, which starts the check's SageMaker
   Pipeline; then waits for that execution and reads its reports. With Model Monitor (``model-monitor``, existing
   customers only): a one-time monitoring schedule (``NOW``, the last hour's data) with prod's own job definition,
   as AWS documents for an on-demand run, then its ``constraint_violations.json`` and ``statistics.json``.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime

from smbundle.local import input_data

FEATURES = tuple(input_data.COLUMNS[:-1])  # the seed's schema without the label (rings)
NUMERIC_FEATURES = FEATURES[1:]
TERMINAL = ("Completed", "CompletedWithViolations", "Failed", "Stopped")


class MonitorFailed(Exception):
    """The monitoring run could not be made; the message says why and what to do."""


def _read(s3, uri: str) -> bytes:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def prod_schedule(sagemaker, endpoint: str) -> dict:
    schedules = sagemaker.list_monitoring_schedules(EndpointName=endpoint)["MonitoringScheduleSummaries"]
    if not schedules:
        raise MonitorFailed(
            f"prod endpoint {endpoint} has no monitoring schedule: its model package has no data-quality baseline, "
            'or prod-config.json sets EnableMonitoring "false" (build.py said which)'
        )
    name = sorted(schedules, key=lambda s: s["CreationTime"])[0]["MonitoringScheduleName"]
    return sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)


def held_out_records(sagemaker, s3, package_arn: str, drift: dict[str, float]) -> list[str]:
    """The package's held-out raw records without their label, with the drifted features scaled."""
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    uri = (package.get("CustomerMetadataProperties") or {}).get("TestDataS3Uri")
    if not uri:
        raise MonitorFailed(f"model package {package_arn} records no held-out test split (TestDataS3Uri)")
    rows = [row for row in csv.reader(io.StringIO(_read(s3, uri).decode())) if row]
    records = []
    for row in rows:
        fields = row[: len(FEATURES)]
        for feature, factor in drift.items():
            index = FEATURES.index(feature)
            if fields[index].strip():
                fields[index] = f"{float(fields[index]) * factor:.6g}"
        records.append(",".join(fields))
    return records


def send(runtime, endpoint: str, records: list[str]) -> int:
    """One request per record, in order: the capture's evenly spread sampling then keeps the same records on every
    run, so a run's report can be reproduced (sent concurrently, which records are captured would vary)."""
    for record in records:
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=record)
    return len(records)


def run_now(sagemaker, schedule: dict, timeout_s: float = 120.0) -> dict:
    """A one-time schedule over the last hour with the schedule's job definition; its execution once ended."""
    config = schedule["MonitoringScheduleConfig"]
    name = f"{schedule['MonitoringScheduleName'][:40]}-now-{datetime.now(UTC):%Y%m%d%H%M%S}"
    sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": config["MonitoringJobDefinitionName"],
            "MonitoringType": config.get("MonitoringType", "DataQuality"),
        },
    )
    deadline = time.monotonic() + timeout_s
    while True:
        summaries = sagemaker.list_monitoring_executions(MonitoringScheduleName=name)[
            "MonitoringExecutionSummaries"
        ]
        if summaries and summaries[0]["MonitoringExecutionStatus"] in TERMINAL:
            return summaries[0]
        if time.monotonic() > deadline:
            raise MonitorFailed(f"the monitoring execution of {name} did not end within {timeout_s:.0f} s")
        time.sleep(0.1)


def reports(sagemaker, s3, schedule: dict, execution: dict) -> dict:
    """The execution's report files, where the job definition's output goes."""
    definition = sagemaker.describe_data_quality_job_definition(
        JobDefinitionName=schedule["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"]
    )
    output = definition["DataQualityJobOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"].rstrip("/")
    scheduled = execution["ScheduledTime"].astimezone(UTC)
    folder = (
        f"{output}/{execution['EndpointName']}/{execution['MonitoringScheduleName']}/{scheduled:%Y/%m/%d/%H}"
    )
    found = {"report": folder}
    for filename in ("constraint_violations.json", "statistics.json"):
        try:
            found[filename] = json.loads(_read(s3, f"{folder}/{filename}"))
        except s3.exceptions.NoSuchKey:
            found[filename] = None
    return found


def monthly_cost(sagemaker, schedule: dict, region: str) -> dict:
    """The cost planner's monitoring estimate for prod's own schedule and job definition."""
    from smbundle import cost
    from smbundle.local.sagemaker.monitoring import cron_hours

    definition = sagemaker.describe_data_quality_job_definition(
        JobDefinitionName=schedule["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"]
    )
    cluster = definition["JobResources"]["ClusterConfig"]
    profile = cost.MonitoringProfile(
        instance_type=cluster["InstanceType"],
        instance_count=int(cluster.get("InstanceCount", 1)),
        runs_per_day=len(
            cron_hours(schedule["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"])
        ),
        max_runtime_seconds=float(
            (definition.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 3600)
        ),
        region=region,
        backend="model-monitor",
    )
    try:
        return cost.monitoring_estimate(profile, cost.load_price_table())
    except cost.CostInputError as exc:
        return {"error": str(exc)}


# -- the project's own data-quality check (MonitoringBackend "project") ------------------------------------------
def run_project_check(codepipeline, sagemaker, names: dict, follow, timeout_s: float = 120.0) -> dict:
    """Start the project's data-quality CodePipeline now (as a person would, instead of waiting for its schedule),
    follow it with ``follow(pipeline, execution id)``, then wait for the SageMaker Pipeline execution it started;
    returns that execution's description."""
    started_after = datetime.now(UTC)
    execution_id = codepipeline.start_pipeline_execution(name=names["check_pipeline"])["pipelineExecutionId"]
    outcome = follow(names["check_pipeline"], execution_id)
    if outcome.status != "Succeeded":
        raise MonitorFailed(
            f"the data-quality pipeline {names['check_pipeline']} {outcome.status}: {outcome.summary}"
        )
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            summaries = sagemaker.list_pipeline_executions(
                PipelineName=names["check_sagemaker_pipeline"], SortBy="CreationTime", SortOrder="Descending"
            )["PipelineExecutionSummaries"]
        except sagemaker.exceptions.ResourceNotFound:
            summaries = []
        fresh = [s for s in summaries if s["StartTime"] >= started_after.replace(microsecond=0)]
        if not fresh:
            raise MonitorFailed(
                f"the data-quality pipeline ran but started no check: see its StartDataQualityCheck build log "
                f"(prod not deployed, or not watched: {names['check_pipeline']})"
            )
        described = sagemaker.describe_pipeline_execution(
            PipelineExecutionArn=fresh[0]["PipelineExecutionArn"]
        )
        if described["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped"):
            return described
        if time.monotonic() > deadline:
            raise MonitorFailed(f"the data-quality check did not end within {timeout_s:.0f} s")
        time.sleep(0.1)


def project_check_reports(sagemaker, s3, execution: dict) -> dict:
    """The check's report files (where its processing job wrote them) and its fail step, if it failed."""
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=execution["PipelineExecutionArn"])[
        "PipelineExecutionSteps"
    ]
    by_name = {step["StepName"]: step for step in steps}
    check = by_name.get("CheckDataQuality") or {}
    job_arn = ((check.get("Metadata") or {}).get("ProcessingJob") or {}).get("Arn")
    if check.get("StepStatus") != "Succeeded" or not job_arn:
        raise MonitorFailed(
            f"the data-quality check failed: {check.get('FailureReason') or 'no reason given'}"
        )
    job = sagemaker.describe_processing_job(ProcessingJobName=job_arn.rsplit("/", 1)[-1])
    folder = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].rstrip("/")
    found = {"report": folder, "fail_step": by_name.get("DataQualityViolations")}
    for filename in ("summary.json", "constraint_violations.json", "statistics.json"):
        found[filename] = json.loads(_read(s3, f"{folder}/{filename}"))
    return found


def published_metrics(cloudwatch, endpoint: str) -> list[str]:
    """The names of the check's CloudWatch metrics for the endpoint."""
    from pipelines.abalone.data_quality import METRICS_NAMESPACE

    pages = cloudwatch.get_paginator("list_metrics").paginate(
        Namespace=METRICS_NAMESPACE, Dimensions=[{"Name": "Endpoint", "Value": endpoint}]
    )
    return sorted({m["MetricName"] for page in pages for m in page["Metrics"]})
