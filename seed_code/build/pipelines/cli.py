"""Console commands of the model build repository.

run-pipeline              upsert the SageMaker Pipeline, start it, wait, print each step, fail when it fails
get-pipeline-definition   print the pipeline definition JSON (nothing is created, uploaded or started; only the
                          JSON goes to stdout, the SDK's log lines go to stderr)

Both read the SageMaker project settings from flags whose defaults are the environment variables the project's
CodeBuild project sets: SAGEMAKER_PROJECT_NAME, SAGEMAKER_PROJECT_ID, SAGEMAKER_PROJECT_ARN, ARTIFACT_BUCKET,
SAGEMAKER_PIPELINE_ROLE_ARN, AWS_REGION. The pipeline and the model package group are named
<project name>-<project id>. run-pipeline also reads INPUT_DATA_URL (the project's InputDataUrl parameter): when set,
the execution trains on that S3 data instead of the pipeline's default.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TERMINAL = {"Succeeded", "Failed", "Stopped"}


class PipelineError(Exception):
    """One line for the user (exit 1)."""


class UsageError(PipelineError):
    """A flag (or the environment variable behind it) that cannot work (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw not in (None, "") else default
    except ValueError:
        print(f"error: environment variable {name}={raw!r} is not a number of seconds", file=sys.stderr)
        raise SystemExit(2) from None


def _parser(description: str) -> argparse.ArgumentParser:
    env = os.environ.get
    parser = _Parser(description=description)
    parser.add_argument(
        "--project-name", default=env("SAGEMAKER_PROJECT_NAME"), help="env SAGEMAKER_PROJECT_NAME"
    )
    parser.add_argument("--project-id", default=env("SAGEMAKER_PROJECT_ID"), help="env SAGEMAKER_PROJECT_ID")
    parser.add_argument(
        "--project-arn", default=env("SAGEMAKER_PROJECT_ARN"), help="env SAGEMAKER_PROJECT_ARN"
    )
    parser.add_argument(
        "--role-arn", default=env("SAGEMAKER_PIPELINE_ROLE_ARN"), help="env SAGEMAKER_PIPELINE_ROLE_ARN"
    )
    parser.add_argument("--default-bucket", default=env("ARTIFACT_BUCKET"), help="env ARTIFACT_BUCKET")
    parser.add_argument(
        "--region", default=env("AWS_REGION") or env("AWS_DEFAULT_REGION"), help="env AWS_REGION"
    )
    return parser


def _require(args, *names) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if not getattr(args, n)]
    if missing:
        raise UsageError(f"missing {', '.join(missing)} (or the environment variable named in --help)")
    _check(args)


# The rules SageMaker, IAM and S3 apply to these values, checked before anything is read or written.
_RULES = {
    "project_name": (
        r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}",
        "a SageMaker project name (letters, digits, hyphens)",
    ),
    "project_id": (r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,19}", "a SageMaker project id (like p-abcdefghijkl)"),
    "role_arn": (r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", "an IAM role ARN"),
    "default_bucket": (r"(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name"),
}


def _check(args) -> None:
    for name, (pattern, meaning) in _RULES.items():
        value = getattr(args, name, None)
        if value and not re.fullmatch(pattern, value):
            raise UsageError(f"--{name.replace('_', '-')} {value!r} is not {meaning}")
    if args.region:
        known = {r for p in ("aws", "aws-cn", "aws-us-gov") for r in _regions(p)}
        if args.region not in known:
            raise UsageError(f"--region {args.region!r} is not an AWS Region with SageMaker (like us-east-1)")
    for name in ("timeout_seconds", "poll_seconds"):
        value = getattr(args, name, None)
        if value is not None and not 0 < value < float("inf"):
            raise UsageError(
                f"--{name.replace('_', '-')} must be a positive number of seconds, got {value:g}"
            )


def _regions(partition: str) -> list[str]:
    """Regions with SageMaker in botocore's bundled endpoint data (offline; reads no profile)."""
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    resolver = EndpointResolver(create_loader().load_data("endpoints"))
    return resolver.get_available_endpoints("api.sagemaker", partition_name=partition)


def _sdk_logs_to_stderr() -> None:
    """The SDK logs (e.g. "sagemaker.config INFO - ...") to stdout unless its logger has a handler: give it one on
    stderr, so stdout carries only what the command prints (the definition JSON)."""
    logger = logging.getLogger("sagemaker")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s - %(message)s"))
        logger.addHandler(handler)


def _session(region: str):
    return boto3.session.Session(region_name=region)


def _opt_out_of_telemetry() -> None:
    """SAGEMAKER_TELEMETRY_OPT_OUT=true: the SDK sends no telemetry request.

    The SDK's own switch is a defaults config file (TelemetryOptOut), but with any config file present the
    SDK 2.x validates it against its JSON schema on every lookup, which costs seconds per pipeline build.
    """
    if os.environ.get("SAGEMAKER_TELEMETRY_OPT_OUT", "").lower() == "true":
        from sagemaker.telemetry import telemetry_logging

        telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None


def _definition_only(session_class):
    """A session that computes the S3 URIs of the code and files the pipeline uses without creating the bucket
    or uploading anything (what get-pipeline-definition needs: it must not write)."""

    class DefinitionOnlySession(session_class):
        def default_bucket(self):
            return self._default_bucket_name_override

        def upload_data(self, path, bucket=None, key_prefix="data", callback=None, extra_args=None):
            uri = f"s3://{bucket or self.default_bucket()}/{key_prefix}"
            return uri if os.path.isdir(path) else f"{uri}/{os.path.basename(path)}"

        def upload_string_as_file_body(self, body, bucket, key, kms_key=None):
            return f"s3://{bucket}/{key}"

    return DefinitionOnlySession


def _read_service_models_once() -> None:
    """One botocore loader for the whole process (idempotent).

    The SDK makes botocore sessions and loaders of its own as it builds a pipeline (at import, in Pipeline(), for
    each image URI it looks up, for the default session its estimators make), and each new one parses botocore's
    JSON endpoint data and service models again: a second or so per build. The data never changes within a
    process, so they all share one loader. Each command calls this first, before it reads the endpoint data or
    makes its session, so that these use the shared loader too.
    """
    import functools

    import botocore.loaders
    import botocore.session

    if getattr(botocore.loaders.create_loader, "shared", False):
        return
    cached = functools.cache(botocore.loaders.create_loader)

    def shared(search_path_string=None):  # one cache entry whether the argument is given or not
        return cached(search_path_string)

    shared.shared = True
    botocore.loaders.create_loader = shared
    botocore.session.create_loader = shared


def build_pipeline(args, boto_session, *, upload: bool = True):
    _sdk_logs_to_stderr()
    _opt_out_of_telemetry()
    from sagemaker.workflow.pipeline_context import PipelineSession

    from pipelines.abalone.pipeline import get_pipeline

    name = f"{args.project_name}-{args.project_id}"
    sagemaker_client = boto_session.client("sagemaker", config=Config(retries={"mode": "standard"}))
    session_class = PipelineSession if upload else _definition_only(PipelineSession)
    session = session_class(
        boto_session=boto_session, sagemaker_client=sagemaker_client, default_bucket=args.default_bucket
    )
    pipeline = get_pipeline(
        region=args.region,
        role=args.role_arn,
        default_bucket=args.default_bucket,
        pipeline_name=name,
        model_package_group_name=name,
        base_job_prefix=name,
        sagemaker_session=session,
    )
    return pipeline, sagemaker_client


def project_tags(sagemaker_client, args) -> list[dict]:
    tags = {}
    if args.project_arn:
        # The ARN as given, then with the name lower-cased (SageMaker lower-cases names in its ARNs).
        prefix, _, name = args.project_arn.rpartition("/")
        candidates = list(dict.fromkeys([args.project_arn, f"{prefix}/{name.lower()}"]))
        failure = None
        for arn in candidates:
            try:
                for page in sagemaker_client.get_paginator("list_tags").paginate(ResourceArn=arn):
                    tags.update(
                        {t["Key"]: t["Value"] for t in page["Tags"] if not t["Key"].startswith("aws:")}
                    )
                failure = None
                break
            except ClientError as exc:
                failure = exc
        if failure:
            raise PipelineError(f"cannot read the tags of project {args.project_arn}: {failure}")
    tags["sagemaker:project-name"] = args.project_name
    tags["sagemaker:project-id"] = args.project_id
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def wait(sagemaker_client, execution_arn: str, timeout_s: float, poll_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        execution = sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        if execution["PipelineExecutionStatus"] in TERMINAL:
            return execution
        if time.monotonic() > deadline:
            raise PipelineError(
                f"pipeline execution {execution_arn} still {execution['PipelineExecutionStatus']} after "
                f"{timeout_s:.0f} s (--timeout-seconds); it keeps running in SageMaker"
            )
        time.sleep(poll_s)


def print_steps(sagemaker_client, execution_arn: str) -> None:
    steps = []
    for page in sagemaker_client.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=execution_arn, SortOrder="Ascending"
    ):
        steps.extend(page["PipelineExecutionSteps"])
    for step in steps:
        reason = f" - {step['FailureReason']}" if step.get("FailureReason") else ""
        print(f"  {step['StepName']:<40} {step['StepStatus']}{reason}", flush=True)


def parse_parameters(pairs: list[str]) -> list[dict]:
    parameters = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--parameter {pair!r} must look like Name=Value")
        parameters.append({"Name": name, "Value": value})
    return parameters


def execution_parameters(pairs: list[str], input_data_url: str | None) -> list[dict]:
    """--parameter pairs, plus InputDataUrl from --input-data-url unless a --parameter names it."""
    parameters = parse_parameters(pairs)
    if input_data_url and not any(p["Name"] == "InputDataUrl" for p in parameters):
        if not re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", input_data_url):
            raise UsageError(
                f"--input-data-url {input_data_url!r} is not an S3 URI; give s3://bucket/key-or-prefix "
                "(or leave it empty for the pipeline's default data)"
            )
        parameters.append({"Name": "InputDataUrl", "Value": input_data_url})
    return parameters


def run_pipeline(argv=None) -> int:
    parser = _parser("Upsert and run the SageMaker Pipeline; wait for it; fail when the execution fails.")
    parser.add_argument("--parameter", action="append", default=[], help="execution parameter Name=Value")
    parser.add_argument(
        "--input-data-url",
        default=os.environ.get("INPUT_DATA_URL") or None,
        help="env INPUT_DATA_URL: S3 data to train on (default: the pipeline's InputDataUrl default)",
    )
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=_env_number("PIPELINE_TIMEOUT_SECONDS", 7200),
        help="env PIPELINE_TIMEOUT_SECONDS (7200)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=_env_number("PIPELINE_POLL_SECONDS", 30),
        help="env PIPELINE_POLL_SECONDS (30)",
    )
    args = parser.parse_args(argv)
    _read_service_models_once()  # before the Region check reads the endpoint data
    try:
        _require(args, "project_name", "project_id", "role_arn", "default_bucket", "region")
        parameters = execution_parameters(args.parameter, args.input_data_url)
        pipeline, sagemaker_client = build_pipeline(args, _session(args.region))
        tags = project_tags(sagemaker_client, args)
        # The model package group is not created here: the project's CodeBuild role may not touch groups
        # (model-package-group/* is not in its policy). The pipeline's RegisterModel step creates it, as the
        # pipeline's role, on the first registration.
        pipeline.upsert(role_arn=args.role_arn, tags=tags)
        started = sagemaker_client.start_pipeline_execution(
            PipelineName=pipeline.name,
            PipelineParameters=parameters,
            PipelineExecutionDisplayName=f"codebuild-{int(time.time())}",
        )
        arn = started["PipelineExecutionArn"]
        print(f"started {arn}", flush=True)
        execution = wait(sagemaker_client, arn, args.timeout_seconds, args.poll_seconds)
        print_steps(sagemaker_client, arn)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1
    status = execution["PipelineExecutionStatus"]
    print(f"pipeline {pipeline.name} execution {status}", flush=True)
    if status != "Succeeded":
        print(
            f"error: pipeline execution {status}: {execution.get('FailureReason', 'see the steps above')}",
            file=sys.stderr,
        )
        return 1
    return 0


def get_pipeline_definition(argv=None) -> int:
    parser = _parser(
        "Print the SageMaker Pipeline definition JSON: nothing is created, uploaded or started, and stdout "
        "carries only the JSON (the SDK's log lines go to stderr)."
    )
    parser.add_argument("--file-name", help="write the definition to this file instead of stdout")
    args = parser.parse_args(argv)
    _read_service_models_once()  # before the Region check reads the endpoint data
    try:
        _require(args, "project_name", "project_id", "role_arn", "default_bucket", "region")
        if args.file_name and (
            os.path.isdir(args.file_name)
            or not os.path.isdir(os.path.dirname(os.path.abspath(args.file_name)))
        ):
            raise UsageError(f"--file-name {args.file_name}: not a file in an existing directory")
        pipeline, _ = build_pipeline(args, _session(args.region), upload=False)
        definition = json.dumps(json.loads(pipeline.definition()), indent=2)
        if args.file_name:
            with open(args.file_name, "w") as handle:
                handle.write(definition + "\n")
        else:
            print(definition)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot write {args.file_name}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0
