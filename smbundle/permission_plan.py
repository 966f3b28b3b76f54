"""Every call the roles of a project will make, derived from the product template: the publisher's preflight.

For a rendered product template (and the deploy seed's endpoint template), with a placeholder project identity
and the template's default parameters, this lists what each role will be asked to do, and why:

- the **launch role** (Service Catalog): read its copy of the template, create and tag the ``SC-*`` stack, then
  every call of every resource's creation and deletion (``resource_permissions``), reading the seed objects;
- the **EventBridge role** of each rule target: start the target pipeline;
- the **pipeline role** of each pipeline: source, artifacts, builds, CloudFormation deploys (passing the
  deploy role, tagging the stack), approval notifications, KMS when the store is encrypted;
- the **CodeBuild role** of each build project: its artifacts, and what the seed code it runs calls;
- the **CloudFormation role** of each deploy action: the endpoint template's resources for staging and prod
  (prod with Model Monitor's data-quality job definition and monitoring schedule when the product's
  ``MonitoringBackend`` is ``model-monitor``);
- the **execution role** of the SageMaker Pipelines: their jobs' data, passing itself, registering models; as the
  prod endpoint's model role, writing the captured data; and as the role of the data-quality checks (the project's
  own, or Model Monitor's jobs), reading the captures and the baseline, writing the reports (and, for the project's
  check, its CloudWatch metrics).

``check`` asks ``iam:SimulatePrincipalPolicy`` about each call in the account at hand, so the answer comes from the
account's real policies (or, locally, from the embedded IAM's evaluator).

A resource type outside ``resource_permissions``' reviewed table is planned with its registry schema's handler
permissions; those calls carry ``approximated`` (type, handler), and ``over_approximations`` says which types, one
line each.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from smbundle import resource_permissions
from smbundle.resource_permissions import CREATE, DELETE, Call, Where
from smbundle.template_resolution import resolve

PROJECT_NAME = "preflight"
PROJECT_ID = "p-preflight000"
PROJECT_TAGS = {"sagemaker:project-name": PROJECT_NAME, "sagemaker:project-id": PROJECT_ID}
SEED_OBJECT_TAGS = {"servicecatalog:provisioning": "true"}
# What the seed code in each build project calls, by the buildspec the project runs (see seed_code/*/README.md).
SEED_CALLS = {
    "codebuild-buildspec.yml": "model build (run-pipeline)",
    "buildspec.yml": "model deploy (build.py)",
    "test/buildspec.yml": "staging test (test/test.py)",
    "monitoring/buildspec.yml": "data-quality check (monitoring/start_check.py)",
}


@dataclass(frozen=True)
class PlannedCall:
    role_arn: str
    action: str
    resource: str
    why: str
    context: dict = field(default_factory=dict, hash=False, compare=False)
    # (resource type, registry schema handler) for a call planned from the schema: an over-approximation
    approximated: tuple[str, str] | None = field(default=None, compare=False)


def _tag_context(tags: dict[str, str]) -> dict:
    context = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context.update({f"aws:ResourceTag/{k}": v for k, v in tags.items()})
    context["aws:TagKeys"] = sorted(tags)
    return context


tag_context = _tag_context  # the request context of tags set on create (s3_project_templates uses it too)


def _env(project: dict) -> dict[str, str]:
    return {
        v["Name"]: str(v["Value"])
        for v in (project.get("Environment") or {}).get("EnvironmentVariables") or []
    }


def plan(
    product_template: dict,
    endpoint_template: dict,
    *,
    launch_role_arn: str | None,
    region: str,
    account: str,
    parameters: dict[str, str] | None = None,
    prod_features: bool = False,
    provisioned_by: str = "servicecatalog",
) -> list[PlannedCall]:
    """``prod_features``: plan the prod stack with autoscaling and the rollback alarms on (``PROD_FEATURES``), as a
    project that chooses them deploys it (the custom roles exist for them), besides the defaults.

    ``provisioned_by`` ``"s3"``: the project comes from the S3 project template, its ``SP-*`` stack created by the
    Studio user (``s3_project_templates.caller_calls``) and its resources by ``launch_role_arn`` as the template
    provider's RoleARN; without a launch role the resources' calls are not planned (the role is unknown)."""
    where = Where(region=region, account=account)
    service_catalog = provisioned_by == "servicecatalog"
    stack_name = f"SC-{account}-pp-preflight" if service_catalog else f"SP-{account}-{PROJECT_ID}"
    values = dict(parameters or {}, SageMakerProjectName=PROJECT_NAME, SageMakerProjectId=PROJECT_ID)
    product = resolve(product_template, values, region=region, account=account, stack_name=stack_name)
    resources = product.resources()
    calls: list[PlannedCall] = []

    def add(role: str, call: Call, why: str, resource_type: str = "") -> None:
        approximated = (resource_type, call.handler) if call.handler else None
        calls.append(PlannedCall(role, call.action, call.resource, why, dict(call.context), approximated))

    # Service Catalog, as the launch role (from an S3 template, the Studio user makes these stack calls).
    stack_arn = f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/*"
    template_copy = f"arn:aws:s3:::sc-{account}-{region}-templates/preflight/template.yaml"
    if service_catalog:
        add(
            launch_role_arn,
            Call(
                "s3:GetObject",
                template_copy,
                "",
                {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"},
            ),
            "Service Catalog reads its copy of the template",
        )
        add(launch_role_arn, Call("cloudformation:CreateStack", stack_arn, ""), "project creation")
        add(
            launch_role_arn,
            Call("cloudformation:TagResource", stack_arn, "", _tag_context(PROJECT_TAGS)),
            "project tags",
        )
        add(launch_role_arn, Call("cloudformation:DeleteStack", stack_arn, ""), "project deletion")
    for resource in resources if launch_role_arn else ():
        for operation in (CREATE, DELETE):
            retained = product.template["Resources"][resource.logical_id].get("DeletionPolicy") == "Retain"
            if operation == DELETE and retained:
                continue
            for call in resource_permissions.resource_calls(
                resource.type, operation, resource.name, resource.properties, where
            ):
                if call.cause.startswith("Code.S3"):
                    call = Call(
                        call.action,
                        call.resource,
                        call.cause,
                        {f"s3:ExistingObjectTag/{k}": v for k, v in SEED_OBJECT_TAGS.items()},
                    )
                add(
                    launch_role_arn,
                    call,
                    f"{resource.logical_id} ({resource.type}) {operation}: {call.cause}",
                    resource.type,
                )

    by_type = defaultdict(list)
    for resource in resources:
        by_type[resource.type].append(resource)
    buckets = [r.name for r in by_type["AWS::S3::Bucket"]]
    artifact_bucket = buckets[0] if buckets else "artifact-bucket"

    for rule in by_type["AWS::Events::Rule"]:
        for target in rule.properties.get("Targets") or []:
            if target.get("RoleArn") and ":codepipeline:" in str(target.get("Arn")):
                add(
                    target["RoleArn"],
                    Call("codepipeline:StartPipelineExecution", target["Arn"], ""),
                    f"{rule.logical_id} starts its target",
                )

    projects = {p.name: p for p in by_type["AWS::CodeBuild::Project"]}
    for pipeline in by_type["AWS::CodePipeline::Pipeline"]:
        calls.extend(_pipeline_calls(pipeline, projects, endpoint_template, where, artifact_bucket))
        if prod_features:
            calls.extend(
                _pipeline_calls(pipeline, projects, endpoint_template, where, artifact_bucket, PROD_FEATURES)
            )
    return list(dict.fromkeys(calls))


# The prod stack's parameters that turn on what only custom roles allow (the deploy seed's endpoint template).
PROD_FEATURES = {
    "EndpointInstanceCount": "2",
    "MaxInstanceCount": "4",
    "DeploymentStrategy": "canary",
    "AlarmRollback": "true",
}


def _pipeline_calls(
    pipeline, projects: dict, endpoint_template: dict, where: Where, bucket: str, prod: dict | None = None
) -> list[PlannedCall]:
    role = pipeline.properties["RoleArn"]
    name = pipeline.name
    region, account = where.region, where.account
    calls: list[PlannedCall] = []
    store = pipeline.properties.get("ArtifactStore") or {}
    artifacts = f"arn:aws:s3:::{store.get('Location', bucket)}/{name[:20]}/*"
    key = (store.get("EncryptionKey") or {}).get("Id")
    why = f"pipeline {name}"
    for action in ("s3:PutObject", "s3:GetObject"):
        calls.append(PlannedCall(role, action, artifacts, f"{why}: artifacts"))
    if key:
        calls += [
            PlannedCall(role, a, key, f"{why}: encrypted artifacts")
            for a in ("kms:GenerateDataKey", "kms:Decrypt")
        ]
    for stage in pipeline.properties.get("Stages") or []:
        for action in stage.get("Actions") or []:
            provider = action["ActionTypeId"]["Provider"]
            config = action.get("Configuration") or {}
            step = f"{why}: {stage['Name']}/{action['Name']}"
            if provider == "CodeCommit":
                repo = f"arn:aws:codecommit:{region}:{account}:{config['RepositoryName']}"
                for a in (
                    "codecommit:GetBranch",
                    "codecommit:UploadArchive",
                    "codecommit:GetUploadArchiveStatus",
                ):
                    calls.append(PlannedCall(role, a, repo, step))
            elif provider == "CodeStarSourceConnection":
                arn = config["ConnectionArn"]
                service = arn.split(":")[2] if arn.count(":") >= 5 else "codeconnections"
                calls.append(
                    PlannedCall(
                        role, f"{service}:UseConnection", arn, step, {"aws:ResourceTag/sagemaker": "true"}
                    )
                )
            elif provider == "CodeBuild":
                project = projects.get(config["ProjectName"])
                arn = f"arn:aws:codebuild:{region}:{account}:project/{config['ProjectName']}"
                calls += [
                    PlannedCall(role, a, arn, step)
                    for a in ("codebuild:StartBuild", "codebuild:BatchGetBuilds")
                ]
                if project is not None:
                    calls += _build_calls(project, artifacts, key, where)
            elif provider == "CloudFormation":
                stack = f"arn:aws:cloudformation:{region}:{account}:stack/{config['StackName']}/*"
                for a in (
                    "cloudformation:DescribeStacks",
                    "cloudformation:CreateStack",
                    "cloudformation:UpdateStack",
                    "cloudformation:DeleteStack",
                ):
                    calls.append(PlannedCall(role, a, stack, step))
                stage_tags = {**PROJECT_TAGS, "sagemaker:deployment-stage": "staging"}
                calls.append(
                    PlannedCall(role, "cloudformation:TagResource", stack, step, _tag_context(stage_tags))
                )
                if config.get("RoleArn"):
                    calls.append(
                        PlannedCall(
                            role,
                            "iam:PassRole",
                            config["RoleArn"],
                            step,
                            {"iam:PassedToService": "cloudformation.amazonaws.com"},
                        )
                    )
                    calls += _endpoint_calls(
                        config["RoleArn"], endpoint_template, projects, where, step, _backend(projects), prod
                    )
            elif provider == "Manual" and config.get("NotificationArn"):
                calls.append(PlannedCall(role, "sns:Publish", config["NotificationArn"], step))
    return calls


def _build_calls(project, artifacts: str, key: str | None, where: Where) -> list[PlannedCall]:
    role = project.properties["ServiceRole"]
    env = _env(project.properties)
    buildspec = (project.properties.get("Source") or {}).get("BuildSpec", "buildspec.yml")
    # the product's inline buildspec of DeployProd / VerifyProd
    verifies = "verify/verify_prod.py" in buildspec
    label = "prod verification (verify/verify_prod.py)" if verifies else SEED_CALLS.get(buildspec, buildspec)
    why = f"build project {project.name} ({label})"
    region, account = where.region, where.account
    sm = f"arn:aws:sagemaker:{region}:{account}"
    name = f"{PROJECT_NAME}-{PROJECT_ID}"
    calls = [PlannedCall(role, a, artifacts, f"{why}: artifacts") for a in ("s3:GetObject", "s3:PutObject")]
    if key:
        calls += [
            PlannedCall(role, a, key, f"{why}: encrypted artifacts")
            for a in ("kms:GenerateDataKey", "kms:Decrypt")
        ]
    project_arn = f"{sm}:project/{PROJECT_NAME}"
    if buildspec == "codebuild-buildspec.yml":
        pipeline = f"{sm}:pipeline/{name}"
        bucket = env.get("ARTIFACT_BUCKET", "")
        calls += [PlannedCall(role, "sagemaker:ListTags", project_arn, why)]
        for a in (
            "sagemaker:DescribePipeline",
            "sagemaker:CreatePipeline",
            "sagemaker:UpdatePipeline",
            "sagemaker:StartPipelineExecution",
        ):
            calls.append(PlannedCall(role, a, pipeline, why))
        calls.append(
            PlannedCall(role, "sagemaker:AddTags", pipeline, why, {"aws:TagKeys": sorted(PROJECT_TAGS)})
        )
        for a in ("sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps"):
            calls.append(PlannedCall(role, a, f"{pipeline}/execution/*", why))
        calls.append(
            PlannedCall(
                role,
                "iam:PassRole",
                env["SAGEMAKER_PIPELINE_ROLE_ARN"],
                why,
                {"iam:PassedToService": "sagemaker.amazonaws.com"},
            )
        )
        calls += [
            PlannedCall(role, a, f"arn:aws:s3:::{bucket}/*", f"{why}: pipeline code")
            for a in ("s3:PutObject", "s3:GetObject")
        ]
        calls.append(PlannedCall(role, "s3:ListBucket", f"arn:aws:s3:::{bucket}", f"{why}: default bucket"))
        calls += _execution_calls(env["SAGEMAKER_PIPELINE_ROLE_ARN"], bucket, where)
    elif buildspec == "buildspec.yml":
        group = env.get("SOURCE_MODEL_PACKAGE_GROUP_NAME", name)
        calls += [
            PlannedCall(role, "sagemaker:ListTags", project_arn, why),
            PlannedCall(role, "sagemaker:ListModelPackages", f"{sm}:model-package/{group.lower()}/*", why),
            PlannedCall(
                role,
                "sagemaker:DescribeModelPackage",
                f"{sm}:model-package/{group.lower()}/*",
                f"{why}: the package's data-quality baseline",
            ),
        ]
    elif buildspec == "monitoring/buildspec.yml":
        calls += _check_calls(role, env, where, why)
    elif verifies:  # what prod serves: endpoint -> endpoint config -> model
        calls += [
            PlannedCall(role, "sagemaker:DescribeEndpoint", f"{sm}:endpoint/{PROJECT_NAME}-prod", why),
            PlannedCall(role, "sagemaker:DescribeEndpointConfig", f"{sm}:endpoint-config/*", why),
            PlannedCall(role, "sagemaker:DescribeModel", f"{sm}:model/*", why),
        ]
    elif buildspec == "test/buildspec.yml":
        endpoint = f"{sm}:endpoint/{PROJECT_NAME}-staging"
        calls += [
            PlannedCall(role, a, endpoint, why)
            for a in ("sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint")
        ]
        calls.append(PlannedCall(role, "sagemaker:DescribeModelPackage", f"{sm}:model-package/{name}/*", why))
    return calls


def _backend(projects: dict) -> str:
    """The product's MonitoringBackend, as the deploy build project passes it to build.py."""
    return next(
        (
            _env(p.properties)["MONITORING_BACKEND"]
            for p in projects.values()
            if "MONITORING_BACKEND" in _env(p.properties)
        ),
        "project",
    )


def _check_calls(role: str, env: dict, where: Where, why: str) -> list[PlannedCall]:
    """The data-quality build (start_check.py, as the CodeBuild role) and the check it starts (as the execution
    role: the SageMaker Pipeline's role and its job's)."""
    sm = f"arn:aws:sagemaker:{where.region}:{where.account}"
    name = f"{PROJECT_NAME}-{PROJECT_ID}"
    pipeline = f"{sm}:pipeline/{name}-data-quality"
    execution_role = env["MODEL_EXECUTION_ROLE_ARN"]
    bucket = env.get("ARTIFACT_BUCKET", "")
    calls = [
        PlannedCall(role, "sagemaker:DescribeEndpoint", f"{sm}:endpoint/{PROJECT_NAME}-prod", why),
        PlannedCall(role, "sagemaker:DescribeEndpointConfig", f"{sm}:endpoint-config/*", why),
        PlannedCall(role, "sagemaker:DescribeModel", f"{sm}:model/*", why),
        PlannedCall(role, "sagemaker:DescribeModelPackage", f"{sm}:model-package/{name}/*", why),
    ]
    for a in ("sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:StartPipelineExecution"):
        calls.append(PlannedCall(role, a, pipeline, why))
    calls.append(PlannedCall(role, "sagemaker:AddTags", pipeline, why, {"aws:TagKeys": sorted(PROJECT_TAGS)}))
    calls.append(
        PlannedCall(
            role, "iam:PassRole", execution_role, why, {"iam:PassedToService": "sagemaker.amazonaws.com"}
        )
    )
    check = "data-quality check pipeline (execution role)"
    capture = f"datacapture/{PROJECT_NAME}-prod/"
    baseline = f"arn:aws:s3:::{bucket}/{name}/*/data-quality-baseline/*"
    return calls + [
        PlannedCall(
            execution_role, "sagemaker:CreateProcessingJob", f"{sm}:processing-job/pipelines-*", check
        ),
        PlannedCall(
            execution_role,
            "iam:PassRole",
            execution_role,
            check,
            {"iam:PassedToService": "sagemaker.amazonaws.com"},
        ),
        PlannedCall(execution_role, "s3:GetObject", baseline, f"{check}: baseline and analyzer"),
        PlannedCall(
            execution_role,
            "s3:ListBucket",
            f"arn:aws:s3:::{bucket}",
            f"{check}: captured requests",
            {"s3:prefix": capture},
        ),
        PlannedCall(
            execution_role, "s3:GetObject", f"arn:aws:s3:::{bucket}/{capture}*", f"{check}: captured requests"
        ),
        PlannedCall(
            execution_role,
            "s3:PutObject",
            f"arn:aws:s3:::{bucket}/monitoring/{PROJECT_NAME}-prod/*",
            f"{check}: reports",
        ),
        PlannedCall(
            execution_role,
            "cloudwatch:PutMetricData",
            "*",
            f"{check}: metrics",
            {"cloudwatch:namespace": "SageMakerProjects/DataQuality"},
        ),
    ]


def _execution_calls(role: str, bucket: str, where: Where) -> list[PlannedCall]:
    """What the SageMaker Pipeline's jobs and registration do as the execution role."""
    sm = f"arn:aws:sagemaker:{where.region}:{where.account}"
    name = f"{PROJECT_NAME}-{PROJECT_ID}"
    why = "SageMaker Pipeline (execution role)"
    return [
        PlannedCall(role, "sagemaker:CreateProcessingJob", f"{sm}:processing-job/pipelines-*", why),
        PlannedCall(role, "sagemaker:CreateTrainingJob", f"{sm}:training-job/pipelines-*", why),
        PlannedCall(role, "iam:PassRole", role, why, {"iam:PassedToService": "sagemaker.amazonaws.com"}),
        PlannedCall(
            role,
            "s3:GetObject",
            f"arn:aws:s3:::sagemaker-example-files-prod-{where.region}/datasets/tabular/uci_abalone/abalone.csv",
            f"{why}: default input data (the Region's public sample)",
        ),
        PlannedCall(role, "s3:GetObject", f"arn:aws:s3:::{bucket}/*", f"{why}: job data"),
        PlannedCall(role, "s3:PutObject", f"arn:aws:s3:::{bucket}/*", f"{why}: job data"),
        PlannedCall(role, "s3:ListBucket", f"arn:aws:s3:::{bucket}", f"{why}: job data"),
        PlannedCall(
            role,
            "sagemaker:CreateModelPackageGroup",
            f"{sm}:model-package-group/{name}",
            f"{why}: first registration",
        ),
        PlannedCall(
            role, "sagemaker:CreateModelPackage", f"{sm}:model-package/{name}/*", f"{why}: registration"
        ),
    ]


def _endpoint_calls(
    role: str,
    endpoint_template: dict,
    projects: dict,
    where: Where,
    step: str,
    backend: str,
    prod: dict | None = None,
) -> list[PlannedCall]:
    """The endpoint template's resources, created, replaced and deleted as the deploy action's role."""
    deploy_env = next(
        (_env(p.properties) for p in projects.values() if "MODEL_EXECUTION_ROLE_ARN" in _env(p.properties)),
        {},
    )
    execution_role = deploy_env.get("MODEL_EXECUTION_ROLE_ARN", "")
    bucket = f"sagemaker-project-{PROJECT_ID}"
    baseline = f"s3://{bucket}/{PROJECT_NAME}-{PROJECT_ID}/execution/data-quality-baseline"
    monitoring = {  # what build.py renders for prod when the package has a baseline
        "MonitoringBackend": backend,
        "EnableMonitoring": "true" if backend == "model-monitor" else "false",
        "DataQualityBaselineStatisticsUri": f"{baseline}/statistics.json",
        "DataQualityBaselineConstraintsUri": f"{baseline}/constraints.json",
        "MonitoringJobDefinitionName": f"{PROJECT_NAME}-prod-dq-preflight",
        "MonitoringReportsUri": f"s3://{bucket}/monitoring/{PROJECT_NAME}-prod",
    }
    calls = []
    for stage in ("staging", "prod"):
        parameters = {
            "SageMakerProjectName": PROJECT_NAME,
            "ModelExecutionRoleArn": execution_role,
            "ModelPackageName": f"arn:aws:sagemaker:{where.region}:{where.account}:model-package/{PROJECT_NAME}-{PROJECT_ID}/1",
            "StageName": stage,
            "DataCaptureUploadPath": f"s3://{bucket}/datacapture/{PROJECT_NAME}-{stage}",
            **(monitoring if stage == "prod" else {}),
            **((prod or {}) if stage == "prod" else {}),
        }
        resolver = resolve(
            endpoint_template,
            parameters,
            region=where.region,
            account=where.account,
            stack_name=f"sagemaker-{PROJECT_NAME}-{PROJECT_ID}-deploy-{stage}",
        )
        for resource in resolver.resources():
            for operation in (CREATE, DELETE):
                for call in resource_permissions.resource_calls(
                    resource.type, operation, resource.name, resource.properties, where
                ):
                    calls.append(
                        PlannedCall(
                            role,
                            call.action,
                            call.resource,
                            f"{step}: {resource.logical_id} ({stage}) {operation}",
                            dict(call.context),
                            (resource.type, call.handler) if call.handler else None,
                        )
                    )
    if execution_role:
        calls += _prod_data_calls(execution_role, bucket, monitoring, step)
        if (prod or {}).get(
            "AlarmRollback"
        ) == "true":  # SageMaker reads the rollback alarms as the model's role
            alarms = (
                f"arn:aws:cloudwatch:{where.region}:{where.account}:alarm:sagemaker-{PROJECT_NAME}-prod-*"
            )
            calls.append(
                PlannedCall(
                    execution_role, "cloudwatch:DescribeAlarms", alarms, f"{step}: prod rollback alarms"
                )
            )
    return calls


def _prod_data_calls(role: str, bucket: str, monitoring: dict, step: str) -> list[PlannedCall]:
    """What prod's model role does with data: the endpoint writes the captured requests, and Model Monitor's jobs
    (SageMaker runs them as the job definition's role, the same execution role) read them and the baseline and
    write their reports."""
    capture = f"datacapture/{PROJECT_NAME}-prod/"
    why = f"{step}: prod"
    reports = monitoring["MonitoringReportsUri"][len("s3://") :]
    written = PlannedCall(
        role, "s3:PutObject", f"arn:aws:s3:::{bucket}/{capture}*", f"{why} data capture (endpoint)"
    )
    if monitoring["EnableMonitoring"] != "true":
        return [written]
    return [
        written,
        PlannedCall(
            role,
            "s3:ListBucket",
            f"arn:aws:s3:::{bucket}",
            f"{why} monitoring job: captured data",
            {"s3:prefix": capture},
        ),
        PlannedCall(
            role, "s3:GetObject", f"arn:aws:s3:::{bucket}/{capture}*", f"{why} monitoring job: captured data"
        ),
        PlannedCall(
            role,
            "s3:GetObject",
            "arn:aws:s3:::" + monitoring["DataQualityBaselineConstraintsUri"][len("s3://") :],
            f"{why} monitoring job: baseline",
        ),
        PlannedCall(role, "s3:PutObject", f"arn:aws:s3:::{reports}/*", f"{why} monitoring job: reports"),
    ]


def over_approximations(calls: list[PlannedCall]) -> list[str]:
    """One line per resource type planned from its registry schema, naming the handlers used."""
    handlers: dict[str, list[str]] = defaultdict(list)
    for call in calls:
        if call.approximated:
            handlers[call.approximated[0]].append(call.approximated[1])
    return [resource_permissions.over_approximation_note(kind, used) for kind, used in handlers.items()]


@dataclass(frozen=True)
class Problem:
    call: PlannedCall
    decision: str

    def describe(self) -> str:
        role = self.call.role_arn.rsplit("/", 1)[-1]
        return (
            f"role {role} may not {self.call.action} on {self.call.resource} ({self.call.why}; "
            f"{self.decision})"
        )


def check(iam, calls: list[PlannedCall]) -> list[Problem]:
    """Ask iam:SimulatePrincipalPolicy about every call; the ones it does not allow.

    The simulator evaluates each action it is asked about on each resource, and answers one result per action with
    each resource's decision in ``ResourceSpecificResults`` (the IAM API reference, EvaluationResult). So a role's
    calls in the same context are asked about in one request, all their actions on all their resources; only the
    pairs the plan holds are read (the others, an action on another service's resource, are implicit denials that
    mean nothing). One request per role and context instead of one per group of resources: fewer round trips.
    """
    questions: dict[tuple, list[PlannedCall]] = defaultdict(list)
    for call in dict.fromkeys(calls):
        context = tuple(sorted((k, str(v)) for k, v in call.context.items()))
        questions[(call.role_arn, context)].append(call)
    problems = []
    for (role, _), members in questions.items():
        actions = list(dict.fromkeys(c.action for c in members))
        resources = list(dict.fromkeys(c.resource for c in members))
        decisions = _simulate(iam, role, actions, resources, members[0].context)
        for call in members:
            decision = decisions.get((call.action, call.resource), "not evaluated")
            if decision != "allowed":
                problems.append(Problem(call, decision))
    return problems


def _simulate(iam, role: str, actions: list[str], resources: list[str], context: dict) -> dict:
    """(action, resource) -> decision."""
    decisions = {}
    pages = iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=role,
        ActionNames=actions,
        ResourceArns=resources,
        ContextEntries=context_entries(context),
    )
    for page in pages:
        for result in page["EvaluationResults"]:
            action = result["EvalActionName"]
            for each in result.get("ResourceSpecificResults") or []:
                decisions[(action, each["EvalResourceName"])] = each["EvalResourceDecision"]
            if result.get("EvalResourceName") in resources:  # a single resource's result
                decisions.setdefault((action, result["EvalResourceName"]), result["EvalDecision"])
    return decisions


def context_entries(context: dict) -> list[dict]:
    """A request context (condition key -> a string or a list of strings) as SimulatePrincipalPolicy's ContextEntries."""
    return [
        {
            "ContextKeyName": k,
            "ContextKeyValues": v if isinstance(v, list) else [v],
            "ContextKeyType": "stringList" if isinstance(v, list) else "string",
        }
        for k, v in context.items()
    ]
