"""Projects from S3 project templates (CreateProject with TemplateProviders), on the embedded AWS under enforcement:
created, described, updated and deleted as AWS does it, the stack built as the template provider's RoleARN (or as
the caller without one), and refused as AWS refuses them."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from smbundle import publish as publishing
from smbundle.local import server
from smbundle.local.iam import enforcement, roles

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
REGION = "us-east-1"
# Named as AWS's setup guide names it (s3_templates/README.md): the Studio role's AmazonSageMakerFullAccess reads
# objects of buckets whose name contains "sagemaker".
BUCKET = f"sagemaker-projects-templates-{ACCOUNT}-{REGION}"
LAUNCH = "ProductProjectsLaunchRole"  # the launch role a platform team makes for this product
STUDIO = server.STUDIO_EXECUTION_ROLE_NAME

SMALL_TEMPLATE = """
Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
  Purpose: {Type: String, Default: demo}
  Versioning: {Type: String, Default: "false", AllowedValues: ["true", "false"]}
Conditions:
  Versioned: !Equals [!Ref Versioning, "true"]
Resources:
  ArtifactBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub sagemaker-project-${SageMakerProjectId}
      VersioningConfiguration: !If [Versioned, {Status: Enabled}, !Ref AWS::NoValue]
      Tags:
        - {Key: purpose, Value: !Ref Purpose}
Outputs:
  BucketName:
    Value: !Ref ArtifactBucket
"""


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        client = aws.client("s3")
        client.create_bucket(Bucket=BUCKET)
        aws.client("sagemaker").add_tags(
            ResourceArn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:domain/{aws.domain_id}",
            Tags=[{"Key": "sagemaker:projectS3TemplatesLocation", "Value": f"s3://{BUCKET}/templates/"}],
        )
        aws.launch_role = launch_role(aws)
        yield aws


def launch_role(aws) -> str:
    """The S3 path's launch role as a platform team makes it: CloudFormation assumes it; here it has the managed
    Service Catalog launch policy (what this product's template is checked against)."""
    iam = aws.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudformation.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(RoleName=LAUNCH, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(
        RoleName=LAUNCH,
        PolicyArn=roles.managed_policy_arn("AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy"),
    )
    return arn


def studio_user_may_create_projects(aws) -> None:
    """What AWS's setup guide adds to the Studio execution role: CloudFormation on SP-* stacks (tagging only those
    carrying sagemaker:project-name), passing the launch role, reading template tags. (Our wording of that policy.)"""
    stacks = f"arn:aws:cloudformation:*:{ACCOUNT}:stack/SP-*"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [f"cloudformation:{a}" for a in ("CreateStack", "UpdateStack", "DeleteStack")],
                "Resource": stacks,
            },
            {
                "Effect": "Allow",
                "Action": "cloudformation:TagResource",
                "Resource": stacks,
                "Condition": {"Null": {"aws:ResourceTag/sagemaker:project-name": "false"}},
            },
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": aws.launch_role},
            {"Effect": "Allow", "Action": "s3:GetObjectTagging", "Resource": "arn:aws:s3:::sagemaker*/*"},
        ],
    }
    aws.client("iam").put_role_policy(
        RoleName=STUDIO, PolicyName="projects", PolicyDocument=json.dumps(policy)
    )


def as_role(aws, role_name: str, service: str):
    """A client signed with a session of the role (as Studio signs with the user's execution role)."""
    credentials = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/service-role/{role_name}"
        if role_name == STUDIO
        else f"arn:aws:iam::{ACCOUNT}:role/{role_name}",
        RoleSessionName="studio-user",
    )["Credentials"]
    return boto3.client(
        service,
        endpoint_url=aws.url,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def upload(aws, body: str, visible: bool = True, prefix: str = "templates/") -> str:
    key = f"{prefix}t-{uuid.uuid4().hex[:8]}.yaml"
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body.encode())
    if visible:
        aws.client("s3").put_object_tagging(
            Bucket=BUCKET,
            Key=key,
            Tagging={"TagSet": [{"Key": "sagemaker:studio-visibility", "Value": "true"}]},
        )
    return f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{key}"


def provider(url: str, role: str | None = None, **parameters) -> list[dict]:
    cfn = {
        "TemplateName": "small",
        "TemplateURL": url,
        "Parameters": [{"Key": k, "Value": v} for k, v in parameters.items()],
    }
    if role:
        cfn["RoleARN"] = role
    return [{"CfnTemplateProvider": cfn}]


def name() -> str:
    return "p" + uuid.uuid4().hex[:10]


def detail(sagemaker, project: str) -> dict:
    return sagemaker.describe_project(ProjectName=project)["TemplateProviderDetails"][0][
        "CfnTemplateProviderDetail"
    ]


def wait_steady(sagemaker, project: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        described = sagemaker.describe_project(ProjectName=project)
        if not described["ProjectStatus"].endswith("InProgress") or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


# -- create, describe, update, delete ---------------------------------------------------------------------------
def test_create_describe_update_delete_as_the_launch_role(embedded):
    sagemaker, cloudformation = embedded.client("sagemaker"), embedded.client("cloudformation")
    url = upload(embedded, SMALL_TEMPLATE)
    project = name()
    created = sagemaker.create_project(
        ProjectName=project,
        TemplateProviders=provider(url, embedded.launch_role, Purpose="first"),
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    described = sagemaker.describe_project(ProjectName=project)
    assert described["ProjectStatus"] == "CreateCompleted"
    assert "ServiceCatalogProvisioningDetails" not in described
    cfn = detail(sagemaker, project)
    stack_name = f"SP-{ACCOUNT}-{created['ProjectId']}"
    assert cfn["TemplateName"] == "small" and cfn["TemplateURL"] == url
    assert cfn["RoleARN"] == embedded.launch_role
    assert cfn["Parameters"] == [{"Key": "Purpose", "Value": "first"}]
    assert cfn["StackDetail"]["Name"] == stack_name
    assert cfn["StackDetail"]["StatusMessage"] == "CREATE_COMPLETE"
    stack = cloudformation.describe_stacks(StackName=cfn["StackDetail"]["Id"])["Stacks"][0]
    assert stack["RoleARN"] == embedded.launch_role
    assert {"Key": "sagemaker:project-id", "Value": created["ProjectId"]} in stack["Tags"]
    assert {"Key": "team", "Value": "ml"} in stack["Tags"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["SageMakerProjectName"] == project
    assert parameters["SageMakerProjectId"] == created["ProjectId"]
    bucket = f"sagemaker-project-{created['ProjectId']}"
    tags = embedded.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert {"Key": "purpose", "Value": "first"} in tags

    # A new version of the template, and a new parameter value: the stack is updated as its role.
    newer = upload(
        embedded,
        SMALL_TEMPLATE.replace("BucketName:\n    Value", "BucketName:\n    Description: v2\n    Value"),
    )
    sagemaker.update_project(
        ProjectName=project,
        TemplateProvidersToUpdate=[
            {
                "CfnTemplateProvider": {
                    "TemplateName": "small",
                    "TemplateURL": newer,
                    "Parameters": [{"Key": "Purpose", "Value": "second"}],
                }
            }
        ],
    )
    assert wait_steady(sagemaker, project)["ProjectStatus"] == "UpdateCompleted"
    cfn = detail(sagemaker, project)
    assert cfn["TemplateURL"] == newer and cfn["Parameters"] == [{"Key": "Purpose", "Value": "second"}]
    assert cfn["StackDetail"]["StatusMessage"] == "UPDATE_COMPLETE"
    assert (
        cloudformation.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["RoleARN"]
        == embedded.launch_role
    )
    tags = embedded.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert {"Key": "purpose", "Value": "second"} in tags

    sagemaker.delete_project(ProjectName=project)
    with pytest.raises(ClientError, match="does not exist"):
        sagemaker.describe_project(ProjectName=project)
    assert (
        cloudformation.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackStatus"]
        == "DELETE_COMPLETE"
    )
    with pytest.raises(ClientError):
        embedded.client("s3").head_bucket(Bucket=bucket)


def test_an_update_the_role_may_not_make_fails_and_the_project_keeps_its_values(embedded):
    sagemaker = embedded.client("sagemaker")
    url = upload(embedded, SMALL_TEMPLATE)
    project = name()
    sagemaker.create_project(ProjectName=project, TemplateProviders=provider(url, embedded.launch_role))
    versioned = upload(embedded, SMALL_TEMPLATE.replace('Versioning, "true"]', 'Versioning, "false"]'))
    sagemaker.update_project(
        ProjectName=project,
        TemplateProvidersToUpdate=[
            {
                "CfnTemplateProvider": {
                    "TemplateName": "small",
                    "TemplateURL": versioned,
                    "Parameters": [{"Key": "Purpose", "Value": "v2"}],
                }
            }
        ],
    )
    described = wait_steady(sagemaker, project)
    assert described["ProjectStatus"] == "UpdateFailed"
    cfn = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    message = cfn["StackDetail"]["StatusMessage"]
    assert message.startswith("UPDATE_ROLLBACK_COMPLETE: ArtifactBucket: ")
    assert (
        f"assumed-role/{LAUNCH}/AWSCloudFormation is not authorized to perform: s3:PutBucketVersioning"
        in message
    )
    assert cfn["Parameters"] == [] and cfn["TemplateURL"] == url  # still what it was created with
    assert cfn["RoleARN"] == embedded.launch_role
    with pytest.raises(ClientError, match="TemplateProvidersToUpdate|no template named"):
        sagemaker.update_project(
            ProjectName=project,
            TemplateProvidersToUpdate=[
                {"CfnTemplateProvider": {"TemplateName": "other", "TemplateURL": url}}
            ],
        )
    with pytest.raises(ClientError, match="S3 project template: ServiceCatalogProvisioningUpdateDetails"):
        sagemaker.update_project(
            ProjectName=project, ServiceCatalogProvisioningUpdateDetails={"ProvisioningArtifactId": "pa-x"}
        )


def test_a_resource_the_launch_role_may_not_create_fails_the_creation(embedded):
    sagemaker = embedded.client("sagemaker")
    url = upload(embedded, SMALL_TEMPLATE)
    project = name()
    sagemaker.create_project(
        ProjectName=project, TemplateProviders=provider(url, embedded.launch_role, Versioning="true")
    )
    described = sagemaker.describe_project(ProjectName=project)
    assert described["ProjectStatus"] == "CreateFailed"
    message = detail(sagemaker, project)["StackDetail"]["StatusMessage"]
    assert message.startswith("ROLLBACK_COMPLETE: ")
    assert f"{LAUNCH}/AWSCloudFormation is not authorized to perform: s3:PutBucketVersioning" in message


# -- who acts ---------------------------------------------------------------------------------------------------
def test_the_studio_user_creates_the_stack_and_the_launch_role_its_resources(embedded, caplog):
    studio_user_may_create_projects(embedded)
    caplog.set_level("INFO", logger=enforcement.__name__)
    url = upload(embedded, SMALL_TEMPLATE)
    project = name()
    sagemaker = as_role(embedded, STUDIO, "sagemaker")
    sagemaker.create_project(ProjectName=project, TemplateProviders=provider(url, embedded.launch_role))
    assert sagemaker.describe_project(ProjectName=project)["ProjectStatus"] == "CreateCompleted"
    assert not [r for r in caplog.records if r.getMessage().startswith("denied ")]
    sagemaker.delete_project(ProjectName=project)


def test_without_a_role_the_stack_is_built_as_the_caller(embedded):
    """CloudFormation uses the caller's credentials when the stack has no role: the Studio role may not create a
    bucket's tags (AmazonSageMakerFullAccess has no s3:PutBucketTagging)."""
    studio_user_may_create_projects(embedded)
    url = upload(embedded, SMALL_TEMPLATE)
    project = name()
    sagemaker = as_role(embedded, STUDIO, "sagemaker")
    sagemaker.create_project(ProjectName=project, TemplateProviders=provider(url))
    described = sagemaker.describe_project(ProjectName=project)
    assert described["ProjectStatus"] == "CreateFailed"
    message = detail(sagemaker, project)["StackDetail"]["StatusMessage"]
    assert f"assumed-role/{STUDIO}/studio-user is not authorized to perform: s3:" in message, message


def test_a_caller_without_cloudformation_permissions_is_refused_the_stack(embedded):
    iam = embedded.client("iam")
    role = "AmazonSageMaker-ExecutionRole-plain"
    iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=roles.trust_policy(("sagemaker.amazonaws.com",)),
    )
    iam.attach_role_policy(RoleName=role, PolicyArn=roles.managed_policy_arn("AmazonSageMakerFullAccess"))
    iam.put_role_policy(
        RoleName=role,
        PolicyName="pass",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": embedded.launch_role},
                    {"Effect": "Allow", "Action": "s3:GetObjectTagging", "Resource": "*"},
                ],
            }
        ),
    )
    url = upload(embedded, SMALL_TEMPLATE)
    project = name()
    sagemaker = as_role(embedded, role, "sagemaker")
    sagemaker.create_project(ProjectName=project, TemplateProviders=provider(url, embedded.launch_role))
    assert sagemaker.describe_project(ProjectName=project)["ProjectStatus"] == "CreateFailed"
    message = detail(sagemaker, project)["StackDetail"]["StatusMessage"]
    assert (
        f"assumed-role/{role}/studio-user is not authorized to perform: cloudformation:CreateStack" in message
    )
    assert "Id" not in detail(sagemaker, project)["StackDetail"]


# -- refused as AWS refuses ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case, expected",
    [
        ("outside", "is not in the S3 project templates location of a SageMaker domain"),
        ("untagged", "is not tagged sagemaker:studio-visibility=true"),
        ("undeclared", r"Parameters: \[Colour\] do not exist in the template"),
        ("reserved", "Parameter SageMakerProjectId is set by SageMaker"),
        ("missing role", "is invalid or cannot be assumed: the role does not exist"),
        ("line break", "cfnTemplateProvider.templateName. failed to satisfy constraint"),
        ("both kinds", "Specify either ServiceCatalogProvisioningDetails or TemplateProviders"),
    ],
)
def test_refused_before_anything_is_created(embedded, case, expected):
    sagemaker = embedded.client("sagemaker")
    role = embedded.launch_role
    url = upload(embedded, SMALL_TEMPLATE, prefix="elsewhere/" if case == "outside" else "templates/")
    kwargs = {}
    parameters = {}
    if case == "untagged":
        url = upload(embedded, SMALL_TEMPLATE, visible=False)
    elif case == "undeclared":
        parameters = {"Colour": "blue"}
    elif case == "reserved":
        parameters = {"SageMakerProjectId": "p-mine"}
    elif case == "missing role":
        role = f"arn:aws:iam::{ACCOUNT}:role/NoSuchLaunchRole"
    elif case == "both kinds":
        kwargs["ServiceCatalogProvisioningDetails"] = {"ProductId": "prod-abc"}
    project = name()
    providers = provider(url, role, **parameters)
    if case == "line break":  # botocore checks no pattern; SageMaker's TemplateName pattern refuses it
        providers[0]["CfnTemplateProvider"]["TemplateName"] += "\n"
    with pytest.raises(ClientError) as refused:
        sagemaker.create_project(ProjectName=project, TemplateProviders=providers, **kwargs)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == pytest.approx(
        refused.value.response["Error"]["Message"]
    )
    assert re.search(expected, refused.value.response["Error"]["Message"]), refused.value.response["Error"]
    assert project not in {p["ProjectName"] for p in sagemaker.list_projects()["ProjectSummaryList"]}
    assert not [
        s
        for s in embedded.client("cloudformation").describe_stacks()["Stacks"]
        if project in json.dumps(s["Tags"])
    ]


# -- our product, published with publish_product.py --target s3 ---------------------------------------------------
def test_the_published_s3_template_creates_a_project_whose_pipelines_start(embedded, caplog, tmp_path):
    """The product template as `publish_product.py --target s3` publishes it creates a project through
    TemplateProviders, as a Studio user under the launch role, with no denial; its build pipeline starts."""
    from smbundle.local.codepipeline import executions

    studio_user_may_create_projects(embedded)
    caplog.set_level("INFO", logger=enforcement.__name__)
    executions.settings.workdir = tmp_path / "pipelines"
    options = publishing.PublishOptions(
        repo_root=REPO,
        target="s3",
        domain_id=embedded.domain_id,
        bucket=BUCKET,
        region=REGION,
        endpoint_url=embedded.url,
        skip_permission_check=True,
    )
    result = publishing.publish(options)
    assert result["templates_location"] == f"s3://{BUCKET}/templates/"
    project = "s3demo"
    sagemaker = as_role(embedded, STUDIO, "sagemaker")
    created = sagemaker.create_project(
        ProjectName=project,
        TemplateProviders=[
            {
                "CfnTemplateProvider": {
                    "TemplateName": "mlops-serverless-staging",
                    "TemplateURL": result["template_url"],
                    "RoleARN": embedded.launch_role,
                }
            }
        ],
    )
    described = sagemaker.describe_project(ProjectName=project)
    assert described["ProjectStatus"] == "CreateCompleted", described
    codepipeline = embedded.client("codepipeline")
    build = f"sagemaker-{project}-{created['ProjectId']}-modelbuild"
    deadline = time.monotonic() + 30
    while True:
        summaries = codepipeline.list_pipeline_executions(pipelineName=build)["pipelineExecutionSummaries"]
        if summaries or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [s["trigger"]["triggerType"] for s in summaries] == ["CreatePipeline"]
    denials = [r.getMessage() for r in caplog.records if r.getMessage().startswith("denied ")]
    assert denials == []


# -- calibration: AWS's own S3 sample template, under AWS's own sample roles ---------------------------------------
# AWS's texts are not copied into this repository: the test reads them from SMBUNDLE_CALIBRATION_DIR, which holds, as
# published in aws-samples/sagemaker-custom-project-templates at 0378bc7 (the commit that added them, 2025-11-20;
# unchanged since), `git show 0378bc7:<path> > <file>`:
# - build-train-deploy-codepipeline.yaml: s3_templates/sample-templates/templates/build-train-deploy-codepipeline.yaml
#   (the first-party "model building, training, and deployment with third-party Git repositories using
#   CodePipeline" template, re-shipped as an S3 template);
# - sagemaker-projects-roles-and-policies.yaml, cfn-stack-sm-projects.json, s3-tagging-policy.json:
#   s3_templates/sample-templates/iam/ (the roles the template uses, its launch role, and what the guide adds to the
#   Studio execution role). See docs/local.md "Projects from S3 project templates".
CALIBRATION = Path(os.environ.get("SMBUNDLE_CALIBRATION_DIR", "/nonexistent"))
AWS_S3_TEMPLATE = CALIBRATION / "build-train-deploy-codepipeline.yaml"
AWS_S3_ROLES = CALIBRATION / "sagemaker-projects-roles-and-policies.yaml"
AWS_CFN_POLICY = CALIBRATION / "cfn-stack-sm-projects.json"
AWS_TAGGING_POLICY = CALIBRATION / "s3-tagging-policy.json"
needs_aws_s3_texts = pytest.mark.skipif(
    not all(p.is_file() for p in (AWS_S3_TEMPLATE, AWS_S3_ROLES, AWS_CFN_POLICY, AWS_TAGGING_POLICY)),
    reason="set SMBUNDLE_CALIBRATION_DIR to a directory with AWS's S3 sample template and its IAM texts "
    "(see the comment above: they are not copied into this repository)",
)
AWS_LAUNCH = "AmazonSageMakerProjectsLaunchRole"


def create_aws_sample_roles(aws, studio_role_arn: str) -> None:
    """What `aws cloudformation deploy` of AWS's role template makes: each managed policy, each role with its path,
    trust (SageMakerExecutionRoleArn filled in) and attachments. Made through the IAM API, because moto's
    CloudFormation creates the roles without attaching their ManagedPolicyArns."""
    from moto.iam.models import iam_backends

    from smbundle import templates

    def filled(value):
        if isinstance(value, dict) and set(value) == {"Ref"}:
            return policies.get(value["Ref"]) or {"SageMakerExecutionRoleArn": studio_role_arn}[value["Ref"]]
        if isinstance(value, dict):
            return {k: filled(v) for k, v in value.items()}
        if isinstance(value, list):
            return [filled(v) for v in value]
        if hasattr(value, "isoformat"):  # YAML reads an unquoted Version as a date, CloudFormation as text
            return value.isoformat()
        return value

    resources = templates.load(AWS_S3_ROLES)["Resources"]
    iam = aws.client("iam")
    policies: dict[str, str] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            properties = resource["Properties"]
            policies[logical_id] = iam.create_policy(
                PolicyName=properties["ManagedPolicyName"],
                PolicyDocument=json.dumps(filled(properties["PolicyDocument"])),
            )["Policy"]["Arn"]
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        properties = filled(resource["Properties"])
        iam.create_role(
            RoleName=properties["RoleName"],
            Path=properties.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"]),
        )
        for arn in properties.get("ManagedPolicyArns") or []:
            if ":aws:policy/" in arn:  # AWS managed policies exist in every account
                roles._register_managed_policies(iam_backends[ACCOUNT]["aws"], {arn.rsplit("/", 1)[-1]})
            iam.attach_role_policy(RoleName=properties["RoleName"], PolicyArn=arn)
        for policy in properties.get("Policies") or []:
            iam.put_role_policy(
                RoleName=properties["RoleName"],
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )


@needs_aws_s3_texts
def test_aws_s3_sample_template_meets_no_denial_aws_would_not_give(embedded, caplog):
    """AWS's S3 sample template as published, set up as AWS's guide says (its roles, the launch role as RoleARN, the
    Studio role's extra policies, the template tagged and in the domain's location), is created as a Studio user
    under enforcement: nothing is denied, to the user or to any of AWS's sample roles, and every resource is created
    up to its Lambda-backed custom resources, which the embedded AWS cannot run (no Lambda runtime)."""
    from smbundle import templates

    studio = embedded.roles[STUDIO]
    create_aws_sample_roles(embedded, studio)
    iam = embedded.client("iam")
    for policy_name, document in (
        (
            "SageMakerProjectsPassRolePolicy",
            {  # the guide's pass-role-policy.json, which it writes inline
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "iam:PassRole",
                        "Resource": f"arn:aws:iam::{ACCOUNT}:role/{AWS_LAUNCH}",
                    }
                ],
            },
        ),
        ("SageMakerProjectsCreateCFNTemplates", json.loads(AWS_CFN_POLICY.read_text())),
        ("SageMakerS3GetObjectTaggingPolicy", json.loads(AWS_TAGGING_POLICY.read_text())),
    ):
        iam.put_role_policy(RoleName=STUDIO, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    caplog.set_level("INFO", logger=enforcement.__name__)
    url = upload(embedded, AWS_S3_TEMPLATE.read_text())
    connection = embedded.client("codeconnections").create_connection(
        ConnectionName="github", ProviderType="GitHub", Tags=[{"Key": "sagemaker", "Value": "true"}]
    )["ConnectionArn"]
    sagemaker = as_role(embedded, STUDIO, "sagemaker")
    project = "awss3sample"
    sagemaker.create_project(
        ProjectName=project,
        TemplateProviders=[
            {
                "CfnTemplateProvider": {
                    "TemplateName": "build-train-deploy",
                    "TemplateURL": url,
                    "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/{AWS_LAUNCH}",
                    "Parameters": [
                        {"Key": "ModelBuildCodeRepositoryFullname", "Value": "example/model-build"},
                        {"Key": "ModelDeployCodeRepositoryFullname", "Value": "example/model-deploy"},
                        {"Key": "CodeConnectionArn", "Value": connection},
                    ],
                }
            }
        ],
    )
    described = embedded.client("sagemaker").describe_project(ProjectName=project)
    denials = [r.getMessage() for r in caplog.records if r.getMessage().startswith("denied ")]
    assert denials == []
    cfn = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    events = embedded.client("cloudformation").describe_stack_events(StackName=cfn["StackDetail"]["Id"])
    created = {
        e["LogicalResourceId"] for e in events["StackEvents"] if e["ResourceStatus"] == "CREATE_COMPLETE"
    }
    failed = {
        e["LogicalResourceId"]: e["ResourceStatusReason"]
        for e in events["StackEvents"]
        if e["ResourceStatus"] == "CREATE_FAILED"
    }
    resources = templates.load(AWS_S3_TEMPLATE)["Resources"]
    # The template's seed-code check-in runs inline Lambda code (a CodeBuild build cloning AWS's seed bucket and
    # pushing to the Git provider) behind two custom resources; the embedded AWS has no Lambda runtime, so the
    # creation stops at the first of them, for that reason alone (not a denial), and rolls back.
    custom = {k for k, v in resources.items() if v["Type"] == "AWS::CloudFormation::CustomResource"}
    assert described["ProjectStatus"] == "CreateFailed"
    assert set(failed) <= custom and len(failed) == 1, failed
    assert "not supported locally" in next(iter(failed.values()))
    before = {k for k, v in resources.items() if k not in custom and not _depends_on(v, custom)}
    assert before <= created, before - created


def _depends_on(resource: dict, names: set[str]) -> bool:
    depends = resource.get("DependsOn") or []
    depends = [depends] if isinstance(depends, str) else depends
    return bool(set(depends) & names) or any(n in json.dumps(resource, default=str) for n in names)
