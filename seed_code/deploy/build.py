#!/usr/bin/env python3
"""Render the staging and prod stage configs for the newest Approved model package.

Runs in the deploy pipeline's Build stage (buildspec.yml). It finds the newest *Approved* package of the model
package group, validates both stage configs, and writes them in CodePipeline TemplateConfiguration format
(``{"Parameters": {...}, "Tags": {...}}``, every value a string) for the CloudFormation deploy actions.

Where a stage setting comes from (first found wins):
  1. the value committed in staging-config.json / prod-config.json in this repository;
  2. the project's choice at project creation (environment variables set by the deploy build project:
     STAGING_MEMORY_SIZE_MB, STAGING_MAX_CONCURRENCY, STAGING_PROVISIONED_CONCURRENCY, PROD_INSTANCE_TYPE,
     PROD_MIN_INSTANCE_COUNT (PROD_INSTANCE_COUNT for projects created before it), PROD_MAX_INSTANCE_COUNT,
     PROD_TARGET_INVOCATIONS_PER_INSTANCE, PROD_DEPLOYMENT_STRATEGY, PROD_CANARY_SIZE_PERCENT,
     PROD_LINEAR_STEP_PERCENT, PROD_BAKE_TIME_SECONDS, PROD_ALARM_ROLLBACK, PROD_LATENCY_P99_THRESHOLD_MS,
     PROD_SAMPLING_PERCENTAGE, MONITORING_BACKEND, MONITORING_SCHEDULE_EXPRESSION);
  3. the defaults below (the blog's: 2048 MB, MaxConcurrency 20; one ml.m5.large with data capture, no
     autoscaling, canary updates without alarm rollback).

Prod updates go blue/green (DeploymentStrategy canary, linear or all-at-once). A canary or linear step must be at
most half of the fleet (SageMaker's TrafficRoutingConfig), so with one instance (EndpointInstanceCount 1) build.py
deploys all-at-once and says so; a canary committed in prod-config.json with one instance is refused. Autoscaling
(MaxInstanceCount above EndpointInstanceCount) and AlarmRollback "true" need project roles allowed
application-autoscaling and cloudwatch (the product refuses them under the SageMaker-managed roles).

Prod is watched for data quality against the deployed package's own baseline (the statistics and constraints its
build registered as DriftCheckBaselines.ModelDataQuality), by the project's MonitoringBackend (MONITORING_BACKEND):
"project" (the default: the project's own check, monitoring/start_check.py, started on the project's schedule; it
works in every account), "model-monitor" (SageMaker Model Monitor, for accounts that already use it: build.py
renders the baseline into the prod export, and the prod stack creates a data-quality job definition and schedule)
or "off". EnableMonitoring "false" in prod-config.json turns either off; a package without a baseline deploys
unwatched, and build.py says so. Staging is serverless and cannot be monitored: a staging config that asks for
monitoring is refused.

Every problem is reported as one line on stderr with exit code 1, and then no export file is written.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("build")

MEMORY_SIZES = ("1024", "2048", "3072", "4096", "5120", "6144")
STAGES = ("staging", "prod")
# Settings a stage config may carry, with the environment variable of the project parameter and the default.
STAGE_SETTINGS = {
    "staging": {
        "MemorySizeInMB": ("STAGING_MEMORY_SIZE_MB", "2048"),
        "MaxConcurrency": ("STAGING_MAX_CONCURRENCY", "20"),
        "ProvisionedConcurrency": ("STAGING_PROVISIONED_CONCURRENCY", "0"),
    },
    "prod": {
        "EndpointInstanceType": ("PROD_INSTANCE_TYPE", "ml.m5.large"),
        # PROD_INSTANCE_COUNT: the variable of projects created before autoscaling (ProdInstanceCount)
        "EndpointInstanceCount": (("PROD_MIN_INSTANCE_COUNT", "PROD_INSTANCE_COUNT"), "1"),
        # 0: the same as EndpointInstanceCount, no autoscaling (so raising the minimum alone never asks for it)
        "MaxInstanceCount": ("PROD_MAX_INSTANCE_COUNT", "0"),
        "TargetInvocationsPerInstance": ("PROD_TARGET_INVOCATIONS_PER_INSTANCE", "70"),
        "DeploymentStrategy": ("PROD_DEPLOYMENT_STRATEGY", "canary"),
        "CanarySizePercent": ("PROD_CANARY_SIZE_PERCENT", "25"),
        "LinearStepPercent": ("PROD_LINEAR_STEP_PERCENT", "25"),
        "BakeTimeSeconds": ("PROD_BAKE_TIME_SECONDS", "600"),
        "AlarmRollback": ("PROD_ALARM_ROLLBACK", "false"),
        "LatencyP99ThresholdMs": ("PROD_LATENCY_P99_THRESHOLD_MS", "500"),
        "EnableDataCapture": (None, "true"),
        "SamplingPercentage": ("PROD_SAMPLING_PERCENTAGE", "80"),
        "EnableMonitoring": (None, "true"),
        "MonitoringBackend": ("MONITORING_BACKEND", "project"),
        "MonitoringScheduleExpression": ("MONITORING_SCHEDULE_EXPRESSION", "cron(0 * ? * * *)"),
        "MonitoringInstanceType": (None, "ml.m5.xlarge"),
    },
}
MONITORING_SETTINGS = (
    "EnableMonitoring",
    "MonitoringBackend",
    "MonitoringScheduleExpression",
    "MonitoringInstanceType",
)
MONITORING_BACKENDS = ("project", "model-monitor", "off")
DEPLOYMENT_STRATEGIES = ("canary", "linear", "all-at-once")
# Prod's rollout settings: a staging config that sets one is told that staging is serverless.
ROLLOUT_SETTINGS = (
    "MaxInstanceCount",
    "TargetInvocationsPerInstance",
    "DeploymentStrategy",
    "CanarySizePercent",
    "LinearStepPercent",
    "BakeTimeSeconds",
    "AlarmRollback",
    "LatencyP99ThresholdMs",
)
# The rollback alarms go off on 2 of 3 one-minute periods (endpoint-config-template.yml): a shorter bake cannot
# see them.
MIN_ALARM_BAKE_SECONDS = 180
# The cron forms both schedulers accept (Model Monitor's ScheduleConfig and an EventBridge schedule rule): hourly,
# daily at hour H, every N hours from hour H.
SCHEDULE_EXPRESSION = re.compile(
    r"cron\(0 (\*|(0?[0-9]|1[0-9]|2[0-3])(/(0?[1-9]|1[0-9]|2[0-4]))?) \? \* \* \*\)"
)
# Parameters build.py injects; a stage config must not set them.
INJECTED = (
    "SageMakerProjectName",
    "ModelPackageName",
    "ModelExecutionRoleArn",
    "DataCaptureUploadPath",
    "DataQualityBaselineStatisticsUri",
    "DataQualityBaselineConstraintsUri",
    "MonitoringJobDefinitionName",
    "MonitoringReportsUri",
)
TOP_LEVEL_KEYS = ("Parameters", "Tags")


class BuildError(Exception):
    """A problem the user must fix; the message is the whole story, in one line."""


def retry_config() -> Config:
    return Config(retries={"mode": "standard", "max_attempts": 5})


def newest_approved_package(sagemaker, group_name: str) -> dict:
    """The newest Approved package of the group, scanning every page (the API pages before it filters)."""
    newest = None
    kwargs = {
        "ModelPackageGroupName": group_name,
        "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 100,
    }
    try:
        for page in sagemaker.get_paginator("list_model_packages").paginate(**kwargs):
            for summary in page["ModelPackageSummaryList"]:
                if newest is None or summary["CreationTime"] > newest["CreationTime"]:
                    newest = summary
    except ClientError as exc:
        message = exc.response["Error"]["Message"]
        if "does not exist" in message:
            raise BuildError(
                f"model package group {group_name} does not exist yet: the build pipeline creates it when it "
                "registers its first model; run the build pipeline, then approve a model"
            ) from exc
        raise BuildError(f"cannot list model packages of group {group_name}: {message}") from exc
    if newest is None:
        raise BuildError(
            f"no Approved model package in model package group {group_name}: approve one in SageMaker Studio "
            "(Models > Registered models) or with aws sagemaker update-model-package --model-approval-status Approved"
        )
    return newest


def load_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise BuildError(f"stage config {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise BuildError(f"stage config {path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise BuildError(f"stage config {path} must be a JSON object with 'Parameters' and 'Tags'")
    return config


def _closest(name: str, known) -> str:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f" (did you mean {match[0]}?)" if match else ""


def validate_config(path: Path, config: dict, expected_stage: str) -> dict[str, str]:
    """Check a stage config; return its parameters (strings)."""
    for key in config:
        if key not in TOP_LEVEL_KEYS:
            raise BuildError(
                f"{path}: unknown key {key!r}{_closest(key, TOP_LEVEL_KEYS)}; allowed: Parameters, Tags"
            )
    parameters = config.get("Parameters")
    if not isinstance(parameters, dict):
        raise BuildError(f"{path}: 'Parameters' must be an object of string values")
    tags = config.get("Tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise BuildError(f"{path}: 'Tags' must be an object of string values")
    for key, value in parameters.items():
        if not isinstance(value, str):
            raise BuildError(
                f'{path}: parameter {key} must be a string (CodePipeline requires it), e.g. "{value}" not {value}'
                if isinstance(value, int | float)
                else f"{path}: parameter {key} must be a string (CodePipeline requires it)"
            )
    stage = parameters.get("StageName")
    if stage is None:
        raise BuildError(f'{path}: Parameters.StageName is missing; set it to "{expected_stage}"')
    if stage != expected_stage:
        raise BuildError(f"{path}: StageName is {stage!r} but this file configures {expected_stage!r}")
    known = set(STAGE_SETTINGS[stage]) | {"StageName"}
    for key in parameters:
        if key in INJECTED:
            raise BuildError(f"{path}: parameter {key} is set by build.py; remove it from the stage config")
        if key not in known:
            if stage == "staging" and key in MONITORING_SETTINGS:
                raise BuildError(
                    f"{path}: {key} cannot be set for staging: staging is a serverless endpoint, and SageMaker "
                    "Model Monitor does not support serverless endpoints (prod is monitored; set it in prod-config.json)"
                )
            if stage == "staging" and key in ROLLOUT_SETTINGS:
                raise BuildError(
                    f"{path}: {key} cannot be set for staging: staging is a serverless endpoint, which has no "
                    "instances to autoscale and no deployment guardrails (set it in prod-config.json)"
                )
            other = next((s for s in STAGES if key in STAGE_SETTINGS[s]), None)
            hint = f" ({key} applies to the {other} stage only)" if other else _closest(key, known)
            raise BuildError(f"{path}: unknown parameter {key!r}{hint}")
    return dict(parameters)


def _environment_name(env_names, environ) -> str | None:
    """The first of a setting's environment variables that is set and not empty."""
    names = (env_names,) if isinstance(env_names, str) else tuple(env_names or ())
    return next((name for name in names if environ.get(name, "") != ""), None)


def resolve_settings(stage: str, committed: dict[str, str], environ) -> dict[str, str]:
    """Committed value > project parameter (environment) > default."""
    resolved = {}
    for key, (env_names, default) in STAGE_SETTINGS[stage].items():
        env_name = _environment_name(env_names, environ)
        if key in committed:
            resolved[key] = committed[key]
        elif env_name:
            resolved[key] = environ[env_name]
        else:
            resolved[key] = default
    return resolved


def setting_origins(source: Path, stage: str, committed: dict[str, str], environ) -> dict[str, str]:
    """Where each resolved value came from, so an error blames the file or the variable that set it."""
    origins = {}
    for key, (env_names, _) in STAGE_SETTINGS[stage].items():
        env_name = _environment_name(env_names, environ)
        if key in committed:
            origins[key] = str(source)
        elif env_name:
            origins[key] = (
                f"environment variable {env_name} (the project's choice at creation; "
                f"a value committed in {source.name} would override it)"
            )
        else:
            origins[key] = "build.py default"
    return origins


def check_values(label, stage: str, values: dict[str, str]) -> None:
    """``label`` names where the values came from: one string, or a dict with an origin per setting."""

    def where(key: str) -> str:
        return label[key] if isinstance(label, dict) else label

    def integer(key: str, low: int, high: int | None) -> int:
        raw = values[key]
        if not re.fullmatch(r"\d+", raw):
            raise BuildError(f"{where(key)}: {key} must be a whole number, got {raw!r}")
        number = int(raw)
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise BuildError(f"{where(key)}: {key} must be {bound}, got {number}")
        return number

    if stage == "staging":
        if values["MemorySizeInMB"] not in MEMORY_SIZES:
            raise BuildError(
                f"{where('MemorySizeInMB')}: MemorySizeInMB must be one of {', '.join(MEMORY_SIZES)}, got {values['MemorySizeInMB']!r}"
            )
        maximum = integer("MaxConcurrency", 1, 200)
        provisioned = integer("ProvisionedConcurrency", 0, 200)
        if provisioned > maximum:
            raise BuildError(
                f"{where('ProvisionedConcurrency')}: ProvisionedConcurrency ({provisioned}) must not exceed "
                f"MaxConcurrency ({maximum})"
            )
    else:
        if not re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", values["EndpointInstanceType"]):
            raise BuildError(
                f"{where('EndpointInstanceType')}: EndpointInstanceType must look like ml.<family>.<size> (e.g. ml.m5.large), "
                f"got {values['EndpointInstanceType']!r}"
            )
        minimum = integer("EndpointInstanceCount", 1, None)
        maximum = integer("MaxInstanceCount", 0, None)
        if 0 < maximum < minimum:
            raise BuildError(
                f"{where('MaxInstanceCount')}: MaxInstanceCount ({maximum}) must be at least EndpointInstanceCount "
                f"({minimum}, the minimum autoscaling keeps); equal (or 0) means no autoscaling"
            )
        integer("TargetInvocationsPerInstance", 1, None)
        if values["DeploymentStrategy"] not in DEPLOYMENT_STRATEGIES:
            raise BuildError(
                f"{where('DeploymentStrategy')}: DeploymentStrategy must be one of "
                f"{', '.join(DEPLOYMENT_STRATEGIES)}, got {values['DeploymentStrategy']!r}"
            )
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html
        integer("CanarySizePercent", 1, 50)
        integer("LinearStepPercent", 10, 50)
        bake = integer("BakeTimeSeconds", 0, 3600)
        integer("LatencyP99ThresholdMs", 1, 60000)
        integer("SamplingPercentage", 0, 100)
        for key in ("EnableDataCapture", "EnableMonitoring", "AlarmRollback"):
            if values[key] not in ("true", "false"):
                raise BuildError(f'{where(key)}: {key} must be "true" or "false"')
        if values["MonitoringBackend"] not in MONITORING_BACKENDS:
            raise BuildError(
                f"{where('MonitoringBackend')}: MonitoringBackend must be one of {', '.join(MONITORING_BACKENDS)}, "
                f"got {values['MonitoringBackend']!r}"
            )
        if not SCHEDULE_EXPRESSION.fullmatch(values["MonitoringScheduleExpression"]):
            raise BuildError(
                f"{where('MonitoringScheduleExpression')}: MonitoringScheduleExpression must be one of the cron forms "
                "the schedulers accept: cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H, 0-23) or "
                f"cron(0 H/N ? * * *) (every N hours from H, N 1-24), got {values['MonitoringScheduleExpression']!r}"
            )
        if not re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", values["MonitoringInstanceType"]):
            raise BuildError(
                f"{where('MonitoringInstanceType')}: MonitoringInstanceType must look like ml.<family>.<size> "
                f"(e.g. ml.m5.xlarge), got {values['MonitoringInstanceType']!r}"
            )
        if values["AlarmRollback"] == "true" and bake < MIN_ALARM_BAKE_SECONDS:
            raise BuildError(
                f'{where("BakeTimeSeconds")}: AlarmRollback "true" needs BakeTimeSeconds of at least '
                f"{MIN_ALARM_BAKE_SECONDS} (the rollback alarms go off on 2 of 3 one-minute periods, so a shorter "
                f"bake ends before they can), got {bake}"
            )
        # A strategy committed in prod-config.json is the team's explicit choice: refused when it cannot apply. The
        # project's choice or the default is deployed all-at-once on one instance (rollout_settings says so).
        committed = not where("DeploymentStrategy").startswith(("environment variable", "build.py default"))
        if values["DeploymentStrategy"] != "all-at-once" and minimum == 1 and committed:
            raise BuildError(
                f"{where('DeploymentStrategy')}: DeploymentStrategy {values['DeploymentStrategy']!r} needs "
                "EndpointInstanceCount 2 or more (a canary or linear step must be at most half of the fleet); set "
                'EndpointInstanceCount to 2 or DeploymentStrategy to "all-at-once"'
            )
        if (
            values["EnableMonitoring"] == "true"
            and values["MonitoringBackend"] != "off"
            and values["EnableDataCapture"] != "true"
        ):
            raise BuildError(
                f'{where("EnableMonitoring")}: EnableMonitoring "true" needs EnableDataCapture "true" (monitoring '
                'analyzes the captured requests); set EnableMonitoring to "false" to deploy without it'
            )


def rollout_settings(settings: dict[str, str]) -> tuple[dict[str, str], str]:
    """Prod's rollout settings as deployed, and a line that says what an update of prod will do.

    A canary or linear step must be at most half of the variant's instances
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html), so one instance is
    deployed all-at-once (still blue/green: the new fleet is up before traffic moves, and baked before the old one
    goes)."""
    settings = dict(settings)
    minimum = int(settings["EndpointInstanceCount"])
    maximum = int(settings["MaxInstanceCount"]) or minimum  # 0: no autoscaling
    settings["MaxInstanceCount"] = str(maximum)
    strategy = settings["DeploymentStrategy"]
    fallback = ""
    if strategy != "all-at-once" and minimum < 2:
        settings["DeploymentStrategy"] = "all-at-once"
        fallback = (
            f" ({strategy} needs at least 2 instances: a canary or linear step is at most half of the fleet; "
            "set ProdMinInstanceCount to 2 for it)"
        )
    shift = {
        "canary": f"canary {settings['CanarySizePercent']} %",
        "linear": f"linear {settings['LinearStepPercent']} % steps",
        "all-at-once": "all at once",
    }[settings["DeploymentStrategy"]]
    scaling = (
        f"autoscaling {minimum}-{maximum} x {settings['EndpointInstanceType']} at "
        f"{settings['TargetInvocationsPerInstance']} invocations/instance/minute"
        if maximum > minimum
        else f"{minimum} x {settings['EndpointInstanceType']}, no autoscaling"
    )
    rollback = (
        f"rolled back by its 5XX and p99 latency (> {settings['LatencyP99ThresholdMs']} ms) alarms"
        if settings["AlarmRollback"] == "true"
        else "no alarm rollback"
    )
    note = (
        f"prod rollout: {scaling}; updates blue/green, traffic shifted {shift}{fallback}, each step baked "
        f"{settings['BakeTimeSeconds']} s, {rollback}"
    )
    return settings, note


def instance_type_warning(sagemaker, endpoint_name: str, settings: dict[str, str]) -> str | None:
    """A line when an update would change the instance type of prod while autoscaling is asked for: SageMaker
    refuses to change the instance type of a variant registered with Application Auto Scaling
    (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html). Whether prod is registered
    now is Application Auto Scaling's to say, which the deploy build may not ask, hence a warning."""
    if int(settings["MaxInstanceCount"]) <= int(settings["EndpointInstanceCount"]):
        return None
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    except (ClientError, BotoCoreError):
        return None  # no prod yet (or not readable): nothing to compare
    current = next(
        (v.get("InstanceType") for v in config.get("ProductionVariants", []) if v.get("InstanceType")), None
    )
    wanted = settings["EndpointInstanceType"]
    if current is None or current == wanted:
        return None
    return (
        f"warning: prod's instance type changes from {current} to {wanted}: if prod is autoscaled now, SageMaker "
        "refuses the update; deploy once with ProdMaxInstanceCount equal to ProdMinInstanceCount and the old type "
        "(autoscaling off), then the new type (docs/production.md)"
    )


def arn_candidates(project_arn: str) -> list[str]:
    """The ARN as given, then with the project name lower-cased (SageMaker lower-cases names in its ARNs;
    the product template builds the ARN from the name as typed)."""
    prefix, _, name = project_arn.rpartition("/")
    lowered = f"{prefix}/{name.lower()}"
    return [project_arn] if lowered == project_arn else [project_arn, lowered]


def project_tags(sagemaker, project_arn: str | None) -> dict[str, str]:
    if not project_arn:
        return {}
    failure = None
    for arn in arn_candidates(project_arn):
        tags: dict[str, str] = {}
        try:
            for page in sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn):
                for tag in page.get("Tags", []):
                    if not tag["Key"].startswith("aws:"):  # reserved: CloudFormation refuses to set them
                        tags[tag["Key"]] = tag["Value"]
            return tags
        except (ClientError, BotoCoreError) as exc:
            failure = exc
    raise BuildError(f"cannot read the tags of project {project_arn}: {failure}")


def data_quality_baseline(sagemaker, package_arn: str) -> dict[str, str] | None:
    """The package's data-quality baseline (DriftCheckBaselines.ModelDataQuality), or None when it has none."""
    try:
        package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    except ClientError as exc:
        raise BuildError(
            f"cannot describe model package {package_arn}: {exc.response['Error']['Message']}"
        ) from exc
    quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    statistics = (quality.get("Statistics") or {}).get("S3Uri")
    constraints = (quality.get("Constraints") or {}).get("S3Uri")
    if not statistics or not constraints:
        return None
    return {"DataQualityBaselineStatisticsUri": statistics, "DataQualityBaselineConstraintsUri": constraints}


def monitoring_parameters(args, package_arn: str, settings: dict[str, str], baseline: dict | None) -> dict:
    """Prod's endpoint template parameters for Model Monitor (the "model-monitor" backend only; the project's own
    check needs nothing in the prod stack). The job definition's name is derived from its content: every change of
    a job definition replaces it, and CloudFormation creates the replacement before it deletes the old one."""
    if (
        settings["MonitoringBackend"] != "model-monitor"
        or settings["EnableMonitoring"] != "true"
        or baseline is None
    ):
        return {"EnableMonitoring": "false"}
    reports = f"s3://{args.s3_bucket}/monitoring/{args.sagemaker_project_name}-prod"
    content = json.dumps(
        [package_arn, baseline, reports, settings["MonitoringInstanceType"], args.model_execution_role]
    )
    digest = hashlib.sha256(content.encode()).hexdigest()[:10]
    return {
        **baseline,
        "MonitoringJobDefinitionName": f"{args.sagemaker_project_name}-prod-dq-{digest}",
        "MonitoringReportsUri": reports,
    }


def render(args, environ, sagemaker) -> tuple[dict[Path, dict], str]:
    """Validate everything, then return ({export path: export content}, a line on prod's monitoring). Writes
    nothing."""
    configs = {
        "staging": (Path(args.import_staging_config), Path(args.export_staging_config)),
        "prod": (Path(args.import_prod_config), Path(args.export_prod_config)),
    }
    validated = {}
    for stage, (source, _) in configs.items():
        config = load_config(source)
        committed = validate_config(source, config, stage)
        settings = resolve_settings(stage, committed, environ)
        check_values(setting_origins(source, stage, committed, environ), stage, settings)
        validated[stage] = (settings, dict(config.get("Tags") or {}))

    package = newest_approved_package(sagemaker, args.model_package_group_name)
    log.info("deploying %s (created %s)", package["ModelPackageArn"], package["CreationTime"])
    extra_tags = project_tags(sagemaker, args.sagemaker_project_arn)
    baseline, prod = None, validated["prod"][0]
    backend = prod["MonitoringBackend"]
    if backend == "off":
        note = 'prod monitoring: off (MonitoringBackend is "off")'
    elif prod["EnableMonitoring"] != "true":
        note = 'prod monitoring: off (EnableMonitoring is "false")'
    else:
        baseline = data_quality_baseline(sagemaker, package["ModelPackageArn"])
        if baseline is None:
            note = (
                f"prod monitoring: off: model package {package['ModelPackageArn']} has no data-quality baseline "
                "(DriftCheckBaselines.ModelDataQuality), so prod deploys without monitoring"
            )
        else:
            by = (
                "the project's data-quality check (MonitoringBackend project)"
                if backend == "project"
                else "SageMaker Model Monitor (MonitoringBackend model-monitor)"
            )
            note = (
                f"prod monitoring: data quality by {by}, {prod['MonitoringScheduleExpression']} on "
                f"{prod['MonitoringInstanceType']}, baseline {baseline['DataQualityBaselineConstraintsUri']}"
            )

    rollout, rollout_note = rollout_settings(prod)
    validated["prod"] = (rollout, validated["prod"][1])
    note = f"{note}\n{rollout_note}"
    warning = instance_type_warning(sagemaker, f"{args.sagemaker_project_name}-prod", rollout)
    if warning:
        note = f"{note}\n{warning}"

    exports = {}
    for stage, (settings, committed_tags) in validated.items():
        parameters = {
            "StageName": stage,
            "SageMakerProjectName": args.sagemaker_project_name,
            "ModelPackageName": package["ModelPackageArn"],
            "ModelExecutionRoleArn": args.model_execution_role,
            "DataCaptureUploadPath": f"s3://{args.s3_bucket}/datacapture/{args.sagemaker_project_name}-{stage}",
            **settings,
        }
        if stage == "prod":
            parameters.update(monitoring_parameters(args, package["ModelPackageArn"], settings, baseline))
        tags = {
            **extra_tags,
            **committed_tags,
            "sagemaker:deployment-stage": stage,
            "sagemaker:project-id": args.sagemaker_project_id,
            "sagemaker:project-name": args.sagemaker_project_name,
        }
        exports[configs[stage][1]] = {"Parameters": parameters, "Tags": tags}
    return exports, note


def write_atomically(exports: dict[Path, dict]) -> None:
    """Write every export or none: temporary files first, renamed only when all are written."""
    pending = []
    try:
        for path, content in exports.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
                pending.append((Path(handle.name), path))
                json.dump(content, handle, indent=2, sort_keys=True)
                handle.write("\n")
        for temporary, path in pending:
            os.replace(temporary, path)
    finally:
        for temporary, _ in pending:
            temporary.unlink(missing_ok=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def check_exports(*paths: str) -> None:
    """Export paths must be files we can create, checked before any AWS call (nothing half-written)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            raise BuildError(f"export path {path} is a directory; give a file name")
        parent = path.parent.resolve()
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise BuildError(f"cannot write export {path}: {parent} is not a writable directory")


def parse_args(argv=None) -> argparse.Namespace:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default=os.environ.get("LOGLEVEL", "INFO").upper())
    parser.add_argument(
        "--model-execution-role", required=True, help="role ARN the endpoints' models run with"
    )
    parser.add_argument("--model-package-group-name", required=True)
    parser.add_argument("--sagemaker-project-id", required=True)
    parser.add_argument("--sagemaker-project-name", required=True)
    parser.add_argument(
        "--sagemaker-project-arn", help="when given, the project's tags are added to the stacks"
    )
    parser.add_argument("--s3-bucket", required=True, help="artifact bucket (data capture goes there)")
    parser.add_argument("--import-staging-config", default="staging-config.json")
    parser.add_argument("--import-prod-config", default="prod-config.json")
    parser.add_argument("--export-staging-config", default="staging-config-export.json")
    parser.add_argument("--export-prod-config", default="prod-config-export.json")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        print(
            f"error: --log-level (or LOGLEVEL) {args.log_level!r} is not DEBUG, INFO, WARNING or ERROR",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(message)s")
    for name in ("sagemaker_project_name", "sagemaker_project_id", "model_execution_role", "s3_bucket"):
        if not getattr(args, name):
            print(
                f"error: --{name.replace('_', '-')} is empty; check the build project's environment",
                file=sys.stderr,
            )
            return 2
    try:
        check_exports(args.export_staging_config, args.export_prod_config)
        region = (
            os.environ.get("AWS_REGION") or None
        )  # CodeBuild sets it; boto3 itself reads AWS_DEFAULT_REGION
        sagemaker = boto3.client("sagemaker", region_name=region, config=retry_config())
        exports, note = render(args, os.environ, sagemaker)
        write_atomically(exports)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot write the exports: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    for path, content in exports.items():
        print(f"wrote {path}: {json.dumps(content['Parameters'], sort_keys=True)}")
    print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
