"""The embedded IAM's policy evaluator, on the condition keys and elements the managed project policies use."""

from __future__ import annotations

import json

import pytest
from moto.iam.aws_managed_policies import aws_managed_policies_data

from smbundle.local.iam.evaluation import (
    ALLOWED,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    UnsupportedCondition,
    evaluate,
)


def allow(action, resource="*", condition=None, **extra):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def decision(documents, action, resource="*", context=None):
    docs = documents if isinstance(documents, list) else [documents]
    return evaluate(docs, action, resource, context or {}).decision


def managed(name):
    return json.loads(aws_managed_policies_data)[name]["Document"]


def test_allow_then_implicit_deny():
    policy = allow("s3:GetObject", "arn:aws:s3:::sagemaker-*")
    assert decision(policy, "s3:GetObject", "arn:aws:s3:::sagemaker-project-p-1/key") == ALLOWED
    assert decision(policy, "s3:GetObject", "arn:aws:s3:::other/key") == IMPLICIT_DENY
    assert decision(policy, "s3:PutObject", "arn:aws:s3:::sagemaker-project-p-1/key") == IMPLICIT_DENY


def test_actions_match_case_insensitively_with_wildcards():
    policy = allow("SageMaker:Describe*", "*")
    assert decision(policy, "sagemaker:DescribeEndpoint") == ALLOWED
    assert decision(policy, "sagemaker:CreateEndpoint") == IMPLICIT_DENY


def test_explicit_deny_wins_over_allow():
    documents = [
        allow("s3:*", "*"),
        {"Statement": [{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::keep-*"}]},
    ]
    assert decision(documents, "s3:DeleteBucket", "arn:aws:s3:::keep-me") == EXPLICIT_DENY
    assert decision(documents, "s3:DeleteBucket", "arn:aws:s3:::other") == ALLOWED


def test_not_action_and_not_resource():
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert decision(not_action, "s3:GetObject") == ALLOWED
    assert decision(not_action, "iam:PassRole") == IMPLICIT_DENY
    not_resource = {
        "Statement": [
            {"Effect": "Allow", "Action": "sagemaker:*", "NotResource": "arn:aws:sagemaker:*:*:domain/*"}
        ]
    }
    assert decision(not_resource, "sagemaker:CreateModel", "arn:aws:sagemaker:us-east-1:1:model/m") == ALLOWED
    assert (
        decision(not_resource, "sagemaker:DeleteDomain", "arn:aws:sagemaker:us-east-1:1:domain/d")
        == IMPLICIT_DENY
    )


def test_a_resource_wildcard_does_not_cross_arn_segments():
    policy = allow("codebuild:StartBuild", "arn:aws:codebuild:*:*:project/sagemaker-*")
    assert (
        decision(policy, "codebuild:StartBuild", "arn:aws:codebuild:us-east-1:1:project/sagemaker-a")
        == ALLOWED
    )
    assert (
        decision(policy, "codebuild:StartBuild", "arn:aws:codebuild:us-east-1:1:project/x:sagemaker-a")
        == IMPLICIT_DENY
    )


def test_an_action_without_resource_types_needs_resource_star():
    policy = allow("sagemaker:ListProjects", "arn:aws:sagemaker:*:*:project/*")
    assert decision(policy, "sagemaker:ListProjects", "*") == IMPLICIT_DENY
    assert decision(allow("sagemaker:ListProjects"), "sagemaker:ListProjects", "*") == ALLOWED


def test_string_equals_and_like_and_ignore_case():
    tagged = allow(
        "s3:GetObject",
        condition={"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}},
    )
    assert (
        decision(
            tagged,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"},
        )
        == ALLOWED
    )
    assert (
        decision(
            tagged,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            {"s3:ExistingObjectTag/servicecatalog:provisioning": "TRUE"},
        )
        == IMPLICIT_DENY
    )
    assert decision(tagged, "s3:GetObject", "arn:aws:s3:::b/k") == IMPLICIT_DENY
    ignore_case = allow(
        "codeconnections:UseConnection",
        condition={"StringEqualsIgnoreCase": {"aws:ResourceTag/sagemaker": "true"}},
    )
    assert (
        decision(ignore_case, "codeconnections:UseConnection", "*", {"aws:ResourceTag/sagemaker": "True"})
        == ALLOWED
    )
    like = allow("apigateway:GET", condition={"StringLike": {"aws:ResourceTag/sagemaker:launch-source": "*"}})
    assert decision(like, "apigateway:GET", "*", {"aws:ResourceTag/sagemaker:launch-source": "x"}) == ALLOWED
    assert decision(like, "apigateway:GET", "*") == IMPLICIT_DENY


def test_request_tags_and_tag_keys_with_set_operators():
    for_all = allow(
        "sagemaker:AddTags", condition={"ForAllValues:StringLike": {"aws:TagKeys": ["sagemaker:*"]}}
    )
    assert decision(for_all, "sagemaker:AddTags", "*", {"aws:TagKeys": ["sagemaker:project-name"]}) == ALLOWED
    assert (
        decision(for_all, "sagemaker:AddTags", "*", {"aws:TagKeys": ["sagemaker:a", "team"]}) == IMPLICIT_DENY
    )
    assert decision(for_all, "sagemaker:AddTags", "*") == ALLOWED  # no keys: ForAllValues holds
    for_any = allow(
        "cloudformation:TagResource",
        condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["sagemaker:project-name"]}},
    )
    assert (
        decision(for_any, "cloudformation:TagResource", "*", {"aws:TagKeys": ["a", "sagemaker:project-name"]})
        == ALLOWED
    )
    assert decision(for_any, "cloudformation:TagResource", "*", {"aws:TagKeys": ["a"]}) == IMPLICIT_DENY
    assert decision(for_any, "cloudformation:TagResource", "*") == IMPLICIT_DENY  # no keys: ForAnyValue fails
    request_tag = allow("sns:CreateTopic", condition={"StringEquals": {"aws:RequestTag/team": "ml"}})
    assert decision(request_tag, "sns:CreateTopic", "*", {"aws:RequestTag/team": "ml"}) == ALLOWED


def test_arn_like_if_exists():
    policy = allow(
        "cloudformation:CreateStack",
        "arn:aws:cloudformation:*:*:stack/SC-*",
        {
            "ArnLikeIfExists": {
                "cloudformation:RoleArn": ["arn:aws:sts::*:assumed-role/AmazonSageMakerServiceCatalog*"]
            }
        },
    )
    stack = "arn:aws:cloudformation:us-east-1:1:stack/SC-1-pp-x/abc"
    assert decision(policy, "cloudformation:CreateStack", stack) == ALLOWED  # key absent: IfExists holds
    assert (
        decision(
            policy,
            "cloudformation:CreateStack",
            stack,
            {"cloudformation:RoleArn": "arn:aws:iam::1:role/other"},
        )
        == IMPLICIT_DENY
    )
    good = "arn:aws:sts::1:assumed-role/AmazonSageMakerServiceCatalogProductsLaunchRole/s"
    assert decision(policy, "cloudformation:CreateStack", stack, {"cloudformation:RoleArn": good}) == ALLOWED


def test_passed_to_service_conditions():
    policy = allow(
        "iam:PassRole",
        "arn:aws:iam::*:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
        {"StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com", "events.amazonaws.com"]}},
    )
    role = "arn:aws:iam::1:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
    assert (
        decision(policy, "iam:PassRole", role, {"iam:PassedToService": "sagemaker.amazonaws.com"}) == ALLOWED
    )
    assert (
        decision(policy, "iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"})
        == IMPLICIT_DENY
    )
    connection = allow(
        "codeconnections:PassConnection",
        "arn:aws:codeconnections:*:*:connection/*",
        {"StringEquals": {"codeconnections:PassedToService": "codepipeline.amazonaws.com"}},
    )
    arn = "arn:aws:codeconnections:us-east-1:1:connection/abc"
    context = {"codeconnections:PassedToService": "codepipeline.amazonaws.com"}
    assert decision(connection, "codeconnections:PassConnection", arn, context) == ALLOWED


def test_null_and_negated_operators():
    null = allow(
        "cloudformation:TagResource", condition={"Null": {"aws:ResourceTag/sagemaker:project-name": "false"}}
    )
    assert (
        decision(null, "cloudformation:TagResource", "*", {"aws:ResourceTag/sagemaker:project-name": "p"})
        == ALLOWED
    )
    assert decision(null, "cloudformation:TagResource", "*") == IMPLICIT_DENY
    negated = allow("s3:GetObject", condition={"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}})
    assert decision(negated, "s3:GetObject", "*", {"aws:RequestedRegion": "us-east-1"}) == ALLOWED
    assert decision(negated, "s3:GetObject", "*", {"aws:RequestedRegion": "eu-west-1"}) == IMPLICIT_DENY
    assert decision(negated, "s3:GetObject", "*") == ALLOWED  # a missing key satisfies a negated operator


def test_policy_variables_in_resources_and_conditions():
    policy = allow(
        "s3express:CreateSession",
        "arn:aws:s3express:*:*:bucket/*sagemaker*",
        {"StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}},
    )
    resource = "arn:aws:s3express:us-east-1:1:bucket/sagemaker-x"
    same = {"aws:ResourceAccount": "1", "aws:PrincipalAccount": "1"}
    assert decision(policy, "s3express:CreateSession", resource, same) == ALLOWED
    other = {"aws:ResourceAccount": "2", "aws:PrincipalAccount": "1"}
    assert decision(policy, "s3express:CreateSession", resource, other) == IMPLICIT_DENY
    unresolved = allow("sagemaker:CreateSpace", "arn:aws:sagemaker:*:*:space/${sagemaker:DomainId}/*")
    assert (
        decision(unresolved, "sagemaker:CreateSpace", "arn:aws:sagemaker:us-east-1:1:space/d-1/s")
        == IMPLICIT_DENY
    )


def test_unknown_operator_fails_loudly():
    policy = allow("s3:GetObject", condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})
    with pytest.raises(UnsupportedCondition):
        decision(policy, "s3:GetObject", "*", {"aws:CurrentTime": "2026-01-01T00:00:00Z"})


def test_the_managed_launch_policy_as_aws_documents_it():
    launch = managed("AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy")
    bucket = "arn:aws:s3:::sagemaker-project-p-1"
    assert decision(launch, "s3:CreateBucket", bucket) == ALLOWED
    assert decision(launch, "s3:PutBucketVersioning", bucket) == IMPLICIT_DENY
    assert decision(launch, "s3:PutLifecycleConfiguration", bucket) == IMPLICIT_DENY
    seed = "arn:aws:s3:::smbundle-templates-1-us-east-1/seed.zip"
    assert decision(launch, "s3:GetObject", seed) == IMPLICIT_DENY
    assert (
        decision(launch, "s3:GetObject", seed, {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"})
        == ALLOWED
    )
    group = "arn:aws:sagemaker:us-east-1:1:model-package-group/p-1"
    assert decision(launch, "sagemaker:CreateModelPackageGroup", group) == IMPLICIT_DENY
    assert decision(launch, "sns:CreateTopic", "arn:aws:sns:us-east-1:1:sagemaker-x") == IMPLICIT_DENY
    custom = "arn:aws:iam::1:role/MyBuildRole"
    assert decision(launch, "iam:PassRole", custom) == IMPLICIT_DENY
    project_role = "arn:aws:iam::1:role/service-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole"
    assert decision(launch, "iam:PassRole", project_role) == ALLOWED
