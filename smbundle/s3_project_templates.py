"""The S3 project template path (``publish_product.py --target s3``): where the template goes, what it is called, and
what the Studio user who creates a project from it must be allowed.

With an S3 project template there is no Service Catalog between the user and CloudFormation: the caller of
``CreateProject`` (in Studio, the user's execution role) reads the template, passes the template provider's
``RoleARN`` to CloudFormation and creates the ``SP-*`` stack, and CloudFormation creates the stack's resources as
``RoleARN`` ("The IAM role that CloudFormation assumes when creating the stack",
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CfnCreateTemplateProvider.html ; the set-up guide,
aws-samples/sagemaker-custom-project-templates ``s3_templates/README.md``, gives the Studio role CloudFormation on
``SP-*`` stacks, ``iam:PassRole`` of the launch role and ``s3:GetObjectTagging``). The embedded SageMaker acts the same
way (``smbundle/local/sagemaker/template_providers.py``), so the preflight asks about the same calls.
"""

from __future__ import annotations

import re

from smbundle.permission_plan import PROJECT_ID, PROJECT_TAGS, PlannedCall, tag_context

TEMPLATES_PREFIX = "templates/"
CLOUDFORMATION = "cloudformation.amazonaws.com"
# The fix of a denied caller call: the Studio role lacks what creating a project from an S3 template needs.
CALLER_FIX = (
    "give that Studio execution role what creating a project from an S3 project template needs (the policy in "
    "docs/publish.md, 'Who may create projects from the S3 template'), or drop it from --principal-arn"
)


def default_bucket(account: str, region: str) -> str:
    """The S3 target's default bucket. Its name contains "sagemaker", as AWS's set-up guide names it: the Studio
    users' usual policy (AmazonSageMakerFullAccess) reads objects of such buckets (and may also write them: give the
    publisher's own --bucket for a bucket only the platform team writes)."""
    return f"sagemaker-projects-templates-{account}-{region}"


def template_key(product_slug: str) -> str:
    return f"{TEMPLATES_PREFIX}{product_slug}.yaml"


def template_name(product_slug: str) -> str:
    """A CfnTemplateProvider ``TemplateName`` for the product (1 to 32 letters, digits and hyphens, starting and
    ending with a letter or digit: botocore's model of CfnTemplateName)."""
    name = re.sub(r"-+", "-", product_slug)[:32].strip("-")
    return name or "template"


def stack_arn(region: str, account: str, stack_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/*"


def preflight_stack_name(account: str) -> str:
    """The placeholder project's stack, named as the embedded SageMaker names it (AWS documents only ``SP-``)."""
    return f"SP-{account}-{PROJECT_ID}"


def caller_calls(
    callers: list[str], bucket: str, key: str, launch_role_arn: str | None, region: str, account: str
) -> list[PlannedCall]:
    """What each Studio principal does when it creates (and deletes) a project from the template."""
    template = f"arn:aws:s3:::{bucket}/{key}"
    stack = stack_arn(region, account, preflight_stack_name(account))
    why = "creating a project from the S3 template"
    calls = []
    for caller in callers:
        calls += [
            PlannedCall(caller, "s3:GetObject", template, f"{why}: SageMaker reads the template"),
            PlannedCall(
                caller, "s3:GetObjectTagging", template, f"{why}: SageMaker reads its visibility tag"
            ),
        ]
        if launch_role_arn:
            calls.append(
                PlannedCall(
                    caller,
                    "iam:PassRole",
                    launch_role_arn,
                    f"{why}: the template provider's RoleARN",
                    {"iam:PassedToService": CLOUDFORMATION},
                )
            )
        create_context = {"cloudformation:RoleArn": launch_role_arn} if launch_role_arn else {}
        calls += [
            PlannedCall(caller, "cloudformation:CreateStack", stack, f"{why}: its stack", create_context),
            PlannedCall(
                caller,
                "cloudformation:TagResource",
                stack,
                f"{why}: the stack's project tags",
                tag_context(PROJECT_TAGS),
            ),
            PlannedCall(caller, "cloudformation:DeleteStack", stack, "deleting the project: its stack"),
        ]
    return calls


def studio_user_policy(account: str, bucket: str, launch_role_arn: str, partition: str = "aws") -> dict:
    """An identity policy that lets a Studio execution role create, update and delete projects from the templates in
    ``bucket`` with ``launch_role_arn`` as their RoleARN (our wording of what AWS's set-up guide asks for)."""
    stacks = f"arn:{partition}:cloudformation:*:{account}:stack/SP-*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadProjectTemplates",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectTagging"],
                "Resource": f"arn:{partition}:s3:::{bucket}/{TEMPLATES_PREFIX}*",
            },
            {
                "Sid": "ProjectStacks",
                "Effect": "Allow",
                "Action": [
                    "cloudformation:CreateStack",
                    "cloudformation:UpdateStack",
                    "cloudformation:DeleteStack",
                    "cloudformation:DescribeStacks",
                ],
                "Resource": stacks,
            },
            {
                "Sid": "TagProjectStacks",
                "Effect": "Allow",
                "Action": "cloudformation:TagResource",
                "Resource": stacks,
                "Condition": {"Null": {"aws:RequestTag/sagemaker:project-name": "false"}},
            },
            {
                "Sid": "PassLaunchRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": launch_role_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": CLOUDFORMATION}},
            },
        ],
    }
