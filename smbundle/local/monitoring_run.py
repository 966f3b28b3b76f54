"""``run_local.py --monitor``: prod traffic, one monitoring execution, and what it found.

After the lifecycle deployed prod (with its data-quality schedule, from the deploy template), this does what a
person checking the monitoring would do, through the APIs only:

1. sends prod the model package's held-out records (``CustomerMetadataProperties.TestDataS3Uri``, without their
   label), one request each, with ``--drift FEATURE=FACTOR`` scaling a measurement first;
2. starts a monitoring execution at once: a one-time schedule (``NOW``, the last hour's data) with prod's own job
   definition, as AWS documents for an on-demand run;
3. waits for it (``ListMonitoringExecutions``) and reads its ``constraint_violations.json`` and ``statistics.json``
   where the job definition's output goes.
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
    )
    try:
        return cost.monitoring_estimate(profile, cost.load_price_table())
    except cost.CostInputError as exc:
        return {"error": str(exc)}
