"""The product's own least-privilege roles (``service_catalog/roles.yaml``): deploy or update their stack with a
change-set preview, and answer the roles' ARNs.

One stack per account: IAM is global, so the roles serve every Region (their policies name resources in any Region
of the account). The stack lives in the Region it was first deployed from, which every role carries in its tag
``smbundle:roles-stack-region``; a publication from another Region finds the stack there (through IAM, which is
global) and previews and updates it in its own Region.

Each deployment is a change set: created, read and printed (each resource added, modified, replaced or removed),
then executed. A dry run creates and deletes the change set of an existing stack without executing it, and lists
the resources a new stack would add without calling CloudFormation. A stack whose creation failed
(``ROLLBACK_COMPLETE``, or a change set never executed: ``REVIEW_IN_PROGRESS``) is deleted before it is created
again, as CloudFormation can neither update nor re-create it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from smbundle import templates

if TYPE_CHECKING:  # project_updates imports the publisher, which imports this module
    from smbundle.project_updates import ResourceChange

STACK_NAME = "smbundle-project-roles"
TEMPLATE = Path("service_catalog") / "roles.yaml"
REGION_TAG = "smbundle:roles-stack-region"
LAUNCH_ROLE = "AmazonSageMakerServiceCatalogCustomLaunchRole"
# The product's role parameters, the stack output holding each, and the service each role trusts.
PROJECT_ROLES = {
    "CodeBuildRoleArn": ("AmazonSageMakerServiceCatalogCustomCodeBuildRole", "codebuild.amazonaws.com"),
    "CodePipelineRoleArn": (
        "AmazonSageMakerServiceCatalogCustomCodePipelineRole",
        "codepipeline.amazonaws.com",
    ),
    "EventsRoleArn": ("AmazonSageMakerServiceCatalogCustomEventsRole", "events.amazonaws.com"),
    "CloudFormationRoleArn": (
        "AmazonSageMakerServiceCatalogCustomCloudFormationRole",
        "cloudformation.amazonaws.com",
    ),
    "ExecutionRoleArn": ("AmazonSageMakerServiceCatalogCustomExecutionRole", "sagemaker.amazonaws.com"),
}
# Role name -> the service that assumes it (what the publisher's preflight checks the trust policies against).
ROLE_SERVICES = {name: service for name, service in PROJECT_ROLES.values()}
ROLE_SERVICES[LAUNCH_ROLE] = "servicecatalog.amazonaws.com"
FAILED_CREATION = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS", "CREATE_FAILED")
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
LAUNCH_CONSTRAINT_DESCRIPTION = "SageMaker projects launch role (smbundle roles stack)"
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class RolesStackError(Exception):
    """The roles stack could not be deployed; the message says why and what to do."""


@dataclass
class RolesStack:
    name: str
    region: str  # where the stack lives
    status: str  # created | updated | unchanged | would create | would update
    arns: dict[str, str]  # the stack's outputs: LaunchRoleArn and the five role parameters
    changes: list[ResourceChange] = field(default_factory=list)

    @property
    def launch_role_arn(self) -> str:
        return self.arns["LaunchRoleArn"]

    @property
    def parameter_defaults(self) -> dict[str, str]:
        """The product's role parameters -> this stack's roles (the product's defaults when published with them)."""
        return {parameter: self.arns[parameter] for parameter in PROJECT_ROLES}

    @property
    def exists(self) -> bool:
        return self.status != "would create"

    def as_dict(self) -> dict:
        return {
            "stack_name": self.name,
            "region": self.region,
            "status": self.status,
            "role_arns": dict(self.arns),
            "changes": [change.line().strip() for change in self.changes],
        }


def follow_launch_role(publisher, constraint: dict, role: str) -> None:
    """Point the product's existing LAUNCH constraint at ``role`` when it names another one (UpdateConstraint
    takes new Parameters: https://docs.aws.amazon.com/servicecatalog/latest/dg/API_UpdateConstraint.html)."""
    import json

    if constraint.get("Description") == LAUNCH_CONSTRAINT_DESCRIPTION:
        return  # made with this stack's launch role (its name is fixed)
    catalog = publisher.client("servicecatalog")
    current = catalog.describe_constraint(Id=constraint["ConstraintId"]).get("ConstraintParameters") or "{}"
    if json.loads(current).get("RoleArn") == role:
        return
    publisher.write(
        f"launch constraint {constraint['ConstraintId']} now with role {role}",
        catalog.update_constraint,
        Id=constraint["ConstraintId"],
        Parameters=json.dumps({"RoleArn": role}),
        Description=LAUNCH_CONSTRAINT_DESCRIPTION,
    )


def role_arn(name: str, account: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:role/service-role/{name}"


class RolesDeployer:
    """Deploys the roles stack through the publisher's ``write`` (so a dry run plans, and each write is reported),
    telling ``say`` the preview as it goes."""

    def __init__(self, publisher, repo_root: Path, say: Callable[[str], None], wait_seconds: float = 1800):
        self.publisher = publisher
        self.repo_root = repo_root
        self.template_body = (repo_root / TEMPLATE).read_text()
        self.say = say
        self.wait_seconds = wait_seconds

    def cloudformation(self, region: str):
        """CloudFormation in the stack's Region (which may not be the publisher's)."""
        from botocore.config import Config

        return self.publisher.session.client(
            "cloudformation",
            region_name=region,
            endpoint_url=self.publisher.options.endpoint_url,
            config=Config(retries={"mode": "standard"}),
        )

    def home_region(self) -> str:
        """The Region of the stack: the tag on its launch role when the roles exist, else the publisher's."""
        iam = self.publisher.client("iam")
        try:
            iam.get_role(RoleName=LAUNCH_ROLE)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchEntity":
                return self.publisher.region
            raise
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=LAUNCH_ROLE).get("Tags", [])}
        if REGION_TAG not in tags:
            raise RolesStackError(
                f"role {LAUNCH_ROLE} exists but was not made by the roles stack (it has no tag {REGION_TAG}): "
                "delete it, or publish with --roles managed and --launch-role-arn"
            )
        return tags[REGION_TAG]

    def deploy(self, account: str) -> RolesStack:
        from smbundle.project_updates import ResourceChange, change_set_changes, wait_for_change_set

        region = self.home_region()
        cloudformation = self.cloudformation(region)
        stack = _describe(cloudformation)
        where = f"stack {STACK_NAME} in {region}"
        if (
            stack is not None
            and stack["StackStatus"].endswith("_IN_PROGRESS")
            and stack["StackStatus"] != "REVIEW_IN_PROGRESS"
        ):
            raise RolesStackError(
                f"{where} is {stack['StackStatus']}: wait for it to finish, then publish again"
            )
        if stack is not None and stack["StackStatus"] in FAILED_CREATION:
            self.say(f"roles: {where} is {stack['StackStatus']} (its creation failed): deleting it first")
            self.publisher.write(
                f"delete {where} ({stack['StackStatus']})", self._delete, cloudformation, stack["StackId"]
            )
            stack = None
        parameters = [{"ParameterKey": "HomeRegionTag", "ParameterValue": region}]
        if stack is None:  # a new stack: the preview is every resource of the template, added
            changes = [
                ResourceChange("Add", logical_id, resource["Type"])
                for logical_id, resource in templates.load(self.repo_root / TEMPLATE)["Resources"].items()
            ]
            self._preview(where, "create", changes)
            if self.publisher.options.dry_run:
                self.publisher.plan.append(f"create {where}")
                arns = {"LaunchRoleArn": role_arn(LAUNCH_ROLE, account, _partition(region))}
                arns.update(
                    {p: role_arn(name, account, _partition(region)) for p, (name, _) in PROJECT_ROLES.items()}
                )
                return RolesStack(STACK_NAME, region, "would create", arns, changes)
            self.publisher.write(
                f"create {where}",
                cloudformation.create_stack,
                StackName=STACK_NAME,
                TemplateBody=self.template_body,
                Parameters=parameters,
                Capabilities=["CAPABILITY_NAMED_IAM"],
                OnFailure="ROLLBACK",
            )
            return RolesStack(
                STACK_NAME, region, "created", _outputs(self._wait(cloudformation, where)), changes
            )
        change_set_id = cloudformation.create_change_set(
            StackName=STACK_NAME,
            ChangeSetName="smbundle-roles-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S%f"),
            ChangeSetType="UPDATE",
            TemplateBody=self.template_body,
            Parameters=parameters,
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Description="The SageMaker project template's roles (smbundle publish_product.py --roles custom)",
        )["Id"]
        described = wait_for_change_set(cloudformation, change_set_id)
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason") or "no reason given"
            _forget(cloudformation, change_set_id)
            if any(text in reason for text in NO_CHANGES):
                self.say(f"roles: {where} is up to date")
                return RolesStack(STACK_NAME, region, "unchanged", _outputs(stack))
            raise RolesStackError(f"CloudFormation cannot make the change set of {where}: {reason}")
        changes = change_set_changes(cloudformation, change_set_id, described)
        self._preview(where, "update", changes)
        if self.publisher.options.dry_run:
            _forget(cloudformation, change_set_id)  # previewed, never executed
            self.publisher.plan.append(f"update {where} (execute its change set)")
            return RolesStack(STACK_NAME, region, "would update", _outputs(stack), changes)
        self.publisher.write(
            f"update {where} (execute its change set)",
            cloudformation.execute_change_set,
            ChangeSetName=change_set_id,
        )
        return RolesStack(STACK_NAME, region, "updated", _outputs(self._wait(cloudformation, where)), changes)

    def _preview(self, where: str, verb: str, changes: list[ResourceChange]) -> None:
        self.say(f"roles: {verb} {where}:")
        for change in changes:
            self.say(change.line())

    def _delete(self, cloudformation, stack_id: str) -> None:
        cloudformation.delete_stack(StackName=stack_id)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            status = (_describe(cloudformation, stack_id) or {}).get("StackStatus", "DELETE_COMPLETE")
            if status == "DELETE_COMPLETE":
                return
            if status == "DELETE_FAILED" or time.monotonic() > deadline:
                raise RolesStackError(
                    f"cannot delete the failed roles stack {STACK_NAME} ({status}): delete it in the CloudFormation "
                    "console, then publish again"
                )
            time.sleep(0.5)

    def _wait(self, cloudformation, where: str) -> dict:
        delay, deadline = 0.2, time.monotonic() + self.wait_seconds
        while True:
            stack = _describe(cloudformation)
            status = stack["StackStatus"]
            if status in DONE:
                return stack
            if not status.endswith("_IN_PROGRESS"):
                raise RolesStackError(
                    f"{where} is {status}: {_failure(cloudformation)}; nothing was published (fix it, then publish "
                    "again)"
                )
            if time.monotonic() > deadline:
                raise RolesStackError(f"{where} still {status} after {self.wait_seconds:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _describe(cloudformation, name: str = STACK_NAME) -> dict | None:
    try:
        return cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in exc.response["Error"].get("Message", ""):
            return None
        raise


def _outputs(stack: dict) -> dict[str, str]:
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    missing = [key for key in ("LaunchRoleArn", *PROJECT_ROLES) if key not in outputs]
    if missing:
        raise RolesStackError(
            f"stack {STACK_NAME} has no output {', '.join(missing)}: it is not this product's roles stack "
            "(or an older one); delete it or update it with publish_product.py --roles custom"
        )
    return outputs


def _failure(cloudformation) -> str:
    """The first reason CloudFormation gives for a failed resource in the stack's latest operation."""
    try:
        events = cloudformation.describe_stack_events(StackName=STACK_NAME)["StackEvents"]
    except ClientError:
        return "no reason given"
    reasons = []
    for event in events:  # newest first, back to the start of the latest operation
        status = event.get("ResourceStatus", "")
        if event.get("LogicalResourceId") == STACK_NAME and status in (
            "CREATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
        ):
            break
        if status.endswith("_FAILED") and event.get("ResourceStatusReason"):
            reasons.append(f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}")
    return reasons[-1] if reasons else "no reason given"


def _forget(cloudformation, change_set_id: str) -> None:
    with contextlib.suppress(ClientError):  # a left-over change set is harmless
        cloudformation.delete_change_set(ChangeSetName=change_set_id)
