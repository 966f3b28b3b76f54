#!/usr/bin/env python3
"""After the prod deploy, check that prod serves what the deploy asked for; fail, saying so, when it does not.

Runs in the deploy pipeline's DeployProd stage after the CloudFormation action (the VerifyProd build project's
buildspec, inline in the product template). A prod
update goes blue/green, and when one of the rollback alarms goes off during a bake SageMaker shifts all traffic back
to the old fleet: the endpoint is ``InService`` again, on its previous endpoint config, with a ``FailureReason``
(https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html). Whether the CloudFormation
update reports that as a failure or not, this check does: it reads the prod export ``build.py`` wrote (what the
prod stack was deployed with) and compares it with what the endpoint serves (``DescribeEndpoint`` -> its
endpoint config -> the variant's model -> the model package):

- the model package, the instance type and the initial instance count of the ``AllTraffic`` variant;
- data capture on or off, and its sampling percentage.

Prod not ``InService`` (after waiting out ``Updating``/``RollingBack`` for ``--wait-seconds``), or serving something
else, is one line on stderr naming the endpoint config it serves, the model package it serves and the one asked
for, and SageMaker's reason, with exit code 1. It reads only SageMaker (``DescribeEndpoint``,
``DescribeEndpointConfig``, ``DescribeModel``): the project's CodeBuild role, managed or custom, may do that, and
needs no CloudFormation or CloudWatch permission.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

VARIANT = "AllTraffic"
# Statuses an endpoint passes through on its way back to InService (or to Failed).
TRANSITIONAL = ("Creating", "Updating", "SystemUpdating", "RollingBack")
DOCS = "see docs/production.md (rolling back by hand)"


class VerifyError(Exception):
    """Prod does not serve what the deploy asked for; the message is the whole story, in one line."""


def load_export(path: Path) -> dict[str, str]:
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise VerifyError(
            f"prod export {path} does not exist (the Build stage's prod-config-export.json)"
        ) from None
    except json.JSONDecodeError as exc:
        raise VerifyError(f"prod export {path} is not valid JSON: {exc}") from None
    parameters = config.get("Parameters") if isinstance(config, dict) else None
    if not isinstance(parameters, dict) or parameters.get("StageName") != "prod":
        raise VerifyError(f"{path} is not a prod export: it has no Parameters with StageName prod")
    for key in ("SageMakerProjectName", "ModelPackageName", "EndpointInstanceType", "EndpointInstanceCount"):
        if not parameters.get(key):
            raise VerifyError(f"{path}: Parameters.{key} is missing")
    return parameters


def wait_for_endpoint(sagemaker, name: str, wait_seconds: float, poll_seconds: float) -> dict:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=name)
        except ClientError as exc:
            raise VerifyError(
                f"prod endpoint {name} cannot be described: {exc.response['Error'].get('Message', exc)}"
            ) from exc
        if endpoint["EndpointStatus"] not in TRANSITIONAL or time.monotonic() >= deadline:
            return endpoint
        time.sleep(poll_seconds)


def served(sagemaker, endpoint: dict) -> dict:
    """What the endpoint serves: its endpoint config's variant, and the model package of the variant's model."""
    config_name = endpoint["EndpointConfigName"]
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except ClientError as exc:
        raise VerifyError(
            f"prod endpoint {endpoint['EndpointName']} serves endpoint config {config_name}, which cannot be "
            f"described ({exc.response['Error'].get('Message', exc)}): it may have been deleted; {DOCS}"
        ) from exc
    variants = {v["VariantName"]: v for v in config.get("ProductionVariants", [])}
    variant = variants.get(VARIANT) or next(iter(variants.values()), {})
    try:
        model = sagemaker.describe_model(ModelName=variant.get("ModelName", ""))
    except ClientError as exc:
        raise VerifyError(
            f"prod endpoint {endpoint['EndpointName']} serves model {variant.get('ModelName')}, which cannot be "
            f"described ({exc.response['Error'].get('Message', exc)}); {DOCS}"
        ) from exc
    container = model.get("PrimaryContainer") or next(iter(model.get("Containers") or []), {})
    capture = config.get("DataCaptureConfig") or {}
    return {
        "EndpointConfigName": config_name,
        "ModelPackageName": container.get("ModelPackageName", ""),
        "EndpointInstanceType": variant.get("InstanceType", ""),
        "EndpointInstanceCount": str(variant.get("InitialInstanceCount", "")),
        "EnableDataCapture": "true" if capture.get("EnableCapture") else "false",
        "SamplingPercentage": str(capture.get("InitialSamplingPercentage", "")) if capture else "",
    }


def differences(asked: dict[str, str], serving: dict[str, str]) -> list[str]:
    found = []
    if asked["ModelPackageName"].lower() != serving["ModelPackageName"].lower():
        found.append(
            f"model package {serving['ModelPackageName'] or '(none)'}, not {asked['ModelPackageName']}"
        )
    for key in ("EndpointInstanceType", "EndpointInstanceCount"):
        if asked[key] != serving[key]:
            found.append(f"{key} {serving[key]}, not {asked[key]}")
    capture = asked.get("EnableDataCapture", "true")
    if capture != serving["EnableDataCapture"]:
        found.append(f"data capture {serving['EnableDataCapture']}, not {capture}")
    elif (
        capture == "true"
        and asked.get("SamplingPercentage", serving["SamplingPercentage"]) != serving["SamplingPercentage"]
    ):
        found.append(f"sampling {serving['SamplingPercentage']} %, not {asked['SamplingPercentage']} %")
    return found


def verify(sagemaker, asked: dict[str, str], wait_seconds: float = 1500, poll_seconds: float = 15) -> str:
    """One line saying what prod serves; raises :class:`VerifyError` when it is not what ``asked`` says."""
    name = f"{asked['SageMakerProjectName']}-prod"
    endpoint = wait_for_endpoint(sagemaker, name, wait_seconds, poll_seconds)
    status, reason = endpoint["EndpointStatus"], endpoint.get("FailureReason")
    because = f": {reason}" if reason else ""
    if status != "InService":
        raise VerifyError(
            f"prod endpoint {name} is {status} on endpoint config {endpoint.get('EndpointConfigName')}{because}; {DOCS}"
        )
    serving = served(sagemaker, endpoint)
    found = differences(asked, serving)
    if found:
        raise VerifyError(
            f"prod endpoint {name} was rolled back to endpoint config {serving['EndpointConfigName']}: it serves "
            f"{'; '.join(found)}{because or ' (SageMaker gave no reason)'}; {DOCS}"
        )
    return (
        f"prod endpoint {name} serves endpoint config {serving['EndpointConfigName']}: model package "
        f"{serving['ModelPackageName']} on {serving['EndpointInstanceCount']} x {serving['EndpointInstanceType']} "
        "(initial), InService"
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def parse_args(argv=None) -> argparse.Namespace:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--import-prod-config",
        required=True,
        help="the Build stage's prod-config-export.json (what prod was deployed with)",
    )
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=1500.0,
        help="how long to wait for an endpoint that is still Updating or RollingBack (default 1500)",
    )
    parser.add_argument("--poll-seconds", type=float, default=15.0, help="between two DescribeEndpoint calls")
    args = parser.parse_args(argv)
    if args.wait_seconds < 0 or args.poll_seconds <= 0:
        parser.error("--wait-seconds must be 0 or more and --poll-seconds more than 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        asked = load_export(Path(args.import_prod_config))
        region = os.environ.get("AWS_REGION") or None
        sagemaker = boto3.client(
            "sagemaker", region_name=region, config=Config(retries={"mode": "standard", "max_attempts": 5})
        )
        line = verify(sagemaker, asked, args.wait_seconds, args.poll_seconds)
    except VerifyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
