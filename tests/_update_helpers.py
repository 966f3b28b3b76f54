"""Helpers of the project-update tests: product versions to publish, projects made from them."""

from __future__ import annotations

import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import boto3

from smbundle.project_updates import RolloutOptions, roll_out

REPO = Path(__file__).resolve().parents[1]
PREVIOUS = REPO / "tests" / "fixtures" / "previous_version"
PREVIOUS_VERSION = (
    "v-ed86b541ada2"  # what the frozen fixture publishes as (its README says where it comes from)
)


def previous_release(target: Path) -> Path:
    """A repository tree holding the previous published version (template and seed code), to publish from."""
    (target / "service_catalog").mkdir(parents=True)
    shutil.copy(PREVIOUS / "product.yaml", target / "service_catalog" / "product.yaml")
    for seed in ("build", "deploy"):
        with zipfile.ZipFile(PREVIOUS / f"{seed}.zip") as archive:
            for info in archive.infolist():
                path = target / "seed_code" / seed / info.filename
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(archive.read(info))
                path.chmod((info.external_attr >> 16) & 0o777)
    return target


def product_version(target: Path, edit: Callable[[str], str] | None = None) -> Path:
    """The current product (template and seed code), its template changed by ``edit``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache")
    shutil.copytree(REPO / "service_catalog", target / "service_catalog")
    shutil.copytree(REPO / "seed_code", target / "seed_code", ignore=ignore)
    template = target / "service_catalog" / "product.yaml"
    if edit is not None:
        changed = edit(template.read_text())
        assert changed != template.read_text(), "the edit changed nothing"
        template.write_text(changed)
    return target


def publish(root: Path, session=None, endpoint_url: str | None = None) -> dict:
    from smbundle.local.server import ACCOUNT_ID, STUDIO_EXECUTION_ROLE_NAME
    from smbundle.publish import PublishOptions
    from smbundle.publish import publish as run

    studio = f"arn:aws:iam::{ACCOUNT_ID}:role/service-role/{STUDIO_EXECUTION_ROLE_NAME}"
    options = PublishOptions(
        repo_root=root, principal_arns=[studio], region="us-east-1", endpoint_url=endpoint_url
    )
    return run(options, session=session)


def create_project(sagemaker, name: str, published: dict, parameters: dict | None = None) -> dict:
    sagemaker.create_project(
        ProjectName=name,
        ServiceCatalogProvisioningDetails={
            "ProductId": published["product_id"],
            "ProvisioningArtifactId": published["provisioning_artifact_id"],
            "ProvisioningParameters": [{"Key": k, "Value": v} for k, v in (parameters or {}).items()],
        },
    )
    project = sagemaker.describe_project(ProjectName=name)
    assert project["ProjectStatus"] == "CreateCompleted", project
    return project


def settled(sagemaker, name: str, patience: float = 120) -> dict:
    """DescribeProject once the project is no longer UpdateInProgress (the update runs in the background)."""
    deadline = time.monotonic() + patience
    while True:
        project = sagemaker.describe_project(ProjectName=name)
        if project["ProjectStatus"] != "UpdateInProgress" or time.monotonic() > deadline:
            return project
        time.sleep(0.05)


def stack_of(project: dict, cloudformation=None) -> dict:
    cloudformation = cloudformation or boto3.client("cloudformation")
    pp_id = project["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"]
    (stack,) = [s for s in cloudformation.describe_stacks()["Stacks"] if s["StackName"].endswith(pp_id)]
    return stack


def events_since(
    cloudformation, stack_name: str, status: str = "UPDATE_IN_PROGRESS"
) -> list[tuple[str, str, str]]:
    """The stack's events from its last ``status`` stack event on, oldest first: (logical id, status, reason)."""
    events = [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason") or "")
        for e in reversed(cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"])
    ]
    name = stack_name.split("/")[1] if stack_name.startswith("arn:") else stack_name
    starts = [i for i, (logical, state, _) in enumerate(events) if logical == name and state == status]
    return events[starts[-1] :] if starts else []


def rollout(**options):
    """``roll_out`` with these options; returns its report and the (event, project name) progress it reported."""
    events = []
    report = roll_out(
        RolloutOptions(**options), progress=lambda event, _, plan: events.append((event, plan and plan.name))
    )
    return report, events


def plan_of(report, name):
    return next(plan for plan in report.projects if plan.name == name)


def change(plan, logical_id):
    return next(c for c in plan.changes if c.logical_id == logical_id)
