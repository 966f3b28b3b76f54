"""The embedded CloudFormation answers as CloudFormation does where moto does not: failures roll back, updates
roll back to the previous template, rules and parameter constraints are checked, a stack acts as its role."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from smbundle.local import server

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"


@pytest.fixture
def aws(aws):
    """moto with the project roles (a model's ExecutionRoleArn must be a role SageMaker can assume)."""
    server.prepare_account()


ENDPOINT_STACK = f"""
Parameters:
  MaxConcurrency:
    Type: Number
    Default: 20
Resources:
  Model:
    Type: AWS::SageMaker::Model
    Properties:
      ExecutionRoleArn: {ROLE}
      PrimaryContainer: {{Image: xgboost}}
  Config:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - VariantName: AllTraffic
          ModelName: !GetAtt Model.ModelName
          ServerlessConfig: {{MemorySizeInMB: 2048, MaxConcurrency: !Ref MaxConcurrency}}
Outputs:
  ConfigName:
    Value: !GetAtt Config.EndpointConfigName
"""


def events(cloudformation, stack):
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason") or "")
        for e in reversed(cloudformation.describe_stack_events(StackName=stack)["StackEvents"])
    ]


def test_a_failing_resource_rolls_the_stack_back(aws):
    cloudformation, sagemaker = boto3.client("cloudformation"), boto3.client("sagemaker")
    cloudformation.create_stack(
        StackName="fails",
        TemplateBody=ENDPOINT_STACK,
        Parameters=[{"ParameterKey": "MaxConcurrency", "ParameterValue": "500"}],
    )
    stack = cloudformation.describe_stacks(StackName="fails")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Outputs" not in stack
    story = events(cloudformation, "fails")
    statuses = [(logical, status) for logical, status, _ in story]
    assert statuses == [
        ("fails", "CREATE_IN_PROGRESS"),
        ("Model", "CREATE_IN_PROGRESS"),
        ("Model", "CREATE_COMPLETE"),
        ("Config", "CREATE_IN_PROGRESS"),
        ("Config", "CREATE_FAILED"),
        ("fails", "ROLLBACK_IN_PROGRESS"),
        ("Model", "DELETE_IN_PROGRESS"),
        ("Model", "DELETE_COMPLETE"),
        ("fails", "ROLLBACK_COMPLETE"),
    ]
    failed = next(reason for logical, status, reason in story if status == "CREATE_FAILED")
    assert "MaxConcurrency" in failed and "between 1 and 200" in failed
    rollback = next(reason for logical, status, reason in story if status == "ROLLBACK_IN_PROGRESS")
    assert rollback == "The following resource(s) failed to create: [Config]. Rollback requested by user."
    assert sagemaker.list_models()["Models"] == []  # the model was deleted by the rollback
    assert cloudformation.describe_stack_resources(StackName="fails")["StackResources"] == []


def test_a_retained_resource_survives_the_rollback(aws):
    cloudformation = boto3.client("cloudformation")
    template = """
Resources:
  Keep:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Properties: {BucketName: kept-after-rollback}
  Broken:
    Type: AWS::SageMaker::EndpointConfig
    DependsOn: Keep
    Properties:
      ProductionVariants: [{VariantName: v, ModelName: m}]
"""
    cloudformation.create_stack(StackName="retain", TemplateBody=template)
    assert (
        cloudformation.describe_stacks(StackName="retain")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    )
    assert ("Keep", "DELETE_SKIPPED") in [
        (logical, status) for logical, status, _ in events(cloudformation, "retain")
    ]
    boto3.client("s3").head_bucket(Bucket="kept-after-rollback")


def test_a_failed_update_rolls_back_to_the_previous_template(aws):
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName="updates", TemplateBody=ENDPOINT_STACK)
    before = cloudformation.describe_stacks(StackName="updates")["Stacks"][0]
    assert before["StackStatus"] == "CREATE_COMPLETE"
    cloudformation.update_stack(
        StackName="updates",
        TemplateBody=ENDPOINT_STACK,
        Parameters=[{"ParameterKey": "MaxConcurrency", "ParameterValue": "0"}],
    )
    after = cloudformation.describe_stacks(StackName="updates")["Stacks"][0]
    assert after["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert after["Parameters"] == [{"ParameterKey": "MaxConcurrency", "ParameterValue": "20"}]
    assert ("Config", "UPDATE_FAILED") in [
        (logical, status) for logical, status, _ in events(cloudformation, "updates")
    ]
    name = after["Outputs"][0]["OutputValue"]
    config = boto3.client("sagemaker").describe_endpoint_config(EndpointConfigName=name)
    assert config["ProductionVariants"][0]["ServerlessConfig"]["MaxConcurrency"] == 20


def test_resources_whose_condition_is_false_are_not_listed(aws):
    cloudformation = boto3.client("cloudformation")
    template = """
Conditions:
  Never: !Equals [a, b]
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Optional:
    Type: AWS::SNS::Topic
    Condition: Never
"""
    cloudformation.create_stack(StackName="conditions", TemplateBody=template)
    resources = cloudformation.describe_stack_resources(StackName="conditions")["StackResources"]
    assert [(r["LogicalResourceId"], r["ResourceType"]) for r in resources] == [("Topic", "AWS::SNS::Topic")]
    listed = cloudformation.list_stack_resources(StackName="conditions")["StackResourceSummaries"]
    assert [r["LogicalResourceId"] for r in listed] == ["Topic"]


def test_conditions_built_from_other_conditions_hold_in_yaml(aws):
    """``!Condition`` inside ``Fn::And`` / ``Fn::Not`` is a condition reference (moto read it as an unknown function,
    so the combined condition was always false and its resources silently missing)."""
    template = """
Parameters:
  Stage: {Type: String, Default: prod}
  Watch: {Type: String, Default: "true"}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsStaging: !Not [!Condition IsProd]
  IsWatched: !And [!Condition IsProd, !Equals [!Ref Watch, "true"]]
Resources:
  Watched:
    Type: AWS::SNS::Topic
    Condition: IsWatched
  Staging:
    Type: AWS::SNS::Topic
    Condition: IsStaging
"""
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName="combined-conditions", TemplateBody=template)
    resources = cloudformation.describe_stack_resources(StackName="combined-conditions")["StackResources"]
    assert [r["LogicalResourceId"] for r in resources] == ["Watched"]


def test_updates_create_and_remove_resources_as_their_conditions_turn(aws):
    """A conditional resource exists exactly when its condition holds under the update's parameters: not created
    when what it refers to changes while its condition is false (moto did, condition or not), created when the
    condition turns true, deleted when it turns false."""
    template = """
Parameters:
  Name: {Type: String}
  Watch: {Type: String, Default: "false"}
Conditions:
  IsWatched: !Equals [!Ref Watch, "true"]
Resources:
  Main:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Ref Name}
  Watcher:
    Type: AWS::SNS::Topic
    Condition: IsWatched
    Properties: {DisplayName: !GetAtt Main.TopicName}
"""
    cloudformation, sns = boto3.client("cloudformation"), boto3.client("sns")

    def deploy(action, name, watch):
        parameters = [
            {"ParameterKey": "Name", "ParameterValue": name},
            {"ParameterKey": "Watch", "ParameterValue": watch},
        ]
        action(StackName="turning", TemplateBody=template, Parameters=parameters)
        resources = cloudformation.describe_stack_resources(StackName="turning")["StackResources"]
        topics = sorted(t["TopicArn"].rsplit(":", 1)[-1] for t in sns.list_topics()["Topics"])
        return [r["LogicalResourceId"] for r in resources], len(topics)

    assert deploy(cloudformation.create_stack, "first", "false") == (["Main"], 1)
    assert deploy(cloudformation.update_stack, "second", "false") == (
        ["Main"],
        1,
    )  # Main replaced, no Watcher
    assert deploy(cloudformation.update_stack, "second", "true") == (["Main", "Watcher"], 2)
    assert deploy(cloudformation.update_stack, "second", "false") == (["Main"], 1)


def test_rules_and_parameter_constraints_are_checked_at_create(aws):
    cloudformation = boto3.client("cloudformation")
    template = """
Parameters:
  Email: {Type: String, Default: ""}
  Role: {Type: String, Default: ""}
  Size:
    Type: Number
    AllowedValues: [1024, 2048]
    Default: 2048
Rules:
  EmailNeedsRole:
    RuleCondition: !Not [!Equals [!Ref Email, ""]]
    Assertions:
      - Assert: !Not [!Equals [!Ref Role, ""]]
        AssertDescription: Email needs a Role
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""
    with pytest.raises(ClientError, match="Email needs a Role"):
        cloudformation.create_stack(
            StackName="rules",
            TemplateBody=template,
            Parameters=[{"ParameterKey": "Email", "ParameterValue": "a@b.c"}],
        )
    with pytest.raises(ClientError, match="Parameter 'Size' must be one of AllowedValues"):
        cloudformation.create_stack(
            StackName="rules",
            TemplateBody=template,
            Parameters=[{"ParameterKey": "Size", "ParameterValue": "3"}],
        )
    with pytest.raises(ClientError, match=r"Parameters: \['Typo'\] do not exist in the template"):
        cloudformation.create_stack(
            StackName="rules",
            TemplateBody=template,
            Parameters=[{"ParameterKey": "Typo", "ParameterValue": "x"}],
        )
    assert cloudformation.describe_stacks()["Stacks"] == []
    cloudformation.create_stack(
        StackName="rules",
        TemplateBody=template,
        Parameters=[
            {"ParameterKey": "Email", "ParameterValue": "a@b.c"},
            {"ParameterKey": "Role", "ParameterValue": "r"},
        ],
    )


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        yield aws


def test_a_stack_acts_as_its_role_and_fails_where_the_role_may_not(embedded):
    cloudformation = embedded.client("cloudformation")
    cfn_role = embedded.roles["AmazonSageMakerServiceCatalogProductsCloudformationRole"]
    template = {
        "Resources": {
            "Model": {
                "Type": "AWS::SageMaker::Model",
                "Properties": {"ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": "xgboost"}},
            },
            "Topic": {"Type": "AWS::SNS::Topic"},
        }
    }
    cloudformation.create_stack(
        StackName="sagemaker-as-role", TemplateBody=json.dumps(template), RoleARN=cfn_role
    )
    stack = cloudformation.describe_stacks(StackName="sagemaker-as-role")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(
        e["ResourceStatusReason"]
        for e in cloudformation.describe_stack_events(StackName="sagemaker-as-role")["StackEvents"]
        if e["ResourceStatus"] == "CREATE_FAILED"
    )
    assert (
        "AmazonSageMakerServiceCatalogProductsCloudformationRole/AWSCloudFormation is not authorized to perform: sns:CreateTopic"
        in reason
    )


def test_a_role_cloudformation_cannot_assume_is_refused(embedded):
    cloudformation = embedded.client("cloudformation")
    codebuild_role = embedded.roles["AmazonSageMakerServiceCatalogProductsCodeBuildRole"]
    with pytest.raises(ClientError, match="is invalid or cannot be assumed"):
        cloudformation.create_stack(
            StackName="sagemaker-bad-role",
            TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}),
            RoleARN=codebuild_role,
        )
