"""The embedded IAM: project roles as AWS sets them up, sessions as services assume them, denials as AWS words them."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.responses import ActionResult
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.responses import IamResponse

from smbundle.local import server
from smbundle.local.iam import enforcement, roles, sessions, simulation
from tests._local_helpers import service_role

ACCOUNT = "123456789012"
CODEBUILD_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole"
)
PIPELINE_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsCodePipelineRole"
)


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        yield aws


@pytest.fixture
def admin(embedded):
    return boto3.session.Session(region_name="us-east-1")


def role_session(embedded, admin, role_arn, service):
    return sessions.assume(admin.region_name, embedded.url, role_arn, service)


def test_project_roles_have_their_trust_and_the_aws_managed_policies(embedded, admin):
    iam = admin.client("iam", endpoint_url=embedded.url)
    data = json.loads(aws_managed_policies_data)
    for spec in roles.PROJECT_ROLES:
        role = iam.get_role(RoleName=spec.name)["Role"]
        assert role["Path"] == "/service-role/"
        services = {s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]}
        assert services == set(spec.services)
        attached = {
            p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=spec.name)["AttachedPolicies"]
        }
        assert attached == set(spec.managed_policies)
        for name in spec.managed_policies:  # the bundled document, not a retyped one
            arn = roles.managed_policy_arn(name)
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            assert document == data[name]["Document"]


def test_a_service_assumes_only_roles_that_trust_it(embedded, admin):
    session = role_session(embedded, admin, CODEBUILD_ROLE, "codebuild.amazonaws.com")
    assert session.credentials.access_key_id.startswith("ASIA")
    with pytest.raises(sessions.RoleUnusable, match="trust policy does not allow codebuild.amazonaws.com"):
        role_session(embedded, admin, PIPELINE_ROLE, "codebuild.amazonaws.com")
    with pytest.raises(sessions.RoleUnusable, match="does not exist"):
        role_session(embedded, admin, f"arn:aws:iam::{ACCOUNT}:role/nope", "codebuild.amazonaws.com")


def test_a_denied_call_reads_as_aws_and_has_the_service_error_code(embedded, admin):
    build = role_session(embedded, admin, CODEBUILD_ROLE, "codebuild.amazonaws.com")
    with pytest.raises(ClientError) as denied:
        build.client("sagemaker").describe_model_package_group(ModelPackageGroupName="demo-p-1")
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole/"
        f"{build.session_name} is not authorized to perform: sagemaker:DescribeModelPackageGroup on resource: "
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/demo-p-1 because no identity-based policy "
        "allows the sagemaker:DescribeModelPackageGroup action"
    )
    with pytest.raises(ClientError) as s3_denied:
        build.client("s3").put_object(Bucket="not-sagemaker", Key="k", Body=b"x")
    assert s3_denied.value.response["Error"]["Code"] == "AccessDenied"
    assert s3_denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert (
        "s3:PutObject on resource: arn:aws:s3:::not-sagemaker/k"
        in s3_denied.value.response["Error"]["Message"]
    )
    with pytest.raises(ClientError) as query_denied:
        build.client("cloudformation").describe_stacks(StackName="not-sagemaker")
    assert query_denied.value.response["Error"]["Code"] == "AccessDenied"


def test_allowed_calls_go_through_and_the_administrator_is_not_checked(embedded, admin):
    admin.client("s3", endpoint_url=embedded.url).create_bucket(Bucket="sagemaker-iam-test")
    admin.client("s3", endpoint_url=embedded.url).create_bucket(Bucket="other-iam-test")
    build = role_session(embedded, admin, CODEBUILD_ROLE, "codebuild.amazonaws.com")
    build.client("s3").put_object(Bucket="sagemaker-iam-test", Key="k", Body=b"x")
    assert build.client("sts").get_caller_identity()["Arn"].endswith(build.session_name)
    admin.client("s3", endpoint_url=embedded.url).put_object(Bucket="other-iam-test", Key="k", Body=b"x")


def test_passing_a_role_is_checked_with_the_service_it_goes_to(embedded, admin):
    pipeline = role_session(embedded, admin, PIPELINE_ROLE, "codepipeline.amazonaws.com")
    cloudformation = pipeline.client("cloudformation")
    with pytest.raises(
        ClientError,
        match="iam:PassRole on resource: arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
    ):
        cloudformation.create_stack(
            StackName="sagemaker-passrole-test",
            TemplateBody="Resources:\n  T:\n    Type: AWS::SNS::Topic\n",
            RoleARN=f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
        )


def test_simulate_principal_policy_answers_with_the_same_evaluator(embedded, admin):
    iam = admin.client("iam", endpoint_url=embedded.url)
    pipeline = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/demo-p-1"
    group = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/demo-p-1"
    answer = iam.simulate_principal_policy(
        PolicySourceArn=CODEBUILD_ROLE,
        ActionNames=["sagemaker:CreatePipeline", "sagemaker:CreateModelPackageGroup"],
        ResourceArns=[pipeline, group],
    )
    # One result per action (the IAM API reference's EvaluationResult), each resource's own decision within it.
    results = {r["EvalActionName"]: r for r in answer["EvaluationResults"]}
    assert len(answer["EvaluationResults"]) == 2
    per_resource = {
        (action, r["EvalResourceName"]): r["EvalResourceDecision"]
        for action, result in results.items()
        for r in result["ResourceSpecificResults"]
    }
    assert per_resource[("sagemaker:CreatePipeline", pipeline)] == "allowed"
    assert per_resource[("sagemaker:CreateModelPackageGroup", group)] == "implicitDeny"
    # The top-level decision is the most restrictive across the resources; with several, no EvalResourceName.
    assert results["sagemaker:CreatePipeline"]["EvalDecision"] == "implicitDeny"  # not allowed on the group
    assert "EvalResourceName" not in results["sagemaker:CreatePipeline"]
    alone = iam.simulate_principal_policy(
        PolicySourceArn=CODEBUILD_ROLE, ActionNames=["sagemaker:CreatePipeline"], ResourceArns=[pipeline]
    )["EvaluationResults"]
    assert [(r["EvalResourceName"], r["EvalDecision"]) for r in alone] == [(pipeline, "allowed")]
    launch = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsLaunchRole"
    seed = "arn:aws:s3:::smbundle-templates/seed.zip"
    untagged = iam.simulate_principal_policy(
        PolicySourceArn=launch, ActionNames=["s3:GetObject"], ResourceArns=[seed]
    )
    result = untagged["EvaluationResults"][0]
    assert result["EvalDecision"] == "implicitDeny"
    assert "s3:ExistingObjectTag/servicecatalog:provisioning" in result["MissingContextValues"]
    tagged = iam.simulate_principal_policy(
        PolicySourceArn=launch,
        ActionNames=["s3:GetObject"],
        ResourceArns=[seed],
        ContextEntries=[
            {
                "ContextKeyName": "s3:ExistingObjectTag/servicecatalog:provisioning",
                "ContextKeyValues": ["true"],
                "ContextKeyType": "string",
            }
        ],
    )
    assert tagged["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_the_simulators_own_xml_is_what_motos_serializer_gives(embedded, admin, monkeypatch):
    """The simulator renders its XML itself (for speed): the same XML (canonical form) as moto's serializer."""
    iam = admin.client("iam", endpoint_url=embedded.url)
    pipeline = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/demo-p-1"
    requests = [
        dict(
            PolicySourceArn=CODEBUILD_ROLE,
            ActionNames=["sagemaker:CreatePipeline", "s3:GetObject", "iam:PassRole"],
            ResourceArns=[pipeline, "arn:aws:s3:::sagemaker-b/a<&>'\"z", "*"],
        ),
        dict(
            PolicySourceArn=CODEBUILD_ROLE,
            ActionNames=["s3:PutObject"],
            ResourceArns=["arn:aws:s3:::sagemaker-b/k"],
            ContextEntries=[
                {
                    "ContextKeyName": "s3:x-amz-acl",
                    "ContextKeyValues": ["a", "b"],
                    "ContextKeyType": "stringList",
                }
            ],
        ),
    ]
    bodies = []
    iam.meta.events.register(
        "after-call.iam.SimulatePrincipalPolicy",
        lambda http_response, **_: bodies.append(
            ElementTree.canonicalize(re.sub("<RequestId>[^<]*</RequestId>", "", http_response.text))
        ),
    )
    ours = [iam.simulate_principal_policy(**request) for request in requests]
    monkeypatch.setattr(
        IamResponse, "simulate_principal_policy", lambda self: ActionResult(simulation.answer(self))
    )
    models = [iam.simulate_principal_policy(**request) for request in requests]
    assert bodies[:2] == bodies[2:]
    for answer in ours + models:
        assert answer.pop("ResponseMetadata")["HTTPHeaders"]["content-type"] == "text/xml"
    assert ours == models
    assert any(r["MatchedStatements"] for r in ours[0]["EvaluationResults"])
    assert ours[1]["EvaluationResults"][0]["EvalResourceName"] == "arn:aws:s3:::sagemaker-b/k"


def test_object_tags_come_from_the_object(embedded, admin):
    s3 = admin.client("s3", endpoint_url=embedded.url)
    s3.create_bucket(Bucket="seed-tags-test")
    s3.put_object(
        Bucket="seed-tags-test", Key="tagged.zip", Body=b"x", Tagging="servicecatalog%3Aprovisioning=true"
    )
    s3.put_object(Bucket="seed-tags-test", Key="plain.zip", Body=b"x")
    launch = enforcement.Principal(
        f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsLaunchRole", "t"
    )
    enforcement.authorize(launch, "s3:GetObject", "arn:aws:s3:::seed-tags-test/tagged.zip")
    with pytest.raises(enforcement.AccessDenied):
        enforcement.authorize(launch, "s3:GetObject", "arn:aws:s3:::seed-tags-test/plain.zip")


def test_enforcement_can_be_switched_off_for_exploring(embedded, admin):
    build = role_session(embedded, admin, CODEBUILD_ROLE, "codebuild.amazonaws.com")
    enforcement.set_enabled(False)
    try:
        build.client("sagemaker").list_projects()
    finally:
        enforcement.set_enabled(True)
    with pytest.raises(ClientError, match="sagemaker:ListProjects on resource: \\*"):
        build.client("sagemaker").list_projects()


def test_a_request_whose_resource_cannot_be_told_is_denied_loudly(embedded, admin):
    build = role_session(embedded, admin, CODEBUILD_ROLE, "codebuild.amazonaws.com")
    with pytest.raises(ClientError, match="the embedded IAM cannot tell which resource"):
        build.client("kinesis").describe_stream(StreamName="s")


def test_the_simulator_reads_no_live_tags_and_follows_the_iam_switch(embedded, admin):
    """As AWS's simulator: a tag condition is answered from ContextEntries only, else it is a missing value."""
    iam = admin.client("iam", endpoint_url=embedded.url)
    allow = {
        "Effect": "Allow",
        "Action": "codebuild:BatchGetProjects",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/team": "ml"}},
    }
    role = service_role(iam, "tag-reader", "codebuild.amazonaws.com", allow)
    codebuild = admin.client("codebuild", endpoint_url=embedded.url)
    project = codebuild.create_project(
        name="tagged",
        source={"type": "S3", "location": "sagemaker-sources/src.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=role,
        tags=[{"key": "team", "value": "ml"}],
    )["project"]["arn"]
    # The live request reads the project's tag and is allowed ...
    session = role_session(embedded, admin, role, "codebuild.amazonaws.com")
    assert session.client("codebuild").batch_get_projects(names=["tagged"])["projects"]
    # ... the simulator does not, unless told.
    (result,) = iam.simulate_principal_policy(
        PolicySourceArn=role, ActionNames=["codebuild:BatchGetProjects"], ResourceArns=[project]
    )["EvaluationResults"]
    assert (result["EvalDecision"], result["MissingContextValues"]) == (
        "implicitDeny",
        ["aws:ResourceTag/team"],
    )
    (told,) = iam.simulate_principal_policy(
        PolicySourceArn=role,
        ActionNames=["codebuild:BatchGetProjects"],
        ResourceArns=[project],
        ContextEntries=[
            {"ContextKeyName": "aws:ResourceTag/team", "ContextKeyValues": ["ml"], "ContextKeyType": "string"}
        ],
    )["EvaluationResults"]
    assert told["EvalDecision"] == "allowed"
    enforcement.set_enabled(False)
    try:
        (off,) = iam.simulate_principal_policy(
            PolicySourceArn=role, ActionNames=["codebuild:DeleteProject"], ResourceArns=[project]
        )["EvaluationResults"]
    finally:
        enforcement.set_enabled(True)
    assert off["EvalDecision"] == "allowed"


def test_resource_tags_are_read_for_every_service_the_project_tags(embedded, admin):
    """A tag-conditioned statement applies to CodeBuild, CodePipeline, EventBridge, SNS and IAM resources too."""
    from smbundle.local.iam import resource_state

    def client(name):
        return admin.client(name, endpoint_url=embedded.url)

    rule = client("events").put_rule(Name="tagged-rule", ScheduleExpression="rate(1 day)", State="DISABLED")
    client("events").tag_resource(ResourceARN=rule["RuleArn"], Tags=[{"Key": "team", "Value": "ml"}])
    topic = client("sns").create_topic(Name="tagged-topic", Tags=[{"Key": "team", "Value": "ml"}])["TopicArn"]
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "codepipeline.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    role = client("iam").create_role(
        RoleName="tagged-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
        Tags=[{"Key": "team", "Value": "ml"}],
    )["Role"]["Arn"]
    pipeline = client("codepipeline").create_pipeline(
        pipeline={
            "name": "tagged-pipeline",
            "roleArn": role,
            "artifactStore": {"type": "S3", "location": "sagemaker-artifacts"},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "Source",
                            "actionTypeId": {
                                "category": "Source",
                                "owner": "AWS",
                                "provider": "S3",
                                "version": "1",
                            },
                            "configuration": {"S3Bucket": "sagemaker-artifacts", "S3ObjectKey": "s.zip"},
                            "outputArtifacts": [{"name": "S"}],
                        }
                    ],
                },
                {
                    "name": "Approve",
                    "actions": [
                        {
                            "name": "Approve",
                            "actionTypeId": {
                                "category": "Approval",
                                "owner": "AWS",
                                "provider": "Manual",
                                "version": "1",
                            },
                        }
                    ],
                },
            ],
        },
        tags=[{"key": "team", "value": "ml"}],
    )["pipeline"]
    pipeline_arn = f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:{pipeline['name']}"
    for arn in (rule["RuleArn"], topic, role, pipeline_arn):
        assert resource_state.resource_tags(arn, "us-east-1") == {"team": "ml"}, arn


def test_a_sagemaker_create_with_tags_is_also_authorized_as_add_tags(embedded, admin):
    iam = admin.client("iam", endpoint_url=embedded.url)
    role = service_role(iam, "creates-pipelines", "codebuild.amazonaws.com")
    allow = [
        {"Effect": "Allow", "Action": ["sagemaker:CreatePipeline", "iam:PassRole"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "sagemaker:AddTags",
            "Resource": "*",
            "Condition": {"StringEquals": {"sagemaker:TaggingAction": "CreatePipeline"}},
        },
    ]
    iam.put_role_policy(
        RoleName="creates-pipelines",
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": allow[:1]}),
    )
    sagemaker = role_session(embedded, admin, role, "codebuild.amazonaws.com").client("sagemaker")
    definition = json.dumps({"Version": "2020-12-01", "Steps": []})
    sagemaker.create_pipeline(PipelineName="untagged", PipelineDefinition=definition, RoleArn=PIPELINE_ROLE)
    with pytest.raises(
        ClientError,
        match="sagemaker:AddTags on resource: arn:aws:sagemaker:us-east-1:123456789012:pipeline/tagged",
    ):
        sagemaker.create_pipeline(
            PipelineName="tagged",
            PipelineDefinition=definition,
            RoleArn=PIPELINE_ROLE,
            Tags=[{"Key": "team", "Value": "ml"}],
        )
    iam.put_role_policy(
        RoleName="creates-pipelines",
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": allow}),
    )
    sagemaker.create_pipeline(
        PipelineName="tagged",
        PipelineDefinition=definition,
        RoleArn=PIPELINE_ROLE,
        Tags=[{"Key": "team", "Value": "ml"}],
    )
