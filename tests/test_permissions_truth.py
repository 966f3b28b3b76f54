"""Permissions truth: each way the product used to exceed the managed project roles, reintroduced in a copy of the
product, is denied where AWS would deny it, with AWS's message; AWS's own published template is not denied."""

from __future__ import annotations

import datetime
import json
import os
import re
import time
import uuid
from pathlib import Path

import boto3
import pytest

from smbundle import publish as publishing
from smbundle.local import server
from smbundle.local.iam import resource_state
from smbundle.local.lifecycle import LifecycleFailed, LocalRunOptions, run_lifecycle
from tests._update_helpers import product_version

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
LAUNCH = "AmazonSageMakerServiceCatalogProductsLaunchRole"


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        yield aws


def product_copy(tmp_path: Path) -> Path:
    """A copy of what the lifecycle reads, with its own seed content (so its seed objects are new ones)."""
    root = product_version(tmp_path / "repo")
    (root / "seed_code" / "build" / "COPY").write_text(str(uuid.uuid4()))
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def fails(embedded, tmp_path, root, **options) -> LifecycleFailed:
    name = "t" + uuid.uuid4().hex[:8]
    with pytest.raises(LifecycleFailed) as failure:
        run_lifecycle(
            LocalRunOptions(
                workdir=tmp_path / "work",
                project_name=name,
                endpoint_url=embedded.url,
                repo_root=root,
                **options,
            ),
            lambda *args: None,
        )
    return failure.value


def test_untagged_seed_objects_cannot_be_read_by_the_launch_role(embedded, tmp_path, monkeypatch):
    monkeypatch.setattr(publishing, "SEED_OBJECT_TAGS", {})
    failure = fails(embedded, tmp_path, product_copy(tmp_path))
    assert failure.stage == "CreateProject"
    assert re.search(r"Model(Build|Deploy)Repository: Resource handler returned message", str(failure))
    assert re.search(
        rf"{LAUNCH}/servicecatalog is not authorized to perform: s3:GetObject on resource: "
        rf"arn:aws:s3:::smbundle-templates-{ACCOUNT}-us-east-1/smbundle/\S+/seed-code/(build|deploy)\.zip because "
        "no identity-based policy allows the s3:GetObject action",
        str(failure),
    )


def test_a_model_package_group_in_the_product_stack(embedded, tmp_path):
    root = product_copy(tmp_path)
    edit(
        root / "service_catalog" / "product.yaml",
        "  ModelBuildRepository:\n",
        "  ModelPackageGroup:\n    Type: AWS::SageMaker::ModelPackageGroup\n    Properties:\n"
        "      ModelPackageGroupName: !Sub ${SageMakerProjectName}-${SageMakerProjectId}\n\n"
        "  ModelBuildRepository:\n",
    )
    failure = fails(embedded, tmp_path, root, permission_check=False)
    assert failure.stage == "CreateProject"
    assert "The following resource(s) failed to create: [ModelPackageGroup]" in str(failure)
    assert f"{LAUNCH}/servicecatalog is not authorized to perform: sagemaker:CreateModelPackageGroup" in str(
        failure
    )


@pytest.mark.parametrize(
    ("setting", "action"),
    [
        ("      VersioningConfiguration:\n        Status: Enabled\n", "s3:PutBucketVersioning"),
        (
            "      LifecycleConfiguration:\n        Rules:\n          - Status: Enabled\n            ExpirationInDays: 90\n",
            "s3:PutLifecycleConfiguration",
        ),
        (
            "      OwnershipControls:\n        Rules:\n          - ObjectOwnership: BucketOwnerEnforced\n",
            "s3:PutBucketOwnershipControls",
        ),
    ],
)
def test_bucket_settings_the_launch_role_may_not_make(embedded, tmp_path, setting, action):
    root = product_copy(tmp_path)
    edit(
        root / "service_catalog" / "product.yaml",
        "      PublicAccessBlockConfiguration:\n",
        setting + "      PublicAccessBlockConfiguration:\n",
    )
    failure = fails(embedded, tmp_path, root, permission_check=False)
    assert failure.stage == "CreateProject"
    assert "failed to create: [ArtifactBucket]" in str(failure)
    assert (
        f"{LAUNCH}/servicecatalog is not authorized to perform: {action} on resource: arn:aws:s3:::sagemaker-project-p-"
        in str(failure)
    )


def test_approval_email_is_refused_up_front_with_the_reason(embedded, tmp_path):
    failure = fails(embedded, tmp_path, REPO, project_parameters={"ApprovalEmail": "team@example.com"})
    assert failure.stage == "CreateProject"
    assert "ApprovalEmail needs custom roles" in str(failure)


def test_approval_topic_without_the_rule_is_denied_to_the_launch_role(embedded, tmp_path):
    root = product_copy(tmp_path)
    template = root / "service_catalog" / "product.yaml"
    text = template.read_text()
    start, end = text.index("  ApprovalEmailNeedsCustomRoles:"), text.index("  KmsKeyNeedsCustomRoles:")
    template.write_text(text[:start] + text[end:])
    failure = fails(
        embedded,
        tmp_path,
        root,
        permission_check=False,
        project_parameters={"ApprovalEmail": "team@example.com"},
    )
    assert failure.stage == "CreateProject"
    assert "failed to create: [ApprovalTopic]" in str(failure)
    assert f"{LAUNCH}/servicecatalog is not authorized to perform: sns:CreateTopic" in str(failure)


def test_the_build_may_not_touch_model_package_groups(embedded, tmp_path):
    root = product_copy(tmp_path)
    edit(
        root / "seed_code" / "build" / "pipelines" / "cli.py",
        "        pipeline.upsert(role_arn",
        "        sagemaker_client.describe_model_package_group(ModelPackageGroupName=pipeline.name)\n"
        "        pipeline.upsert(role_arn",
    )
    failure = fails(embedded, tmp_path, root)
    assert failure.stage == "ModelBuild.Build"
    assert failure.action == "BuildAndExecuteSageMakerPipeline"
    log = "\n".join(failure.log_tail)
    assert "AmazonSageMakerServiceCatalogProductsCodeBuildRole/AWSCodeBuild-" in log
    assert (
        "is not authorized to perform: sagemaker:DescribeModelPackageGroup on resource: arn:aws:sagemaker:us-east-1"
        in log
    )


CONNECTION = f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/0f9a-local"
CONNECTION_PROJECT = {
    "SourceProvider": "CodeConnection",
    "CodeConnectionArn": CONNECTION,
    "ModelBuildRepositoryFullName": "ml-team/model-build",
    "ModelDeployRepositoryFullName": "ml-team/model-deploy",
}


def test_a_connection_without_the_sagemaker_tag_is_denied_to_the_pipeline_role(embedded, tmp_path):
    resource_state.extra_tags.pop(CONNECTION, None)
    failure = fails(embedded, tmp_path, REPO, project_parameters=CONNECTION_PROJECT)
    assert failure.stage == "ModelBuild.Source"
    assert "AmazonSageMakerServiceCatalogProductsCodePipelineRole" in str(failure)
    assert f"is not authorized to perform: codeconnections:UseConnection on resource: {CONNECTION}" in str(
        failure
    )


def test_a_connection_tagged_sagemaker_true_may_be_used(embedded, tmp_path):
    resource_state.extra_tags[CONNECTION] = {"sagemaker": "true"}
    try:
        failure = fails(embedded, tmp_path, REPO, project_parameters=CONNECTION_PROJECT)
    finally:
        resource_state.extra_tags.pop(CONNECTION, None)
    assert failure.stage == "ModelBuild.Source"
    assert "cannot be fetched locally" in str(failure) and "not authorized" not in str(failure)


def custom_role(embedded, name: str, service: str) -> str:
    iam = boto3.client("iam", endpoint_url=embedded.url, region_name="us-east-1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    try:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]


def test_a_custom_role_outside_the_managed_path_is_refused_up_front(embedded, tmp_path):
    arn = custom_role(embedded, "MyBuildRole", "codebuild.amazonaws.com")
    failure = fails(embedded, tmp_path, REPO, project_parameters={"CodeBuildRoleArn": arn})
    assert failure.stage == "CreateProject"
    assert "Parameter 'CodeBuildRoleArn' failed to satisfy constraint" in str(failure)
    assert "the only roles the SageMaker-managed launch role may pass" in str(failure)


def test_a_custom_role_the_launch_role_may_not_pass(embedded, tmp_path):
    arn = custom_role(embedded, "MyBuildRole", "codebuild.amazonaws.com")
    root = product_copy(tmp_path)
    template = root / "service_catalog" / "product.yaml"
    template.write_text(
        template.read_text().replace(
            r"AllowedPattern: ^$|^arn:aws[a-z-]*:iam::\d{12}:role/service-role/AmazonSageMakerServiceCatalog[\w+=,.@-]*$",
            r"AllowedPattern: ^$|^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
        )
    )
    failure = fails(
        embedded, tmp_path, root, permission_check=False, project_parameters={"CodeBuildRoleArn": arn}
    )
    assert failure.stage == "CreateProject"
    assert re.search(
        r"failed to create: \[(Model(Build|Deploy|DeployTest)|DataQualityCheck)Project\]", str(failure)
    )
    assert f"{LAUNCH}/servicecatalog is not authorized to perform: iam:PassRole on resource: {arn}" in str(
        failure
    )


def test_the_preflight_reports_every_missing_permission_before_writing(embedded, tmp_path):
    root = product_copy(tmp_path)
    edit(
        root / "service_catalog" / "product.yaml",
        "      PublicAccessBlockConfiguration:\n",
        "      VersioningConfiguration:\n        Status: Enabled\n      PublicAccessBlockConfiguration:\n",
    )
    bucket = f"preflight-{uuid.uuid4().hex[:8]}"
    options = publishing.PublishOptions(
        repo_root=root,
        product_name="preflight-test",
        region="us-east-1",
        endpoint_url=embedded.url,
        principal_arns=[embedded.roles[server.STUDIO_EXECUTION_ROLE_NAME]],
        bucket=bucket,
    )
    with pytest.raises(publishing.PreflightError) as failure:
        publishing.publish(options)
    (problem,) = failure.value.problems
    assert problem.startswith(
        f"role {LAUNCH} may not s3:PutBucketVersioning on arn:aws:s3:::sagemaker-project-"
    )
    assert "ArtifactBucket (AWS::S3::Bucket) create: VersioningConfiguration" in problem
    s3 = boto3.client("s3", endpoint_url=embedded.url, region_name="us-east-1")
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def with_queue(tmp_path: Path, resource_type: str = "AWS::SQS::Queue") -> Path:
    """A product copy whose stack also creates a queue (a type outside the reviewed table)."""
    root = product_copy(tmp_path)
    edit(
        root / "service_catalog" / "product.yaml",
        "  ModelBuildRepository:\n",
        f"  WorkQueue:\n    Type: {resource_type}\n    Properties:\n      VisibilityTimeout: 60\n\n"
        "  ModelBuildRepository:\n",
    )
    return root


def preflight_options(embedded, root: Path, name: str) -> publishing.PublishOptions:
    return publishing.PublishOptions(
        repo_root=root,
        product_name=name,
        region="us-east-1",
        endpoint_url=embedded.url,
        principal_arns=[embedded.roles[server.STUDIO_EXECUTION_ROLE_NAME]],
        dry_run=True,
    )


def test_a_type_outside_the_reviewed_table_publishes_and_fails_at_create_project(embedded, tmp_path):
    """Its permissions come from the registry schema's handlers, an over-approximation the preflight names (its
    denials are warnings); provisioning under the managed launch role fails as on AWS, at sqs:CreateQueue."""
    root = with_queue(tmp_path)
    warnings = publishing.publish(preflight_options(embedded, root, "queue-preflight"))["warnings"]
    assert (
        "AWS::SQS::Queue: permissions from the CloudFormation registry schema's create and delete handlers "
        "(an over-approximation: AWS may need fewer)"
    ) in warnings
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:SC-{ACCOUNT}-pp-preflight-WorkQueue-PREFLIGHT"
    created = (
        f"role {LAUNCH} may not sqs:CreateQueue, sqs:GetQueueUrl, sqs:GetQueueAttributes, sqs:ListQueueTags, "
        f"sqs:TagQueue on {queue} (WorkQueue (AWS::SQS::Queue) create: registry schema create handler; "
        "implicitDeny): the registry schema's create handler lists them (an over-approximation: AWS may need "
        "fewer); if AWS makes one of these calls, creating a project fails"
    )
    assert [w for w in warnings if w.startswith(created)], warnings
    assert [w for w in warnings if w.startswith(f"role {LAUNCH} may not sqs:DeleteQueue, ")], warnings

    failure = fails(embedded, tmp_path, root)  # the preflight on: publishing goes on
    assert failure.stage == "CreateProject"
    assert "The following resource(s) failed to create: [WorkQueue]" in str(failure)
    assert re.search(
        rf"WorkQueue: Resource handler returned message: \"User: arn:aws:sts::{ACCOUNT}:assumed-role/{LAUNCH}/"
        rf"servicecatalog is not authorized to perform: sqs:CreateQueue on resource: arn:aws:sqs:us-east-1:"
        rf"{ACCOUNT}:\S+ because no identity-based policy allows the sqs:CreateQueue action",
        str(failure),
    ), str(failure)


@pytest.mark.parametrize(
    ("resource_type", "problem"),
    [
        (
            "AWS::SQS::Queu",
            "AWS::SQS::Queu (WorkQueue) is not a CloudFormation resource type: no Region's registry schema "
            "(cfn-lint's schemas) has it; check its spelling",
        ),
        (
            "Custom::Thing",
            "no permissions known for Custom::Thing: smbundle/resource_permissions.py has no entry for it and no "
            "Region's CloudFormation registry schema (as cfn-lint ships them) has the type",
        ),
    ],
    ids=["misspelled", "custom"],  # no "::" in a test id: xdist would take it for another module's
)
def test_a_type_without_known_permissions_fails_the_preflight_naming_it(
    embedded, tmp_path, resource_type, problem
):
    root = with_queue(tmp_path, resource_type)
    with pytest.raises(publishing.PreflightError) as failure:
        publishing.publish(preflight_options(embedded, root, "queue-unknown"))
    assert failure.value.problems == [problem]


def test_the_product_passes_the_preflight_with_the_managed_roles(embedded):
    options = publishing.PublishOptions(
        repo_root=REPO,
        product_name="preflight-clean",
        region="us-east-1",
        endpoint_url=embedded.url,
        principal_arns=[embedded.roles[server.STUDIO_EXECUTION_ROLE_NAME]],
        dry_run=True,
    )
    assert publishing.publish(options)["dry_run"] is True


# Calibration: AWS's own published project template ("MLOps template for model building, training, and deployment",
# as aws-samples/sagemaker-custom-project-templates copies it; see the fixture's header), under AWS's own roles.
# AWS's texts are not copied into this repository: the calibration reads them from SMBUNDLE_CALIBRATION_DIR, which
# holds, as published (git show <commit>:<path>):
# - serverless-inf-template.yml: aws-samples/sagemaker-custom-project-templates
#   41d5e860741fb19d5892f2c4aa82fa1d6312948e:serverless-inf/template.yml (the first-party build-train-deploy
#   template, copied there, with init.sh's seed placeholders);
# - core-iam-sc-sm-projects-roles.yaml: aws-samples/amazon-sagemaker-secure-mlops
#   c299dd7495bcd7ffb1929abd7a761446a39c2be2:cfn_templates/core-iam-sc-sm-projects-roles.yaml (the role template
#   giving AmazonSageMakerServiceCatalogProductsUseRole its policies).
CALIBRATION = Path(os.environ.get("SMBUNDLE_CALIBRATION_DIR", "/nonexistent"))
AWS_TEMPLATE = CALIBRATION / "serverless-inf-template.yml"
AWS_ROLES_TEMPLATE = CALIBRATION / "core-iam-sc-sm-projects-roles.yaml"
USE = "AmazonSageMakerServiceCatalogProductsUseRole"
needs_aws_texts = pytest.mark.skipif(
    not (AWS_TEMPLATE.is_file() and AWS_ROLES_TEMPLATE.is_file()),
    reason="set SMBUNDLE_CALIBRATION_DIR to a directory with AWS's published template and role template "
    "(see the comment above: they are not copied into this repository)",
)


def give_use_role_its_published_policies(embedded) -> None:
    """Attach to the Use role what AWS's role template gives it: its managed policies and its inline policy, with
    ${AWS::AccountId} and ${AWS::Partition} filled in as CloudFormation would."""
    from smbundle import templates

    role = templates.load(AWS_ROLES_TEMPLATE)["Resources"][USE]["Properties"]

    def filled(value):
        if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return (
                value["Fn::Sub"]
                .replace("${AWS::AccountId}", "123456789012")
                .replace("${AWS::Partition}", "aws")
            )
        if isinstance(value, dict):
            return {k: filled(v) for k, v in value.items()}
        if isinstance(value, list):
            return [filled(v) for v in value]
        if isinstance(
            value, datetime.date
        ):  # YAML reads an unquoted Version as a date, CloudFormation as text
            return value.isoformat()
        return value

    from moto.iam.models import iam_backends

    from smbundle.local.iam import roles

    iam = boto3.client("iam", endpoint_url=embedded.url, region_name="us-east-1")
    for arn in role.get("ManagedPolicyArns") or []:
        arn = filled(arn)
        # AWS managed policies exist in every account; the embedded IAM registers those it is asked for.
        roles._register_managed_policies(iam_backends["123456789012"]["aws"], {arn.rsplit("/", 1)[-1]})
        iam.attach_role_policy(RoleName=USE, PolicyArn=arn)
    for policy in role.get("Policies") or []:
        iam.put_role_policy(
            RoleName=USE,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(filled(policy["PolicyDocument"])),
        )


# What the sample's init.sh (same commit) writes into the template: the bucket given to it, and these keys.
INIT_SH_SEED_KEYS = {
    "BUILD": (
        "build",
        "awsome-sagemaker-projects-templates/seedcodes/serverless-inference-build-seedcode.zip",
    ),
    "DEPLOY": (
        "deploy",
        "awsome-sagemaker-projects-templates/seedcodes/serverless-inference-deploy-seedcode.zip",
    ),
}


def init_sh(embedded, bucket: str) -> str:
    """Do what the sample's ``init.sh <BUCKET>`` does: zip each seed directory, copy it to the bucket, and fill the
    template's placeholders with the bucket and keys. The seed code is this product's (AWS's seed code is not
    ours to copy); it reads the variables AWS's build project sets (SAGEMAKER_PROJECT_NAME, SAGEMAKER_PROJECT_ID,
    SAGEMAKER_PROJECT_ARN, SAGEMAKER_PIPELINE_ROLE_ARN, ARTIFACT_BUCKET, AWS_REGION)."""
    s3 = boto3.client("s3", endpoint_url=embedded.url, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    body = AWS_TEMPLATE.read_text()
    for placeholder, (source, key) in INIT_SH_SEED_KEYS.items():
        zipped = publishing.packaging.deterministic_zip(REPO / "seed_code" / source)
        s3.put_object(Bucket=bucket, Key=key, Body=zipped)
        body = body.replace(f"<#####{placeholder}-BUCKET-PLACEHOLDER#####>", bucket)
        body = body.replace(f"<#####{placeholder}-FILE-PATH-PLACEHOLDER#####>", key)
    assert "PLACEHOLDER#####>" not in body
    return body


def create_aws_template_project(embedded, body: str, name: str) -> dict:
    """Publish ``body`` as a Service Catalog product under the SageMaker-managed launch role, and create a project."""
    region = "us-east-1"
    s3 = boto3.client("s3", endpoint_url=embedded.url, region_name=region)
    templates_bucket = f"calibration-templates-{name}"
    s3.create_bucket(Bucket=templates_bucket)
    s3.put_object(Bucket=templates_bucket, Key="template.yml", Body=body)
    catalog = boto3.client("servicecatalog", endpoint_url=embedded.url, region_name=region)
    portfolio = catalog.create_portfolio(DisplayName=name, ProviderName="test")["PortfolioDetail"]["Id"]
    product = catalog.create_product(
        Name=name,
        Owner="test",
        ProductType="CLOUD_FORMATION_TEMPLATE",
        Tags=[{"Key": "sagemaker:studio-visibility", "Value": "true"}],
        ProvisioningArtifactParameters={
            "Name": "v1.0",
            "Info": {
                "LoadTemplateFromURL": f"https://{templates_bucket}.s3.{region}.amazonaws.com/template.yml"
            },
            "Type": "CLOUD_FORMATION_TEMPLATE",
        },
    )
    product_id = product["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    catalog.associate_product_with_portfolio(ProductId=product_id, PortfolioId=portfolio)
    catalog.create_constraint(
        PortfolioId=portfolio,
        ProductId=product_id,
        Type="LAUNCH",
        Parameters=json.dumps({"RoleArn": embedded.roles[LAUNCH]}),
    )
    sagemaker = boto3.client("sagemaker", endpoint_url=embedded.url, region_name=region)
    sagemaker.create_project(
        ProjectName=name,
        ServiceCatalogProvisioningDetails={
            "ProductId": product_id,
            "ProvisioningArtifactId": product["ProvisioningArtifactDetail"]["Id"],
        },
    )
    return sagemaker.describe_project(ProjectName=name)


@needs_aws_texts
def test_aws_template_seeded_as_its_init_script_does_is_denied_its_seed_code(embedded):
    """init.sh copies the seed code untagged into the bucket it is given; the managed launch role reads objects
    outside sagemaker-* buckets only when tagged servicecatalog:provisioning=true (its policy's two s3:GetObject
    statements), so AWS denies the repositories' seed code, as here. (The sample's later revision grants the read
    itself: its product stack gives its seed bucket a policy letting the launch role s3:GetObject.)"""
    bucket = f"init-sh-{uuid.uuid4().hex[:8]}"
    project = create_aws_template_project(embedded, init_sh(embedded, bucket), "awsuntagged")
    assert project["ProjectStatus"] == "CreateFailed"
    message = project["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductStatusMessage"]
    assert re.search(
        rf"{LAUNCH}/servicecatalog is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::{bucket}/"
        r"awsome-sagemaker-projects-templates/seedcodes/serverless-inference-(build|deploy)-seedcode\.zip because "
        "no identity-based policy allows the s3:GetObject action",
        message,
    ), message


@needs_aws_texts
def test_aws_published_template_provisions_and_builds_with_no_denial(embedded, tmp_path, monkeypatch, caplog):
    """AWS's template as published, seeded as its init.sh does (objects tagged as the managed launch role's policy
    requires), provisions under the managed launch role; its build pipeline, which runs as the Use role with the
    policy AWS's published role template gives it, then runs to the end with IAM enforced, and nothing is denied
    that AWS would allow."""
    from smbundle import templates
    from smbundle.local.codepipeline import executions, watch
    from smbundle.local.iam import enforcement

    assert enforcement.is_enabled()
    assert embedded.roles[USE].endswith(f":role/service-role/{USE}")
    give_use_role_its_published_policies(embedded)
    caplog.set_level("INFO", logger=enforcement.__name__)
    monkeypatch.setattr(executions.settings, "workdir", tmp_path / "pipelines")

    bucket = f"init-sh-{uuid.uuid4().hex[:8]}"
    body = init_sh(embedded, bucket)
    s3 = boto3.client("s3", endpoint_url=embedded.url, region_name="us-east-1")
    for _, key in INIT_SH_SEED_KEYS.values():
        s3.put_object_tagging(
            Bucket=bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": "servicecatalog:provisioning", "Value": "true"}]},
        )
    name = "awscalibration"
    project = create_aws_template_project(embedded, body, name)
    assert project["ProjectStatus"] == "CreateCompleted", project["ServiceCatalogProvisionedProductDetails"]

    cloudformation = boto3.client("cloudformation", endpoint_url=embedded.url, region_name="us-east-1")
    stack_id = [
        s
        for s in cloudformation.describe_stacks()["Stacks"]
        if s["StackName"].startswith("SC-") and any(t["Value"] == name for t in s.get("Tags", []))
    ][0]["StackId"]
    events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
    assert not [e for e in events if e["ResourceStatus"].endswith("FAILED")]
    created = {e["LogicalResourceId"] for e in events if e["ResourceStatus"] == "CREATE_COMPLETE"}
    assert set(templates.load(AWS_TEMPLATE)["Resources"]) <= created

    codepipeline = boto3.client("codepipeline", endpoint_url=embedded.url, region_name="us-east-1")
    prefix = f"sagemaker-{name}-{project['ProjectId']}"
    (execution,) = watch.started_executions(codepipeline, f"{prefix}-modelbuild", "CreatePipeline")
    build = watch.watch(codepipeline, f"{prefix}-modelbuild", execution, lambda *args: None)
    assert build.status == "Succeeded", (build.failed_action, build.summary)
    assert [(a.stage, a.action, a.status) for a in build.actions] == [
        ("Source", "ModelBuildWorkflowCode", "Succeeded"),
        ("Build", "BuildAndExecuteSageMakerPipeline", "Succeeded"),
    ]
    sagemaker = boto3.client("sagemaker", endpoint_url=embedded.url, region_name="us-east-1")
    group = f"{name}-{project['ProjectId']}"  # the name AWS's ModelDeploySageMakerEventRule listens for
    assert sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]

    # The deploy pipeline ran too: at creation, and when the build registered the package (AWS's model rule, as
    # the Use role). Its build action fails, as on AWS, for want of an approved package: nothing to do with IAM.
    deploy = f"{prefix}-modeldeploy"
    deadline = time.monotonic() + 60
    while True:  # the rule's delivery is asynchronous
        summaries = codepipeline.list_pipeline_executions(pipelineName=deploy)["pipelineExecutionSummaries"]
        triggers = {s["trigger"]["triggerType"] for s in summaries}
        if triggers == {"CreatePipeline", "CloudWatchEvent"} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert triggers == {"CreatePipeline", "CloudWatchEvent"}
    for summary in summaries:
        outcome = watch.watch(codepipeline, deploy, summary["pipelineExecutionId"], lambda *args: None)
        failed = outcome.failed_action
        assert (outcome.status, failed.stage, failed.action) == (
            "Failed",
            "Build",
            "BuildDeploymentTemplates",
        )
        reason = f"error: no Approved model package in model package group {group}:"
        assert [line for line in failed.log_tail if line.startswith(reason)], failed.log_tail

    # Every call made as the Use role (and anything of this project) was allowed, but one AWS denies as well:
    # s3:ListAllMyBuckets, which authorizes against "*" (it has no resource type) while the policy lists it only with
    # bucket ARNs; the SDK's default-bucket check asks it through boto3's Bucket.load, which ignores AccessDenied.
    denials = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("denied ")
        and (USE in r.getMessage() or project["ProjectId"] in r.getMessage())
    ]
    assert [d for d in denials if not d.endswith(" s3:ListAllMyBuckets on *")] == [], denials


def test_the_preflight_covers_prod_monitoring_and_the_managed_roles_allow_it(embedded):
    """With Model Monitor (MonitoringBackend model-monitor): the CloudFormation role creates prod's job definition
    and schedule (passing the execution role), the CodeBuild role reads the package's baseline, the execution role
    captures, reads and reports: all planned, all allowed by the managed policies."""
    from smbundle import permission_plan, templates

    calls = permission_plan.plan(
        templates.load(REPO / "service_catalog" / "product.yaml"),
        templates.load(REPO / "seed_code" / "deploy" / "endpoint-config-template.yml"),
        launch_role_arn=f"arn:aws:iam::{ACCOUNT}:role/service-role/{LAUNCH}",
        region="us-east-1",
        account="123456789012",
        parameters={"MonitoringBackend": "model-monitor"},
    )
    planned = {(c.role_arn.rsplit("/", 1)[-1], c.action) for c in calls}
    for expected in [
        (
            "AmazonSageMakerServiceCatalogProductsCloudformationRole",
            "sagemaker:CreateDataQualityJobDefinition",
        ),
        ("AmazonSageMakerServiceCatalogProductsCloudformationRole", "sagemaker:CreateMonitoringSchedule"),
        ("AmazonSageMakerServiceCatalogProductsCloudformationRole", "sagemaker:DeleteMonitoringSchedule"),
        ("AmazonSageMakerServiceCatalogProductsCodeBuildRole", "sagemaker:DescribeModelPackage"),
        ("AmazonSageMakerServiceCatalogProductsExecutionRole", "s3:ListBucket"),
    ]:
        assert expected in planned, expected
    assert not [c for c in calls if "data-quality check" in c.why]  # no project check with this backend
    passes = [
        c
        for c in calls
        if c.action == "iam:PassRole"
        and "DataQualityJobDefinition" in c.why
        and "Cloudformation" in c.role_arn
    ]
    assert passes and all(
        c.resource.endswith("/AmazonSageMakerServiceCatalogProductsExecutionRole") for c in passes
    )
    iam = boto3.client("iam", endpoint_url=embedded.url, region_name="us-east-1")
    assert permission_plan.check(iam, calls) == []


def test_the_preflight_covers_the_projects_own_check_under_the_managed_roles(embedded):
    """The default backend: the schedule rule's Events role starts the data-quality CodePipeline, its CodeBuild
    role creates and starts the check's SageMaker Pipeline, the execution role runs it and publishes its metrics;
    nothing of Model Monitor is asked for, and the managed policies allow all of it."""
    from smbundle import permission_plan, templates

    calls = permission_plan.plan(
        templates.load(REPO / "service_catalog" / "product.yaml"),
        templates.load(REPO / "seed_code" / "deploy" / "endpoint-config-template.yml"),
        launch_role_arn=f"arn:aws:iam::{ACCOUNT}:role/service-role/{LAUNCH}",
        region="us-east-1",
        account="123456789012",
    )
    planned = {(c.role_arn.rsplit("/", 1)[-1], c.action, c.resource.rsplit(":", 1)[-1]) for c in calls}
    prefix = "AmazonSageMakerServiceCatalogProducts"
    for expected in [
        (
            f"{prefix}EventsRole",
            "codepipeline:StartPipelineExecution",
            "sagemaker-preflight-p-preflight000-dataquality",
        ),
        (
            f"{prefix}CodeBuildRole",
            "sagemaker:CreatePipeline",
            "pipeline/preflight-p-preflight000-data-quality",
        ),
        (f"{prefix}CodeBuildRole", "sagemaker:DescribeEndpoint", "endpoint/preflight-prod"),
        (f"{prefix}ExecutionRole", "cloudwatch:PutMetricData", "*"),
        (f"{prefix}ExecutionRole", "sagemaker:CreateProcessingJob", "processing-job/pipelines-*"),
    ]:
        assert expected in planned, expected
    assert not [
        c for c in calls if "MonitoringSchedule" in c.action or "DataQualityJobDefinition" in c.action
    ]
    iam = boto3.client("iam", endpoint_url=embedded.url, region_name="us-east-1")
    assert permission_plan.check(iam, calls) == []
