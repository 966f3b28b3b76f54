"""The whole project lifecycle on the embedded AWS, driven by what the product really defines.

publish -> CreateProject (as Studio); CodePipeline starts both new pipelines at once, as on AWS: the build
pipeline's first run (its CodeBuild buildspec runs the SageMaker Pipeline, which the embedded SageMaker executes)
trains and registers a model, the deploy pipeline's first run fails at build.py because no model is approved yet ->
approve the new model package (as a reviewer, UpdateModelPackage): SageMaker sends the state-change event and the
product's EventBridge rules start their pipelines -> every pipeline they started (the deploy pipeline: build.py,
staging stack, staging test, manual approval, prod stack).

The pipelines run inside the embedded AWS; this module only does what a person does (publish, create the project,
approve the model and the production deployment) and follows the executions through the CodePipeline API, as the
console does. Nothing here knows a pipeline's stages, a build project's commands or a rule's pattern, so a wrong
template or buildspec fails here the way it would on AWS.
"""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from smbundle import aws_clients
from smbundle.local import boto_sessions, production_runs
from smbundle.local.codepipeline import watch
from smbundle.local.codepipeline.executor import ActionRecord
from smbundle.local.codepipeline.watch import Outcome
from smbundle.publish import DEFAULT_PRODUCT_NAME

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


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
    project_parameters: dict[str, str] = field(
        default_factory=dict
    )  # as chosen in Studio at project creation
    launch_role_arn: str | None = None  # the launch constraint's role (default: the managed launch role)
    # "custom": published with the product's own roles stack (service_catalog/roles.yaml), as run_local.py --roles
    roles: str = "managed"
    permission_check: bool = True  # the publisher's preflight of the project roles' permissions
    # "s3": published as an S3 project template, the project created through TemplateProviders by the Studio
    # user with the roles stack's launch role as RoleARN (run_local.py --target s3); needs roles "custom"
    target: str = "servicecatalog"
    monitor: bool = (
        False  # after prod: send it the held-out records, run a monitoring execution (monitoring_run)
    )
    drift: dict[str, float] = field(default_factory=dict)  # feature -> factor applied to that traffic
    prod_load: float | None = (
        None  # after prod: this many requests per AWS minute, then a tenth (production_runs)
    )
    bad_model: bool = (
        False  # after prod: a second version that fails part of prod's traffic (production_runs)
    )
    # prod's traffic while the bad model deploys, in requests per AWS minute (run_local.py keeps the default)
    bad_model_rate: float = production_runs.BAD_MODEL_RATE


# reporter(event, name, status, seconds): event is "start" or "end" (name is "Stage" or "Stage / Action"), or "note"
# (name is a line of what a stage sees).
Reporter = Callable[[str, str, str | None, float | None], None]


@dataclass
class LifecycleRun:
    options: LocalRunOptions
    reporter: Reporter
    session: boto3.session.Session = None
    stages: dict[str, dict] = field(default_factory=dict)
    pipelines: dict[str, Outcome] = field(default_factory=dict)

    def client(self, service: str):
        """The run's client for this service, made once (smbundle.aws_clients)."""
        return aws_clients.client_with_retries(self.session, service, self.options.endpoint_url)

    def note(self, text: str) -> None:
        """A line of what a stage sees as it goes (the reporter's "note" event)."""
        self.reporter("note", text, None, None)

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
    from smbundle.local.codepipeline import executions
    from smbundle.local.sample_data import SYNTHETIC_LABEL, sample_url

    options.workdir.mkdir(parents=True, exist_ok=True)
    executions.settings.workdir = (
        options.workdir / "pipelines"
    )  # where builds keep their work (in-process AWS)
    run = LifecycleRun(options, reporter, boto_sessions.session(options.region))
    account = run.client("sts").get_caller_identity()["Account"]

    published = run.stage("Publish", _publish, run)
    parameters = dict(options.project_parameters)
    if options.input_data:
        parameters["InputDataUrl"] = run.stage(
            "UploadInputData", _upload_input, run, account, options.input_data.read_bytes()
        )
    project = run.stage("CreateProject", _create_project, run, published, parameters)
    names = _project_names(options.project_name, project["ProjectId"])

    # CodePipeline started both pipelines when the project's stack created them.
    build = _follow_first_run(run, names["build_pipeline"], "ModelBuild")
    if build.status != "Succeeded":
        _raise_pipeline_failure("ModelBuild", build)
    deploy_first = _follow_first_run(run, names["deploy_pipeline"], "ModelDeploy.OnCreation")

    package_arn, started = run.stage("ApproveModelPackage", _approve_and_deliver, run, names, account)
    deploy_result = None
    for pipeline_name, execution_id in started:
        deploy_result = _follow(run, pipeline_name, execution_id, "ModelDeploy")
        if deploy_result.status == "Failed":
            _raise_pipeline_failure("ModelDeploy", deploy_result)

    monitoring = None
    if options.monitor:
        monitoring = _monitor(run, names, package_arn)
    production = {}
    if options.prod_load:
        production["prod_load"] = run.stage(
            "ProdLoad",
            production_runs.prod_load,
            run.client,
            names["prod_endpoint"],
            options.prod_load,
            run.note,
        )
    if options.bad_model:
        production["bad_model"] = run.stage(
            "BadModel", production_runs.bad_model, run, names, account, run.note, options.bad_model_rate
        )

    if options.input_data:
        data_label = f"{options.input_data} ({parameters['InputDataUrl']})"
    else:
        data_label = parameters.get("InputDataUrl") or f"{SYNTHETIC_LABEL} ({sample_url(options.region)})"
    summary = _summary(run, names, project, package_arn, deploy_result, data_label)
    summary["first_runs"] = {"build": _brief(build), "deploy": _brief(deploy_first)}
    if deploy_result is not None and deploy_result.status == "WaitingForApproval":
        summary["waiting_for_approval"] = _waiting_approval(run, deploy_result.pipeline)
    if monitoring is not None:
        summary["monitoring"] = monitoring
    summary.update(production)
    return summary


def monitoring_backend(options: LocalRunOptions) -> str:
    return options.project_parameters.get("MonitoringBackend", "project")


def _monitor(run: LifecycleRun, names: dict, package_arn: str) -> dict:
    backend = monitoring_backend(run.options)
    if backend == "project":
        return _project_check(run, names, package_arn)
    if backend != "model-monitor":
        raise LifecycleFailed(
            "Monitor", f"the project was created with MonitoringBackend {backend!r}: prod is not watched"
        )
    return _model_monitor(run, names, package_arn)


def _held_out_traffic(run: LifecycleRun, names: dict, package_arn: str) -> int:
    from smbundle.local import monitoring_run

    try:
        records = monitoring_run.held_out_records(
            run.client("sagemaker"), run.client("s3"), package_arn, run.options.drift
        )
    except monitoring_run.MonitorFailed as failure:
        raise LifecycleFailed("Monitor.ProdTraffic", str(failure)) from None
    return monitoring_run.send(run.client("sagemaker-runtime"), names["prod_endpoint"], records)


def _project_check(run: LifecycleRun, names: dict, package_arn: str) -> dict:
    """Prod traffic from the held-out records (drifted as asked), then the project's data-quality check, now."""
    from smbundle.cost import CostInputError, project_check_estimate
    from smbundle.local import monitoring_run

    sagemaker, s3 = run.client("sagemaker"), run.client("s3")

    def check() -> tuple[dict, dict]:
        def follow(pipeline: str, execution_id: str) -> Outcome:
            return _follow(run, pipeline, execution_id, "DataQualityCheck")

        try:
            execution = monitoring_run.run_project_check(run.client("codepipeline"), sagemaker, names, follow)
            return execution, monitoring_run.project_check_reports(sagemaker, s3, execution)
        except monitoring_run.MonitorFailed as failure:
            raise LifecycleFailed("Monitor.DataQualityCheck", str(failure)) from None

    sent = run.stage("Monitor.ProdTraffic", _held_out_traffic, run, names, package_arn)
    execution, found = run.stage("Monitor.DataQualityCheck", check)
    retraining = None
    if (
        found["fail_step"] is not None
        and run.options.project_parameters.get("RetrainOnDataQualityViolation") == "true"
    ):
        retraining = run.stage("Monitor.Retraining", _follow_retraining, run, names, execution)
    summary = found["summary.json"]
    expression = run.options.project_parameters.get("MonitoringScheduleExpression", "cron(0 * ? * * *)")
    try:
        cost = project_check_estimate(expression, region=run.options.region)
    except CostInputError as exc:
        cost = {"error": str(exc)}
    return {
        "backend": "project",
        "pipeline": names["check_sagemaker_pipeline"],
        "schedule_expression": expression,
        "requests_sent": sent,
        "drift": dict(run.options.drift),
        "records_analyzed": summary["records_analyzed"],
        "execution": {
            "PipelineExecutionArn": execution["PipelineExecutionArn"],
            "PipelineExecutionStatus": execution["PipelineExecutionStatus"],
            "status": summary["status"],
        },
        "violations": found["constraint_violations.json"]["violations"],
        "fail_step": found["fail_step"],
        "metrics": monitoring_run.published_metrics(run.client("cloudwatch"), names["prod_endpoint"]),
        "retraining": retraining,
        "report": found["report"],
        "cost": cost,
    }


def _follow_retraining(run: LifecycleRun, names: dict, execution: dict) -> dict:
    """The build pipeline run the project's retrain rule started on the check's violation event."""
    codepipeline = run.client("codepipeline")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        summaries = codepipeline.list_pipeline_executions(pipelineName=names["build_pipeline"])[
            "pipelineExecutionSummaries"
        ]
        fresh = [
            s for s in summaries if s["startTime"] >= execution["LastModifiedTime"].replace(microsecond=0)
        ]
        if fresh:
            outcome = _follow(run, names["build_pipeline"], fresh[-1]["pipelineExecutionId"], "Retraining")
            return _brief(outcome)
        time.sleep(0.1)
    raise LifecycleFailed(
        "Monitor.Retraining",
        "the check found violations, but no build pipeline run started: check the rule "
        f"{names['retrain_rule']} (aws events describe-rule)",
    )


def _model_monitor(run: LifecycleRun, names: dict, package_arn: str) -> dict:
    """Prod traffic from the held-out records (drifted as asked), then one monitoring execution, through the APIs."""
    from smbundle.local import monitoring_run

    sagemaker, s3 = run.client("sagemaker"), run.client("s3")
    endpoint = names["prod_endpoint"]

    def traffic() -> tuple[dict, int]:
        try:
            schedule = monitoring_run.prod_schedule(sagemaker, endpoint)
            records = monitoring_run.held_out_records(sagemaker, s3, package_arn, run.options.drift)
        except monitoring_run.MonitorFailed as failure:
            raise LifecycleFailed("Monitor.ProdTraffic", str(failure)) from None
        return schedule, monitoring_run.send(run.client("sagemaker-runtime"), endpoint, records)

    def execution(schedule: dict) -> tuple[dict, dict]:
        try:
            ended = monitoring_run.run_now(sagemaker, schedule)
        except monitoring_run.MonitorFailed as failure:
            raise LifecycleFailed("Monitor.MonitoringExecution", str(failure)) from None
        return ended, monitoring_run.reports(sagemaker, s3, schedule, ended)

    schedule, sent = run.stage("Monitor.ProdTraffic", traffic)
    ended, found = run.stage("Monitor.MonitoringExecution", execution, schedule)
    statistics = found.get("statistics.json") or {}
    return {
        "backend": "model-monitor",
        "schedule": schedule["MonitoringScheduleName"],
        "schedule_expression": schedule["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"],
        "job_definition": schedule["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"],
        "requests_sent": sent,
        "drift": dict(run.options.drift),
        "records_analyzed": (statistics.get("dataset") or {}).get("item_count"),
        "execution": ended,
        "violations": (found.get("constraint_violations.json") or {}).get("violations", []),
        "report": found["report"],
        "cost": monitoring_run.monthly_cost(sagemaker, schedule, run.options.region),
    }


def _brief(outcome: Outcome) -> dict:
    failed = outcome.failed_action
    brief = {"pipeline": outcome.pipeline, "execution_id": outcome.execution_id, "status": outcome.status}
    if failed is not None:
        brief["failed_action"] = f"{failed.stage}/{failed.action}"
        errors = [line for line in failed.log_tail if line.startswith("error:")]
        brief["reason"] = errors[-1] if errors else failed.message
    return brief


def _project_names(project_name: str, project_id: str) -> dict[str, str]:
    prefix = f"sagemaker-{project_name}-{project_id}"
    return {
        "group": f"{project_name}-{project_id}",
        "build_pipeline": f"{prefix}-modelbuild",
        "deploy_pipeline": f"{prefix}-modeldeploy",
        "check_pipeline": f"{prefix}-dataquality",
        "check_sagemaker_pipeline": f"{project_name}-{project_id}-data-quality",
        "retrain_rule": f"{prefix}-drift",
        "staging_endpoint": f"{project_name}-staging",
        "prod_endpoint": f"{project_name}-prod",
    }


def _publish(run: LifecycleRun) -> dict:
    from smbundle.publish import PublishOptions, publish

    s3_target = run.options.target == "s3"
    if s3_target:
        _let_studio_create_projects(run)
    result = publish(
        PublishOptions(
            repo_root=run.options.repo_root,
            product_name=run.options.product_name,
            region=run.options.region,
            endpoint_url=run.options.endpoint_url,
            principal_arns=[_studio_role_arn(run)],
            launch_role_arn=run.options.launch_role_arn,
            skip_permission_check=not run.options.permission_check,
            roles=run.options.roles,
            target=run.options.target,
            domain_id=_studio_domain_id(run) if s3_target else None,
        )
    )
    return result


STUDIO_S3_POLICY = "SageMakerProjectsFromS3Templates"


def _let_studio_create_projects(run: LifecycleRun) -> None:
    """As the account's administrator, before publishing: give the Studio execution role what creating projects
    from the S3 template needs (reading it, the SP-* stacks, passing the roles stack's launch role), as AWS's
    set-up guide has the administrator do."""
    from smbundle import roles_stack, s3_project_templates
    from smbundle.local.server import STUDIO_EXECUTION_ROLE_NAME

    account = run.client("sts").get_caller_identity()["Account"]
    launch = run.options.launch_role_arn or roles_stack.role_arn(roles_stack.LAUNCH_ROLE, account)
    bucket = s3_project_templates.default_bucket(account, run.options.region)
    policy = s3_project_templates.studio_user_policy(account, bucket, launch)
    run.client("iam").put_role_policy(
        RoleName=STUDIO_EXECUTION_ROLE_NAME, PolicyName=STUDIO_S3_POLICY, PolicyDocument=json.dumps(policy)
    )
    run.note(
        f"studio access: {STUDIO_EXECUTION_ROLE_NAME} may read s3://{bucket}/templates/, create SP-* stacks and "
        f"pass {launch.rsplit('/', 1)[-1]} (inline policy {STUDIO_S3_POLICY})"
    )


def _studio_domain_id(run: LifecycleRun) -> str:
    domains = run.client("sagemaker").list_domains()["Domains"]
    if not domains:
        raise LifecycleFailed(
            "Publish", "the account has no SageMaker domain to tag with the templates location"
        )
    return domains[0]["DomainId"]


def _studio_client(run: LifecycleRun, service: str):
    """A client signed as the Studio execution role, as Studio signs a user's calls."""
    from smbundle.local.server import STUDIO_EXECUTION_ROLE_NAME

    credentials = run.client("sts").assume_role(
        RoleArn=_studio_role_arn(run), RoleSessionName=STUDIO_EXECUTION_ROLE_NAME[:64]
    )["Credentials"]
    return run.session.client(
        service,
        endpoint_url=run.options.endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(retries={"mode": "standard"}),
    )


def _studio_role_arn(run: LifecycleRun) -> str:
    from smbundle.local.server import STUDIO_EXECUTION_ROLE_NAME

    return run.client("iam").get_role(RoleName=STUDIO_EXECUTION_ROLE_NAME)["Role"]["Arn"]


def _create_project(run: LifecycleRun, published: dict, parameters: dict[str, str]) -> dict:
    if run.options.target == "s3":
        return _create_project_from_s3_template(run, published, parameters)
    sagemaker = run.client("sagemaker")
    sagemaker.create_project(
        ProjectName=run.options.project_name,
        ProjectDescription="Local lifecycle run (smbundle run_local)",
        ServiceCatalogProvisioningDetails={
            "ProductId": published["product_id"],
            "ProvisioningArtifactId": published["provisioning_artifact_id"],
            "ProvisioningParameters": [{"Key": k, "Value": v} for k, v in parameters.items()],
        },
    )
    project = sagemaker.describe_project(ProjectName=run.options.project_name)
    if project["ProjectStatus"] != "CreateCompleted":
        details = project.get("ServiceCatalogProvisionedProductDetails") or {}
        raise LifecycleFailed(
            "CreateProject",
            f"project {run.options.project_name} is {project['ProjectStatus']}: "
            f"{details.get('ProvisionedProductStatusMessage') or 'no reason given'}",
        )
    return project


def _create_project_from_s3_template(run: LifecycleRun, published: dict, parameters: dict[str, str]) -> dict:
    """CreateProject with TemplateProviders, as Studio calls it for the user: signed as the Studio execution role,
    the launch role as RoleARN (CloudFormation builds the stack's resources as that role)."""
    provider = {
        "TemplateName": published["template_name"],
        "TemplateURL": published["template_url"],
        "RoleARN": published["launch_role_arn"],
        "Parameters": [{"Key": k, "Value": v} for k, v in parameters.items()],
    }
    sagemaker = _studio_client(run, "sagemaker")
    sagemaker.create_project(
        ProjectName=run.options.project_name,
        ProjectDescription="Local lifecycle run (smbundle run_local, S3 project template)",
        TemplateProviders=[{"CfnTemplateProvider": provider}],
    )
    project = sagemaker.describe_project(ProjectName=run.options.project_name)
    detail = project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    if project["ProjectStatus"] != "CreateCompleted":
        raise LifecycleFailed(
            "CreateProject",
            f"project {run.options.project_name} is {project['ProjectStatus']}: "
            f"{detail['StackDetail'].get('StatusMessage') or 'no reason given'}",
        )
    run.note(
        f"project {run.options.project_name}: stack {detail['StackDetail']['Name']} built as "
        f"{detail['RoleARN'].rsplit('/', 1)[-1]} from {detail['TemplateURL']}"
    )
    return project


def _upload_input(run: LifecycleRun, account: str, data: bytes) -> str:
    """Put the user's data in the account's SageMaker default bucket (``sagemaker-<region>-<account>``, created
    when missing, as the SageMaker Python SDK does) and answer its S3 URI: the project's InputDataUrl."""
    s3, region = run.client("s3"), run.options.region
    bucket, key = f"sagemaker-{region}-{account}", f"{run.options.project_name}/input/abalone.csv"
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        location = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **location)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


def _waiting_approval(run: LifecycleRun, pipeline: str) -> dict | None:
    """The manual approval a pipeline waits at, with the token PutApprovalResult needs."""
    for stage in run.client("codepipeline").get_pipeline_state(name=pipeline)["stageStates"]:
        for action in stage.get("actionStates", []):
            latest = action.get("latestExecution") or {}
            if latest.get("status") == "InProgress" and latest.get("token"):
                return {
                    "pipelineName": pipeline,
                    "stageName": stage["stageName"],
                    "actionName": action["actionName"],
                    "token": latest["token"],
                }
    return None


def _reviewer(run: LifecycleRun):
    """Approves the production deployment as a reviewer in the console would, unless told to stop there."""

    def decide(stage: str, action: str, summary: str | None) -> str | None:
        if run.options.stop_before_prod or not run.options.auto_approve:
            return None
        return "Approved"

    return decide


def _reporter(run: LifecycleRun, label: str):
    def report(event: str, record: ActionRecord) -> None:
        name = f"{label} / {record.stage} / {record.action}"
        run.reporter(event, name, None if event == "start" else record.status, record.seconds or None)

    return report


def _follow(run: LifecycleRun, pipeline_name: str, execution_id: str, label: str) -> Outcome:
    outcome = watch.watch(
        run.client("codepipeline"), pipeline_name, execution_id, _reporter(run, label), _reviewer(run)
    )
    run.pipelines[label] = outcome
    for stage_name, entry in outcome.stage_status().items():
        run.stages[f"{label}.{stage_name}"] = entry
    return outcome


def _follow_first_run(run: LifecycleRun, pipeline_name: str, label: str) -> Outcome:
    started = watch.started_executions(run.client("codepipeline"), pipeline_name, "CreatePipeline")
    if not started:
        raise LifecycleFailed(label, f"pipeline {pipeline_name} did not start when it was created")
    return _follow(run, pipeline_name, started[0], label)


def _raise_pipeline_failure(label: str, result: Outcome):
    failed = result.failed_action
    if failed is None:
        raise LifecycleFailed(
            label, f"pipeline {result.pipeline} execution {result.status}: {result.summary}"
        )
    raise LifecycleFailed(
        f"{label}.{failed.stage}",
        failed.message or "action failed",
        action=failed.action,
        command=failed.command,
        log_tail=failed.log_tail,
    )


def _approve_and_deliver(run: LifecycleRun, names: dict, account: str) -> tuple[str, list[str]]:
    """Approve the newest package as a reviewer would; the product's rules decide what starts."""
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
        failed = _failed_invocations(run, names)
        reason = (
            f"rule(s) {', '.join(failed)} matched, but EventBridge could not start their target as the target's "
            "role (AWS/Events FailedInvocations; the embedded AWS's log says why)"
            if failed
            else "no EventBridge rule of the project matches the 'SageMaker Model Package State Change' event "
            "(check the deploy rule's EventPattern)"
        )
        raise LifecycleFailed("ApproveModelPackage", f"approving {arn} started no pipeline: {reason}")
    return arn, pipelines


def _failed_invocations(run: LifecycleRun, names: dict) -> list[str]:
    """The project's rules with failed invocations, from EventBridge's CloudWatch metrics."""
    cloudwatch = run.client("cloudwatch")
    metrics = cloudwatch.list_metrics(Namespace="AWS/Events", MetricName="FailedInvocations")["Metrics"]
    prefix = names["build_pipeline"].rsplit("-", 1)[0]
    return sorted(
        d["Value"]
        for m in metrics
        for d in m["Dimensions"]
        if d["Name"] == "RuleName" and d["Value"].startswith(f"{prefix}-")
    )


def change_approval(run: LifecycleRun, arn: str, status: str, account: str) -> list[tuple[str, str]]:
    """Set a package's approval status, as a reviewer in Studio does; SageMaker sends the state-change event and the
    account's EventBridge rules start what they start. Returns the (pipeline, execution id) of the project's
    pipelines that an event started since, found as a person finds them: in each pipeline's executions, trigger
    ``CloudWatchEvent``."""
    codepipeline = run.client("codepipeline")
    group = run.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelPackageGroupName"]
    pipelines = [p for p in _pipeline_names(codepipeline) if p.startswith(f"sagemaker-{group}-")]
    before = {name: _event_started(codepipeline, name) for name in pipelines}
    triggered = _triggered_rules(run, f"sagemaker-{group}-")
    run.client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=f"{status} by run_local"
    )
    if _triggered_rules(run, f"sagemaker-{group}-") == triggered:
        return []  # none of the project's rules matched the event: nothing starts
    deadline = time.monotonic() + EVENT_WAIT_SECONDS
    while True:
        started = [
            (name, execution_id)
            for name in pipelines
            for execution_id in _event_started(codepipeline, name)
            if execution_id not in before[name]
        ]
        if started or time.monotonic() > deadline:
            return started
        time.sleep(0.05)


# How long a person waits for a rule that matched an approval to start its pipeline (the embedded EventBridge delivers
# within milliseconds; none started after this long means the delivery failed).
EVENT_WAIT_SECONDS = 2.0


def _triggered_rules(run: LifecycleRun, prefix: str) -> dict[str, float]:
    """How many times each of the project's rules was triggered (``AWS/Events`` ``TriggeredRules``, its sum over the
    last day). The embedded EventBridge counts a rule before the call that emitted the event answers (AWS publishes
    the metric within minutes), so comparing the counts around a call says whether the call's event matched a rule."""
    cloudwatch = run.client("cloudwatch")
    now = datetime.now(UTC)
    counts = {}
    for metric in cloudwatch.list_metrics(Namespace="AWS/Events", MetricName="TriggeredRules")["Metrics"]:
        rule = next((d["Value"] for d in metric["Dimensions"] if d["Name"] == "RuleName"), "")
        if rule.startswith(prefix):
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/Events",
                MetricName="TriggeredRules",
                Dimensions=metric["Dimensions"],
                StartTime=now - timedelta(days=1),
                EndTime=now + timedelta(minutes=1),
                Period=86400,
                Statistics=["Sum"],
            )["Datapoints"]
            counts[rule] = sum(p["Sum"] for p in points)
    return counts


def _pipeline_names(codepipeline) -> list[str]:
    return [
        p["name"]
        for page in codepipeline.get_paginator("list_pipelines").paginate()
        for p in page["pipelines"]
    ]


def _event_started(codepipeline, pipeline: str) -> list[str]:
    summaries = codepipeline.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"]
    return [
        s["pipelineExecutionId"]
        for s in summaries
        if (s.get("trigger") or {}).get("triggerType") == "CloudWatchEvent"
    ]


def review_package(options: LocalRunOptions, reporter: Reporter, arn: str, status: str) -> list[Outcome]:
    """After a lifecycle: approve or reject a package and follow every pipeline the project's rules start."""
    run = LifecycleRun(options, reporter, boto_sessions.session(options.region))
    account = run.client("sts").get_caller_identity()["Account"]
    return [
        _follow(run, name, execution_id, "ModelDeploy")
        for name, execution_id in change_approval(run, arn, status, account)
    ]


def _summary(run, names, project, package_arn, deploy_result, data_label) -> dict:
    sagemaker = run.client("sagemaker")
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    summary = {
        "project": {
            "ProjectName": project["ProjectName"],
            "ProjectId": project["ProjectId"],
            "ProjectArn": project["ProjectArn"],
            "input_data": data_label,
            "provisioned_from": _provisioned_from(project),
        },
        "model_package": {
            "ModelPackageArn": package_arn,
            "ModelApprovalStatus": package["ModelApprovalStatus"],
            "metrics": _package_metrics(run, package),
        },
        "staging": _endpoint(sagemaker, names["staging_endpoint"]),
        "prod": _endpoint(sagemaker, names["prod_endpoint"], monitored=True),
        "prod_monitoring": {
            "backend": monitoring_backend(run.options),
            "schedule_expression": run.options.project_parameters.get(
                "MonitoringScheduleExpression", "cron(0 * ? * * *)"
            ),
        },
        "test_results": _test_results(run, deploy_result),
        "latency_origin": latency_origin(),
        "stages": run.stages,
    }
    summary["cost_estimate"] = _cost_estimate(
        summary["test_results"], run.options.region, _prod_instance(run, summary["prod"], deploy_result)
    )
    return summary


def _provisioned_from(project: dict) -> dict:
    """What the project was created from: its S3 template provider (with the stack and the role that built it), or
    its Service Catalog product and version."""
    if project.get("TemplateProviderDetails"):
        return {"target": "s3", **project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]}
    return {"target": "servicecatalog", **(project.get("ServiceCatalogProvisioningDetails") or {})}


def _prod_instance(run: LifecycleRun, prod: dict | None, deploy_result: Outcome | None) -> dict:
    """Prod's instance type and count (from the prod endpoint, else from the build's prod export), and its
    autoscaling and blue/green settings (from the prod export): what the cost planner prices prod with."""
    export = _artifact_json(run, deploy_result, "prod-config-export.json")
    parameters = (export or {}).get("Parameters", {})
    variant = ((prod or {}).get("DescribeEndpointConfig") or {}).get("ProductionVariants", [{}])[0]
    if variant.get("InstanceType"):
        instance = {
            "instance_type": variant["InstanceType"],
            "instance_count": int(variant.get("InitialInstanceCount") or 1),
        }
    elif export is not None:
        instance = {
            "instance_type": parameters.get("EndpointInstanceType", "ml.m5.large"),
            "instance_count": int(parameters.get("EndpointInstanceCount", "1")),
        }
    else:
        return {}
    maximum = int(parameters.get("MaxInstanceCount") or 0)
    if maximum > instance["instance_count"]:
        instance["max_instance_count"] = maximum
    for key, name, kind in (
        ("target_invocations_per_instance", "TargetInvocationsPerInstance", float),
        ("deployment_strategy", "DeploymentStrategy", str),
        ("linear_step_percent", "LinearStepPercent", int),
        ("bake_time_s", "BakeTimeSeconds", float),
    ):
        if parameters.get(name) not in (None, ""):
            instance[key] = kind(parameters[name])
    return instance


def latency_origin() -> dict:
    """What every latency of a local run is: the embedded runtime's, with simulated cold starts (not AWS's)."""
    from smbundle.local.sagemaker.cold_starts import ColdStartModel

    return {
        "source": "local",
        "note": "measured against the embedded runtime (in-process model, simulated cold starts): not an AWS figure",
        "cold_starts": ColdStartModel.from_environment().describe(),
    }


def _cost_estimate(results: dict | None, region: str, instance: dict) -> dict | None:
    """The cost planner at the latency the staging test measured, with the blog's traffic profile, against
    an instance of prod's own type and count (what an instance-backed staging endpoint would run on)."""
    from smbundle.cost import CostInputError, estimate_from_test_results

    if not results:
        return None
    try:
        estimate = estimate_from_test_results(results, region=region, **instance)
    except CostInputError as exc:
        return {"error": str(exc)}
    estimate["latency_origin"] = latency_origin()
    return estimate


def _endpoint(sagemaker, name: str, monitored: bool = False) -> dict | None:
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except sagemaker.exceptions.ClientError:
        return None
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    answers = {"DescribeEndpoint": endpoint, "DescribeEndpointConfig": config}
    if monitored:
        schedules = sagemaker.list_monitoring_schedules(EndpointName=name)["MonitoringScheduleSummaries"]
        stack_schedule = sorted(schedules, key=lambda s: s["CreationTime"])[:1]
        if stack_schedule:
            answers["DescribeMonitoringSchedule"] = sagemaker.describe_monitoring_schedule(
                MonitoringScheduleName=stack_schedule[0]["MonitoringScheduleName"]
            )
    for answer in answers.values():
        answer.pop("ResponseMetadata", None)
    return answers


def _package_metrics(run, package: dict) -> dict | None:
    uri = (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get(
        "S3Uri"
    )
    if not uri:
        return None
    bucket, key = uri[len("s3://") :].split("/", 1)
    body = run.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def _test_results(run: LifecycleRun, deploy_result: Outcome | None) -> dict | None:
    """The staging test's results file."""
    return _artifact_json(run, deploy_result, "test-results.json")


def _artifact_json(run: LifecycleRun, outcome: Outcome | None, filename: str) -> dict | None:
    """A JSON file of one of the execution's output artifacts, read from the pipeline's artifact store."""
    if outcome is None:
        return None
    s3 = run.client("s3")
    for location in outcome.artifacts.values():
        body = s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            if filename in archive.namelist():
                return json.loads(archive.read(filename))
    return None
