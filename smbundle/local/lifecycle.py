"""The whole project lifecycle on the embedded AWS, driven by what the product really defines.

publish -> CreateProject (as Studio) -> the build pipeline (its CodeBuild buildspec runs the SageMaker Pipeline,
which the embedded SageMaker executes) -> approve the new model package (as a reviewer) and deliver the state-change
event through the product's EventBridge rules -> every pipeline those rules start (the deploy pipeline: build.py,
staging stack, staging test, manual approval, prod stack).

Nothing here knows a pipeline's stages, a build project's commands or a rule's pattern: they are read from the
provisioned product stack, so a wrong template or buildspec fails here the way it would on AWS.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

from smbundle.local.codepipeline.executor import (
    ActionRecord,
    PipelineResult,
    PipelineRunner,
    StopPipeline,
)
from smbundle.local.events.delivery import deliver, make_event
from smbundle.publish import DEFAULT_PRODUCT_NAME

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INPUT_DATA_URL = "s3://sagemaker-sample-files/datasets/tabular/uci_abalone/abalone.csv"
# Tuning knobs of the local run only (documented in docs/local.md): the build's wait polls the embedded
# SageMaker every 0.2 s instead of every 30 s; the SDK's v2 deprecation banner is silenced.
LOCAL_BUILD_OVERRIDES = {
    "PIPELINE_POLL_SECONDS": "0.2",
    "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


class LifecycleFailed(Exception):
    """A stage failed; carries what a person needs to see to fix it."""

    def __init__(self, stage: str, message: str, *, action: str | None = None, command=None, log_tail=()):
        super().__init__(message)
        self.stage = stage
        self.action = action
        self.command = command
        self.log_tail = list(log_tail)


@dataclass
class LocalRunOptions:
    workdir: Path
    project_name: str = "serverless-demo"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    input_data: Path | None = None
    auto_approve: bool = True
    stop_before_prod: bool = False
    product_name: str = DEFAULT_PRODUCT_NAME  # the same default as scripts/publish_product.py
    repo_root: Path = REPO_ROOT  # where service_catalog/ and seed_code/ are read from


# reporter(event, name, status, seconds, detail): event is "start" or "end"; name is "Stage" or "Stage / Action".
Reporter = Callable[[str, str, str | None, float | None], None]


@dataclass
class LifecycleRun:
    options: LocalRunOptions
    reporter: Reporter
    session: boto3.session.Session = None
    stages: dict[str, dict] = field(default_factory=dict)
    pipelines: dict[str, PipelineResult] = field(default_factory=dict)

    def client(self, service: str):
        return self.session.client(
            service, endpoint_url=self.options.endpoint_url, config=Config(retries={"mode": "standard"})
        )

    def stage(self, name: str, function, *args):
        self.reporter("start", name, None, None)
        started = time.monotonic()
        try:
            result = function(*args)
        except LifecycleFailed:
            self.stages[name] = {"status": "Failed", "seconds": round(time.monotonic() - started, 3)}
            self.reporter("end", name, "Failed", time.monotonic() - started)
            raise
        except Exception as exc:
            self.stages[name] = {"status": "Failed", "seconds": round(time.monotonic() - started, 3)}
            self.reporter("end", name, "Failed", time.monotonic() - started)
            raise LifecycleFailed(name, str(exc)) from exc
        seconds = time.monotonic() - started
        self.stages[name] = {"status": "Succeeded", "seconds": round(seconds, 3)}
        self.reporter("end", name, "Succeeded", seconds)
        return result


def run_lifecycle(options: LocalRunOptions, reporter: Reporter) -> dict:
    """Run every stage against the embedded AWS at ``options.endpoint_url``; return the summary dict."""
    from smbundle.local.sample_data import SYNTHETIC_LABEL, generate_csv

    options.workdir.mkdir(parents=True, exist_ok=True)
    run = LifecycleRun(options, reporter, boto3.session.Session(region_name=options.region))
    account = run.client("sts").get_caller_identity()["Account"]

    published = run.stage("Publish", _publish, run)
    project = run.stage("CreateProject", _create_project, run, published)
    names = _project_names(options.project_name, project["ProjectId"])

    data = options.input_data.read_bytes() if options.input_data else generate_csv()
    data_label = str(options.input_data) if options.input_data else SYNTHETIC_LABEL
    run.stage("UploadInputData", _upload_input, run, data)

    build = _run_pipeline(run, names["build_pipeline"], "ModelBuild")
    if build.status != "Succeeded":
        _raise_pipeline_failure("ModelBuild", build)

    package_arn, started = run.stage("ApproveModelPackage", _approve_and_deliver, run, names, account)
    deploy_result = None
    for pipeline_name in started:
        deploy_result = _run_pipeline(run, pipeline_name, "ModelDeploy")
        if deploy_result.status == "Failed":
            _raise_pipeline_failure("ModelDeploy", deploy_result)

    return _summary(run, names, project, package_arn, deploy_result, data_label)


def _project_names(project_name: str, project_id: str) -> dict[str, str]:
    prefix = f"sagemaker-{project_name}-{project_id}"
    return {
        "group": f"{project_name}-{project_id}",
        "build_pipeline": f"{prefix}-modelbuild",
        "deploy_pipeline": f"{prefix}-modeldeploy",
        "staging_endpoint": f"{project_name}-staging",
        "prod_endpoint": f"{project_name}-prod",
    }


def _publish(run: LifecycleRun) -> dict:
    from smbundle.publish import PublishOptions, publish

    result = publish(
        PublishOptions(
            repo_root=run.options.repo_root,
            product_name=run.options.product_name,
            region=run.options.region,
            endpoint_url=run.options.endpoint_url,
            principal_arns=[_studio_role_arn(run)],
        )
    )
    return result


def _studio_role_arn(run: LifecycleRun) -> str:
    from smbundle.local.server import STUDIO_EXECUTION_ROLE_NAME

    return run.client("iam").get_role(RoleName=STUDIO_EXECUTION_ROLE_NAME)["Role"]["Arn"]


def _create_project(run: LifecycleRun, published: dict) -> dict:
    sagemaker = run.client("sagemaker")
    sagemaker.create_project(
        ProjectName=run.options.project_name,
        ProjectDescription="Local lifecycle run (smbundle run_local)",
        ServiceCatalogProvisioningDetails={
            "ProductId": published["product_id"],
            "ProvisioningArtifactId": published["provisioning_artifact_id"],
        },
    )
    project = sagemaker.describe_project(ProjectName=run.options.project_name)
    if project["ProjectStatus"] != "CreateCompleted":
        raise LifecycleFailed(
            "CreateProject",
            f"project status {project['ProjectStatus']}: {project.get('ProjectStatusMessage')}",
        )
    return project


def _upload_input(run: LifecycleRun, data: bytes) -> None:
    bucket, key = DEFAULT_INPUT_DATA_URL[len("s3://") :].split("/", 1)
    s3 = run.client("s3")
    location = {} if run.options.region == "us-east-1" else {"LocationConstraint": run.options.region}
    s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": location} if location else {}))
    s3.put_object(Bucket=bucket, Key=key, Body=data)


def _source_provider(run: LifecycleRun):
    from smbundle.local.codecommit.repositories import checkout

    codecommit = run.client("codecommit")

    def provide(configuration: dict, target: Path) -> None:
        checkout(codecommit, configuration["RepositoryName"], configuration.get("BranchName", "main"), target)

    return provide


def _approval_handler(run: LifecycleRun):
    def handle(configuration: dict) -> None:
        if run.options.stop_before_prod or not run.options.auto_approve:
            raise StopPipeline("waiting for manual approval (--stop-before-prod)")

    return handle


def _run_pipeline(run: LifecycleRun, pipeline_name: str, label: str) -> PipelineResult:
    def report(event: str, record: ActionRecord) -> None:
        name = f"{label} / {record.stage} / {record.action}"
        run.reporter(event, name, None if event == "start" else record.status, record.seconds or None)

    runner = PipelineRunner(
        run.session,
        run.options.workdir / "pipelines",
        endpoint_url=run.options.endpoint_url,
        source_provider=_source_provider(run),
        approval_handler=_approval_handler(run),
        reporter=report,
        local_build_overrides=LOCAL_BUILD_OVERRIDES,
    )
    result = runner.run(pipeline_name)
    run.pipelines[label] = result
    for stage_name, entry in result.stage_status().items():
        run.stages[f"{label}.{stage_name}"] = entry
    return result


def _raise_pipeline_failure(label: str, result: PipelineResult):
    failed = result.failed_action
    raise LifecycleFailed(
        f"{label}.{failed.stage}",
        failed.message or "action failed",
        action=failed.action,
        command=failed.command,
        log_tail=failed.log_tail,
    )


def _approve_and_deliver(run: LifecycleRun, names: dict, account: str) -> tuple[str, list[str]]:
    """Approve the newest package as a reviewer would, then let the product's rules decide what starts."""
    packages = run.client("sagemaker").list_model_packages(
        ModelPackageGroupName=names["group"], SortBy="CreationTime", SortOrder="Descending", MaxResults=1
    )["ModelPackageSummaryList"]
    if not packages:
        raise LifecycleFailed(
            "ApproveModelPackage", f"the build registered no model package in {names['group']}"
        )
    arn = packages[0]["ModelPackageArn"]
    pipelines = change_approval(run, arn, "Approved", account)
    if not pipelines:
        raise LifecycleFailed(
            "ApproveModelPackage",
            f"approving {arn} started no pipeline: no EventBridge rule of the project matches the "
            "'SageMaker Model Package State Change' event (check the deploy rule's EventPattern)",
        )
    return arn, pipelines


def change_approval(run: LifecycleRun, arn: str, status: str, account: str) -> list[str]:
    """Set a package's approval status (as a reviewer in Studio) and deliver the state-change event through
    the account's EventBridge rules; returns the names of the pipelines the rules start."""
    sagemaker = run.client("sagemaker")
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=f"{status} by run_local"
    )
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    event = make_event(
        "aws.sagemaker",
        "SageMaker Model Package State Change",
        {
            "ModelPackageGroupName": package["ModelPackageGroupName"],
            "ModelPackageVersion": package.get("ModelPackageVersion"),
            "ModelPackageArn": arn,
            "ModelPackageName": package.get("ModelPackageName", package["ModelPackageGroupName"]),
            "CreationTime": int(package["CreationTime"].timestamp() * 1000),
            "ModelPackageStatus": package.get("ModelPackageStatus", "Completed"),
            "ModelApprovalStatus": status,
        },
        account=account,
        region=run.options.region,
        resources=[arn],
    )
    deliveries = deliver(run.client("events"), event)
    return [d.resource_name for d in deliveries if d.service == "codepipeline"]


def review_package(
    options: LocalRunOptions, reporter: Reporter, arn: str, status: str
) -> list[PipelineResult]:
    """After a lifecycle: approve or reject a package and run every pipeline the project's rules start."""
    run = LifecycleRun(options, reporter, boto3.session.Session(region_name=options.region))
    account = run.client("sts").get_caller_identity()["Account"]
    return [_run_pipeline(run, name, "ModelDeploy") for name in change_approval(run, arn, status, account)]


def _summary(run, names, project, package_arn, deploy_result, data_label) -> dict:
    sagemaker = run.client("sagemaker")
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    summary = {
        "project": {
            "ProjectName": project["ProjectName"],
            "ProjectId": project["ProjectId"],
            "ProjectArn": project["ProjectArn"],
            "input_data": data_label,
        },
        "model_package": {
            "ModelPackageArn": package_arn,
            "ModelApprovalStatus": package["ModelApprovalStatus"],
            "metrics": _package_metrics(run, package),
        },
        "staging": _endpoint(sagemaker, names["staging_endpoint"]),
        "prod": _endpoint(sagemaker, names["prod_endpoint"]),
        "test_results": _test_results(deploy_result),
        "stages": run.stages,
    }
    summary["cost_estimate"] = _cost_estimate(
        summary["test_results"], run.options.region, _prod_instance(summary["prod"], deploy_result)
    )
    return summary


def _prod_instance(prod: dict | None, deploy_result: PipelineResult | None) -> dict:
    """Prod's instance type and count: from the prod endpoint, else from the build's prod export."""
    variant = ((prod or {}).get("DescribeEndpointConfig") or {}).get("ProductionVariants", [{}])[0]
    if variant.get("InstanceType"):
        return {
            "instance_type": variant["InstanceType"],
            "instance_count": int(variant.get("InitialInstanceCount") or 1),
        }
    for directory in deploy_result.artifacts.values() if deploy_result else []:
        path = directory / "prod-config-export.json"
        if path.is_file():
            parameters = json.loads(path.read_text()).get("Parameters", {})
            return {
                "instance_type": parameters.get("EndpointInstanceType", "ml.m5.large"),
                "instance_count": int(parameters.get("EndpointInstanceCount", "1")),
            }
    return {}


def _cost_estimate(results: dict | None, region: str, instance: dict) -> dict | None:
    """The cost planner at the latency the staging test measured, with the blog's traffic profile, against
    an instance of prod's own type and count (what an instance-backed staging endpoint would run on)."""
    from smbundle.cost import CostInputError, estimate_from_test_results

    if not results:
        return None
    try:
        return estimate_from_test_results(results, region=region, **instance)
    except CostInputError as exc:
        return {"error": str(exc)}


def _endpoint(sagemaker, name: str) -> dict | None:
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except sagemaker.exceptions.ClientError:
        return None
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    for answer in (endpoint, config):
        answer.pop("ResponseMetadata", None)
    return {"DescribeEndpoint": endpoint, "DescribeEndpointConfig": config}


def _package_metrics(run, package: dict) -> dict | None:
    uri = (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get(
        "S3Uri"
    )
    if not uri:
        return None
    bucket, key = uri[len("s3://") :].split("/", 1)
    body = run.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def _test_results(deploy_result: PipelineResult | None) -> dict | None:
    if deploy_result is None:
        return None
    for directory in deploy_result.artifacts.values():
        path = directory / "test-results.json"
        if path.is_file():
            return json.loads(path.read_text())
    return None
