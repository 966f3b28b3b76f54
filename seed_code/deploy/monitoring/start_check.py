#!/usr/bin/env python3
"""Start the project's data-quality check of the prod endpoint (the MonitoringBackend "project").

Runs in the project's data-quality CodePipeline (``monitoring/buildspec.yml``), which an EventBridge schedule starts
(the product's ``MonitoringScheduleExpression``, hourly by default); anyone can also start that CodePipeline by hand.
It does not analyze anything itself; it finds what to check and starts a SageMaker Pipeline that does:

1. whether prod is watched: ``EnableMonitoring`` of ``prod-config.json`` (as ``build.py`` reads it) and the
   project's ``MonitoringBackend``;
2. the prod endpoint ``<project>-prod``, its data capture destination, and the model package it serves (endpoint ->
   endpoint config -> model -> ``ModelPackageName``);
3. that package's data-quality baseline (``DriftCheckBaselines.ModelDataQuality``) and the analyzer that made it
   (``CustomerMetadataProperties.DataQualityAnalyzerS3Uri``, from the build repository's ``data_quality.py``);
4. creates or updates the SageMaker Pipeline ``<project>-<project id>-data-quality`` (:func:`pipeline_definition`)
   and starts it with those values.

The pipeline runs as the execution role: ``CheckDataQuality`` (a processing job in the model's own image) reads the
requests prod captured in the last ``WindowHours`` hours before the execution started, writes ``statistics.json``,
``constraint_violations.json`` and ``summary.json`` under ``s3://<bucket>/monitoring/<project>-prod/<execution id>/``
and publishes CloudWatch metrics; ``CheckForViolations`` ends the execution in the ``DataQualityViolations`` fail step
when there are violations: SageMaker's "Model Building Pipeline Execution Step Status Change" event for that step
(``currentStepStatus`` ``Failed``) is what a team routes, and what the project's retrain rule matches.

Nothing to check (prod not deployed yet, nothing captured, a package without a baseline) is not an error: it says
so and exits 0. A problem is one line on stderr with exit code 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # build.py, at the repository's root

import build  # noqa: E402

log = logging.getLogger("start_check")

VIOLATION_STEP = "DataQualityViolations"
ANALYZER = "/opt/ml/processing/input/code/data_quality.py"
# The schedule forms the product accepts, and the hours each run analyzes (the time since the previous run).
_HOURLY = "cron(0 * ? * * *)"
_DAILY_OR_EVERY = re.compile(r"cron\(0 (\d{1,2})(?:/(\d{1,2}))? \? \* \* \*\)")


class Skip(Exception):
    """Nothing to check; the message says why (exit 0)."""


def window_hours(expression: str) -> int:
    """The hours between two runs of the schedule: what each run analyzes."""
    if expression == _HOURLY:
        return 1
    match = _DAILY_OR_EVERY.fullmatch(expression)
    if not match:
        raise build.BuildError(
            f"schedule {expression!r} is not one of cron(0 * ? * * *), cron(0 H ? * * *) or cron(0 H/N ? * * *)"
        )
    return int(match[2]) if match[2] else 24


def _param(name: str) -> dict:
    return {"Get": f"Parameters.{name}"}


def _input(name: str, source: dict, path: str) -> dict:
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": source,
            "LocalPath": path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def pipeline_definition(role_arn: str) -> dict:
    """The data-quality check as a SageMaker Pipeline definition (what Studio shows under Pipelines)."""
    report = {
        "Std:Join": {"On": "/", "Values": [_param("ReportsUri"), {"Get": "Execution.PipelineExecutionId"}]}
    }
    summary = {"Get": "Steps.CheckDataQuality.PropertyFiles.DataQualitySummary"}
    parameters = [
        {"Name": name, "Type": "String"}
        for name in (
            "EndpointName",
            "CaptureUri",
            "BaselineStatisticsUri",
            "BaselineConstraintsUri",
            "AnalyzerUri",
            "ImageUri",
            "ReportsUri",
            "Region",
        )
    ]
    parameters += [
        {"Name": "WindowHours", "Type": "String", "DefaultValue": "1"},
        {"Name": "InstanceType", "Type": "String", "DefaultValue": "ml.m5.xlarge"},
    ]
    check = {
        "Name": "CheckDataQuality",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": _param("InstanceType"),
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 30,
                }
            },
            "AppSpecification": {
                "ImageUri": _param("ImageUri"),
                "ContainerEntrypoint": ["python3", ANALYZER],
                "ContainerArguments": [
                    "check",
                    "--capture-uri",
                    _param("CaptureUri"),
                    "--endpoint-name",
                    _param("EndpointName"),
                    "--baseline-statistics",
                    "/opt/ml/processing/baseline/statistics",
                    "--baseline-constraints",
                    "/opt/ml/processing/baseline/constraints",
                    "--window-end",
                    {"Get": "Execution.StartDateTime"},
                    "--window-hours",
                    _param("WindowHours"),
                    "--output-dir",
                    "/opt/ml/processing/report",
                ],
            },
            "RoleArn": role_arn,
            "ProcessingInputs": [
                _input("code", _param("AnalyzerUri"), "/opt/ml/processing/input/code"),
                _input(
                    "statistics", _param("BaselineStatisticsUri"), "/opt/ml/processing/baseline/statistics"
                ),
                _input(
                    "constraints", _param("BaselineConstraintsUri"), "/opt/ml/processing/baseline/constraints"
                ),
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "report",
                        "AppManaged": False,
                        "S3Output": {
                            "S3Uri": report,
                            "LocalPath": "/opt/ml/processing/report",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
            # The job's boto3 calls (S3, CloudWatch) go to the check's own Region.
            "Environment": {"AWS_DEFAULT_REGION": _param("Region")},
        },
        "PropertyFiles": [
            {"PropertyFileName": "DataQualitySummary", "OutputName": "report", "FilePath": "summary.json"}
        ],
    }
    violations = {
        "Name": VIOLATION_STEP,
        "Type": "Fail",
        "Arguments": {
            "ErrorMessage": {
                "Std:Join": {
                    "On": " ",
                    "Values": [
                        "Data-quality violations on",
                        _param("EndpointName"),
                        "-",
                        {"Std:JsonGet": {"PropertyFile": summary, "Path": "violations"}},
                        "- report:",
                        report,
                    ],
                }
            }
        },
    }
    condition = {
        "Name": "CheckForViolations",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "Equals",
                    "LeftValue": {"Std:JsonGet": {"PropertyFile": summary, "Path": "violation_count"}},
                    "RightValue": 0,
                }
            ],
            "IfSteps": [],
            "ElseSteps": [violations],
        },
    }
    return {"Version": "2020-12-01", "Metadata": {}, "Parameters": parameters, "Steps": [check, condition]}


def watched(args, environ) -> None:
    """Raise Skip when prod is not watched by this check."""
    source = Path(args.import_prod_config)
    committed = build.validate_config(source, build.load_config(source), "prod")
    settings = build.resolve_settings("prod", committed, environ)
    build.check_values(build.setting_origins(source, "prod", committed, environ), "prod", settings)
    if settings["MonitoringBackend"] != "project":
        raise Skip(
            f"the project's data-quality check is off: MonitoringBackend is {settings['MonitoringBackend']!r}"
        )
    if settings["EnableMonitoring"] != "true":
        raise Skip(f'the project\'s data-quality check is off: {source} sets EnableMonitoring "false"')


def _missing(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound") and (
        "not find" in exc.response["Error"]["Message"] or "does not exist" in exc.response["Error"]["Message"]
    )


def what_to_check(sagemaker, endpoint_name: str) -> dict:
    """The endpoint's capture destination, and the baseline, analyzer and image of the package it serves."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as exc:
        if _missing(exc):
            raise Skip(f"prod endpoint {endpoint_name} does not exist yet: nothing to check") from None
        raise
    capture = endpoint.get("DataCaptureConfig") or {}
    if not capture.get("EnableCapture") or not capture.get("DestinationS3Uri"):
        raise Skip(
            f"prod endpoint {endpoint_name} captures no requests (EnableDataCapture): nothing to check"
        )
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    package_arn = container.get("ModelPackageName")
    if not package_arn:
        raise Skip(f"prod endpoint {endpoint_name} serves no model package: nothing to check against")
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    statistics = (quality.get("Statistics") or {}).get("S3Uri")
    constraints = (quality.get("Constraints") or {}).get("S3Uri")
    analyzer = (package.get("CustomerMetadataProperties") or {}).get("DataQualityAnalyzerS3Uri")
    if not (statistics and constraints and analyzer):
        raise Skip(
            f"model package {package_arn} has no data-quality baseline (DriftCheckBaselines.ModelDataQuality) or "
            "no analyzer (CustomerMetadataProperties.DataQualityAnalyzerS3Uri): nothing to check against; packages "
            "the build pipeline registers have both"
        )
    return {
        "EndpointName": endpoint_name,
        "CaptureUri": f"{capture['DestinationS3Uri'].rstrip('/')}/{endpoint_name}",
        "BaselineStatisticsUri": statistics,
        "BaselineConstraintsUri": constraints,
        "AnalyzerUri": analyzer,
        "ImageUri": package["InferenceSpecification"]["Containers"][0]["Image"],
        "package": package_arn,
    }


def upsert_pipeline(sagemaker, name: str, role_arn: str, tags: list[dict]) -> None:
    definition = json.dumps(pipeline_definition(role_arn))
    description = "Data-quality check of the prod endpoint's captured requests against its model's baseline"
    try:
        sagemaker.update_pipeline(
            PipelineName=name,
            PipelineDefinition=definition,
            PipelineDescription=description,
            RoleArn=role_arn,
        )
    except ClientError as exc:
        if not _missing(exc):
            raise
        sagemaker.create_pipeline(
            PipelineName=name,
            PipelineDefinition=definition,
            PipelineDescription=description,
            RoleArn=role_arn,
            Tags=tags,
        )


def start(args, environ, sagemaker) -> str:
    watched(args, environ)
    found = what_to_check(sagemaker, f"{args.sagemaker_project_name}-prod")
    package = found.pop("package")
    settings = build.resolve_settings("prod", {}, environ)
    values = {
        **found,
        "ReportsUri": f"s3://{args.s3_bucket}/monitoring/{args.sagemaker_project_name}-prod",
        "WindowHours": str(window_hours(args.schedule_expression)),
        "InstanceType": settings["MonitoringInstanceType"],
        "Region": sagemaker.meta.region_name,
    }
    name = f"{args.sagemaker_project_name}-{args.sagemaker_project_id}-data-quality"
    tags = [
        {"Key": "sagemaker:project-name", "Value": args.sagemaker_project_name},
        {"Key": "sagemaker:project-id", "Value": args.sagemaker_project_id},
    ]
    upsert_pipeline(sagemaker, name, args.role_arn, tags)
    execution = sagemaker.start_pipeline_execution(
        PipelineName=name,
        PipelineExecutionDescription=f"{values['EndpointName']} against the baseline of {package}",
        PipelineParameters=[{"Name": k, "Value": v} for k, v in values.items()],
    )
    return execution["PipelineExecutionArn"]


def parse_args(argv=None) -> argparse.Namespace:
    env = os.environ.get
    parser = build._Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sagemaker-project-name", default=env("SAGEMAKER_PROJECT_NAME"))
    parser.add_argument("--sagemaker-project-id", default=env("SAGEMAKER_PROJECT_ID"))
    parser.add_argument(
        "--s3-bucket", default=env("ARTIFACT_BUCKET"), help="artifact bucket (reports go there)"
    )
    parser.add_argument(
        "--role-arn",
        default=env("MODEL_EXECUTION_ROLE_ARN"),
        help="role the check pipeline and its job run as",
    )
    parser.add_argument(
        "--schedule-expression",
        default=env("MONITORING_SCHEDULE_EXPRESSION") or _HOURLY,
        help="the schedule that starts the check; each run analyzes the hours since the previous one",
    )
    parser.add_argument("--import-prod-config", default="prod-config.json")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    for name in ("sagemaker_project_name", "sagemaker_project_id", "s3_bucket", "role_arn"):
        if not getattr(args, name):
            flag = f"--{name.replace('_', '-')}"
            print(
                f"error: {flag} is empty; check the data-quality build project's environment", file=sys.stderr
            )
            return 2
    try:
        window_hours(args.schedule_expression)
        sagemaker = boto3.client(
            "sagemaker", region_name=os.environ.get("AWS_REGION") or None, config=build.retry_config()
        )
        arn = start(args, os.environ, sagemaker)
    except Skip as skip:
        print(f"data-quality check: skipped: {skip}")
        return 0
    except build.BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1
    print(f"data-quality check: started {arn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
