"""The reviewed table of what CloudFormation calls per resource type and property, and the offline resolver."""

from __future__ import annotations

from pathlib import Path

import pytest

from smbundle import resource_permissions, templates
from smbundle.resource_permissions import CREATE, DELETE, UPDATE, Where, resource_calls
from smbundle.template_resolution import resolve

REPO = Path(__file__).resolve().parents[1]
AT = Where(region="us-east-1", account="123456789012")


def actions(calls):
    return [c.action for c in calls]


@pytest.mark.parametrize(
    "path", ["service_catalog/product.yaml", "seed_code/deploy/endpoint-config-template.yml"]
)
def test_every_resource_type_our_templates_use_is_reviewed(path):
    template = templates.load(REPO / path)
    used = {r["Type"] for r in template["Resources"].values()}
    assert used <= set(resource_permissions.RESOURCE_TYPES)


def test_unreviewed_types_get_their_registry_schemas_handler_permissions():
    """Outside the table: the schema's create/update/delete handler permissions (cfn-lint's copy of the schema
    lists them), each marked with its handler; on the queue's ARN where IAM authorizes the action against a queue."""
    queue = f"arn:aws:sqs:us-east-1:{AT.account}:work"
    created = resource_calls("AWS::SQS::Queue", CREATE, "work", {"QueueName": "work"}, AT)
    assert actions(created) == [
        "sqs:CreateQueue",
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
        "sqs:ListQueueTags",
        "sqs:TagQueue",
    ]
    assert {(c.resource, c.handler) for c in created} == {(queue, CREATE)}
    assert "sqs:SetQueueAttributes" in actions(resource_calls("AWS::SQS::Queue", UPDATE, "work", {}, AT, {}))
    assert actions(resource_calls("AWS::SQS::Queue", DELETE, "work", {}, AT)) == [
        "sqs:DeleteQueue",
        "sqs:GetQueueAttributes",
    ]
    machine = resource_calls("AWS::StepFunctions::StateMachine", CREATE, "f", {}, AT)
    by_action = {c.action: c.resource for c in machine}
    assert by_action["states:CreateStateMachine"] == f"arn:aws:states:us-east-1:{AT.account}:stateMachine:f"
    assert by_action["iam:PassRole"] == "*"  # another service's resource: which one, the schema does not say
    assert resource_permissions.over_approximation_note("AWS::SQS::Queue", [CREATE, DELETE, CREATE]) == (
        "AWS::SQS::Queue: permissions from the CloudFormation registry schema's create and delete handlers "
        "(an over-approximation: AWS may need fewer)"
    )
    assert resource_calls("AWS::S3::Bucket", CREATE, "b", {}, AT)[0].handler is None  # reviewed


@pytest.mark.parametrize(
    ("resource_type", "reason"),
    [
        ("AWS::SQS::Queu", "no Region's CloudFormation registry schema"),
        ("Custom::Thing", "no Region's CloudFormation registry schema"),
        ("AWS::CDK::Metadata", "its CloudFormation registry schema lists no handler permissions"),
    ],
    ids=[
        "misspelled",
        "custom",
        "no-handlers",
    ],  # no "::" in a test id: xdist would take it for another module's
)
def test_types_without_known_permissions_fail_loudly(resource_type, reason):
    with pytest.raises(resource_permissions.UnknownResourceType) as failure:
        resource_calls(resource_type, CREATE, "x", {}, AT)
    assert f"no permissions known for {resource_type}: " in str(failure.value)
    assert reason in str(failure.value)


def test_a_bucket_calls_only_what_its_properties_need():
    plain = resource_calls("AWS::S3::Bucket", CREATE, "sagemaker-project-p-1", {"BucketName": "x"}, AT)
    assert actions(plain) == ["s3:CreateBucket"]
    assert plain[0].resource == "arn:aws:s3:::sagemaker-project-p-1"
    versioned = resource_calls(
        "AWS::S3::Bucket",
        CREATE,
        "b",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {},
            "Tags": [{"Key": "k", "Value": "v"}],
        },
        AT,
    )
    assert actions(versioned) == [
        "s3:CreateBucket",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketVersioning",
        "s3:PutBucketTagging",
    ]
    assert versioned[-1].context == {"aws:RequestTag/k": "v", "aws:TagKeys": ["k"]}
    assert actions(resource_calls("AWS::S3::Bucket", DELETE, "b", {}, AT)) == ["s3:DeleteBucket"]


def test_roles_connections_and_seed_objects():
    project = resource_calls(
        "AWS::CodeBuild::Project", CREATE, "sagemaker-p", {"ServiceRole": "arn:aws:iam::1:role/r"}, AT
    )
    assert [(c.action, c.resource, c.context) for c in project][1] == (
        "iam:PassRole",
        "arn:aws:iam::1:role/r",
        {"iam:PassedToService": "codebuild.amazonaws.com"},
    )
    rule = resource_calls(
        "AWS::Events::Rule", CREATE, "sagemaker-r", {"Targets": [{"RoleArn": "arn:aws:iam::1:role/e"}]}, AT
    )
    assert actions(rule) == ["events:PutRule", "events:PutTargets", "iam:PassRole"]
    connection = "arn:aws:codeconnections:us-east-1:1:connection/c"
    pipeline = resource_calls(
        "AWS::CodePipeline::Pipeline",
        CREATE,
        "sagemaker-p",
        {
            "RoleArn": "arn:aws:iam::1:role/p",
            "Stages": [
                {"Name": "Source", "Actions": [{"Name": "A", "Configuration": {"ConnectionArn": connection}}]}
            ],
        },
        AT,
    )
    passes = [c for c in pipeline if c.action == "codeconnections:PassConnection"]
    assert passes[0].context == {"codeconnections:PassedToService": "codepipeline.amazonaws.com"}
    repository = resource_calls(
        "AWS::CodeCommit::Repository",
        CREATE,
        "sagemaker-r",
        {"Code": {"S3": {"Bucket": "seeds", "Key": "build.zip"}}},
        AT,
    )
    assert ("s3:GetObject", "arn:aws:s3:::seeds/build.zip") in [(c.action, c.resource) for c in repository]


def test_updates_call_what_changed_and_create_only_changes_replace():
    old = {"Name": "sagemaker-p", "ServiceRole": "arn:aws:iam::1:role/a", "TimeoutInMinutes": 30}
    new = dict(old, TimeoutInMinutes=60)
    assert actions(resource_calls("AWS::CodeBuild::Project", UPDATE, "sagemaker-p", new, AT, old)) == [
        "codebuild:UpdateProject"
    ]
    new_role = dict(old, ServiceRole="arn:aws:iam::1:role/b")
    assert "iam:PassRole" in actions(
        resource_calls("AWS::CodeBuild::Project", UPDATE, "p", new_role, AT, old)
    )
    assert resource_permissions.replaced_by("AWS::S3::Bucket", {"BucketName": "a"}, {"BucketName": "b"}) == [
        "BucketName"
    ]
    assert resource_permissions.replaced_by("AWS::CodeBuild::Project", old, new) == []
    assert resource_permissions.replaced_by(
        "AWS::SageMaker::EndpointConfig", {"ProductionVariants": [1]}, {"ProductionVariants": [2]}
    ) == ["ProductionVariants"]


def test_offline_resolution_of_the_product_template():
    template = templates.load(REPO / "service_catalog" / "product.yaml")
    resolver = resolve(
        template,
        {"SageMakerProjectName": "demo", "SageMakerProjectId": "p-1"},
        region="us-east-1",
        account="123456789012",
        stack_name="SC-123456789012-pp-1",
    )
    resources = {r.logical_id: r for r in resolver.resources()}
    assert "ApprovalTopic" not in resources  # HasApprovalEmail is false by default
    assert resources["ArtifactBucket"].name == "sagemaker-project-p-1"
    build = resources["ModelBuildProject"].properties
    assert build["ServiceRole"] == (
        "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole"
    )
    assert "EncryptionKey" not in build  # AWS::NoValue
    rule = resources["ModelApprovalRule"].properties
    assert (
        rule["Targets"][0]["Arn"]
        == "arn:aws:codepipeline:us-east-1:123456789012:sagemaker-demo-p-1-modeldeploy"
    )
    source = resources["ModelBuildPipeline"].properties["Stages"][0]["Actions"][0]["Configuration"]
    assert source["RepositoryName"] == "sagemaker-demo-p-1-modelbuild"


def test_updating_a_repository_calls_what_each_change_needs():
    """The seed code is used only at creation: an update that changes it reads and commits nothing; a new
    description or a dropped tag has its own call (which the managed launch role does not have)."""
    seeded = {
        "RepositoryName": "sagemaker-r",
        "RepositoryDescription": "old",
        "Code": {"S3": {"Bucket": "b", "Key": "v1/build.zip"}},
        "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
    }
    new_code = dict(seeded, Code={"S3": {"Bucket": "b", "Key": "v2/build.zip"}})
    assert (
        actions(resource_calls("AWS::CodeCommit::Repository", UPDATE, "sagemaker-r", new_code, AT, seeded))
        == []
    )
    described = dict(seeded, RepositoryDescription="new", Tags=[{"Key": "a", "Value": "1"}])
    calls = resource_calls("AWS::CodeCommit::Repository", UPDATE, "sagemaker-r", described, AT, seeded)
    assert actions(calls) == [
        "codecommit:UpdateRepositoryDescription",
        "codecommit:TagResource",
        "codecommit:UntagResource",
    ]
    assert calls[-1].context == {"aws:TagKeys": ["b"]}
    created = resource_calls("AWS::CodeCommit::Repository", CREATE, "sagemaker-r", seeded, AT)
    assert "s3:GetObject" in actions(created) and "codecommit:CreateCommit" in actions(created)
