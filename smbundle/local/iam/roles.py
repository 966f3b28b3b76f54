"""The SageMaker project roles, as enabling projects for a Studio domain sets them up.

Each role lives under ``/service-role/``, trusts its service, and has the AWS managed policy AWS attaches to it
(SageMaker developer guide, "AWS managed policies for SageMaker projects and JumpStart"; the Execution role gets
AmazonSageMakerFullAccess). The policy documents are the ones the pinned moto bundles
(``moto.iam.aws_managed_policies``), never retyped here.

The Use role is the exception: the console gives it a customer-managed policy (``AmazonSageMakerServiceCatalog
ProductsUseRole-<timestamp>``), not an AWS managed one, so it has no policy here and every call made as it is denied.
This product does not use it. The calibration test (``tests/test_permissions_truth.py``) gives it the policy of the
role template AWS publishes in aws-samples/amazon-sagemaker-secure-mlops, read from outside this repository.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, iam_backends

PARTITION = "aws"
PREFIX = "AmazonSageMakerServiceCatalogProducts"
STUDIO_EXECUTION_ROLE_NAME = "AmazonSageMaker-ExecutionRole-studio"


@dataclass(frozen=True)
class ProjectRole:
    name: str
    services: tuple[str, ...]
    managed_policies: tuple[str, ...]
    description: str


PROJECT_ROLES = (
    ProjectRole(
        f"{PREFIX}LaunchRole",
        ("servicecatalog.amazonaws.com",),
        ("AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy",),
        "Service Catalog launch constraint role of SageMaker project templates",
    ),
    ProjectRole(
        f"{PREFIX}UseRole",
        (
            "apigateway.amazonaws.com",
            "cloudformation.amazonaws.com",
            "codebuild.amazonaws.com",
            "codepipeline.amazonaws.com",
            "events.amazonaws.com",
            "firehose.amazonaws.com",
            "glue.amazonaws.com",
            "lambda.amazonaws.com",
            "sagemaker.amazonaws.com",
            "states.amazonaws.com",
        ),
        (),
        "Role of older SageMaker project templates (its policy is customer-managed; none here)",
    ),
    ProjectRole(
        f"{PREFIX}CodeBuildRole",
        ("codebuild.amazonaws.com",),
        ("AmazonSageMakerServiceCatalogProductsCodeBuildServiceRolePolicy",),
        "CodeBuild projects of SageMaker projects",
    ),
    ProjectRole(
        f"{PREFIX}CodePipelineRole",
        ("codepipeline.amazonaws.com",),
        ("AmazonSageMakerServiceCatalogProductsCodePipelineServiceRolePolicy",),
        "CodePipeline pipelines of SageMaker projects",
    ),
    ProjectRole(
        f"{PREFIX}EventsRole",
        ("events.amazonaws.com",),
        ("AmazonSageMakerServiceCatalogProductsEventsServiceRolePolicy",),
        "EventBridge rule targets of SageMaker projects",
    ),
    ProjectRole(
        f"{PREFIX}CloudformationRole",
        ("cloudformation.amazonaws.com",),
        ("AmazonSageMakerServiceCatalogProductsCloudformationServiceRolePolicy",),
        "CloudFormation stacks deployed by SageMaker project pipelines",
    ),
    ProjectRole(
        f"{PREFIX}ExecutionRole",
        ("sagemaker.amazonaws.com",),
        ("AmazonSageMakerFullAccess",),
        "SageMaker jobs, pipelines and models of SageMaker projects",
    ),
    ProjectRole(
        STUDIO_EXECUTION_ROLE_NAME,
        ("sagemaker.amazonaws.com",),
        ("AmazonSageMakerFullAccess",),
        "Studio execution role of the domain's users",
    ),
)


def trust_policy(services: tuple[str, ...]) -> str:
    # One Service principal per statement (moto's CodePipeline rejects a list).
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
                for service in services
            ],
        }
    )


@functools.cache
def _managed_policies() -> dict:
    """moto's copy of the AWS managed policies (a few MB of JSON: parsed once)."""
    return json.loads(aws_managed_policies_data)


def managed_policy_arn(name: str) -> str:
    data = _managed_policies()[name]
    return f"arn:{PARTITION}:iam::aws:policy{data.get('Path') or '/'}{name}"


def _register_managed_policies(backend, names: set[str]) -> None:
    """Make the AWS managed policies attachable (moto loads none unless told to load all ~1,300)."""
    data = _managed_policies()
    for name in sorted(names):
        policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data[name])
        backend.managed_policies.setdefault(policy.arn, policy)


def prepare(account_id: str) -> dict[str, str]:
    """Create the project roles with their trust and managed policies (idempotent); returns name -> ARN."""
    backend = iam_backends[account_id][PARTITION]
    _register_managed_policies(backend, {p for r in PROJECT_ROLES for p in r.managed_policies})
    existing = {r.name: r for r in backend.roles.values()}
    arns = {}
    for spec in PROJECT_ROLES:
        found = existing.get(spec.name)
        if found is None:
            found = backend.create_role(
                role_name=spec.name,
                assume_role_policy_document=trust_policy(spec.services),
                path="/service-role/",
                permissions_boundary=None,
                description=spec.description,
                tags=[],
                max_session_duration="3600",
                linked_service=None,
            )
        for policy in spec.managed_policies:
            arn = managed_policy_arn(policy)
            if arn not in found.managed_policies:
                backend.attach_role_policy(arn, spec.name)
        arns[spec.name] = found.arn
    return arns
