"""Delete what a SageMaker project leaves billing or stored after the project itself is gone.

The deploy pipeline creates the endpoint stacks, not the project's stack, so deleting the project in Studio leaves
both endpoints running (the production one bills by the hour), and the builds create the SageMaker Pipelines
(``<project>-<id>`` for the model build, ``<project>-<id>-data-quality`` for the data-quality check). This removes, in
order: the staging and prod endpoint stacks, the SageMaker Pipelines, optionally the model packages, the project
(which terminates its product stack), and optionally the artifact bucket, which the product stack retains on delete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)


class CleanupError(Exception):
    """Cleanup cannot go on; the message says why."""


@dataclass
class CleanupReport:
    project_name: str
    project_id: str | None = None
    dry_run: bool = False
    actions: list[dict] = field(default_factory=list)
    # Called with each action as it happens (and with "deleting" notes while a stack is being waited for).
    listener: Callable[[dict], None] | None = None

    def add(self, action: str, resource: str, status: str, detail: str = "") -> None:
        entry = {"action": action, "resource": resource, "status": status, "detail": detail}
        self.actions.append(entry)
        self.note(entry)

    def note(self, entry: dict) -> None:
        if self.listener:
            self.listener(entry)

    def as_dict(self) -> dict:
        return {
            "project_name": self.project_name,
            "project_id": self.project_id,
            "dry_run": self.dry_run,
            "actions": self.actions,
        }


def cleanup(
    session,
    project_name: str,
    *,
    delete_bucket: bool = False,
    delete_model_packages: bool = False,
    dry_run: bool = False,
    endpoint_url: str | None = None,
    wait_seconds: float = 1800,
    progress: Callable[[dict], None] | None = None,
) -> CleanupReport:
    def client(service):
        return session.client(service, endpoint_url=endpoint_url)

    sagemaker, cloudformation, s3 = client("sagemaker"), client("cloudformation"), client("s3")
    report = CleanupReport(project_name, dry_run=dry_run, listener=progress)
    try:
        project = sagemaker.describe_project(ProjectName=project_name)
    except ClientError as exc:
        raise CleanupError(
            f"project {project_name} not found ({exc.response['Error']['Message']}); "
            "check the name with aws sagemaker list-projects"
        ) from None
    project_id = report.project_id = project["ProjectId"]
    prefix = f"sagemaker-{project_name}-{project_id}"

    for stage in ("staging", "prod"):
        _delete_stack(cloudformation, f"{prefix}-deploy-{stage}", report, dry_run, wait_seconds)
    for pipeline in (f"{project_name}-{project_id}", f"{project_name}-{project_id}-data-quality"):
        _delete_pipeline(sagemaker, pipeline, report, dry_run)
    if delete_model_packages:
        _delete_model_packages(sagemaker, f"{project_name}-{project_id}", report, dry_run)
    if dry_run:
        report.add("DeleteProject", project_name, "would delete")
    else:
        sagemaker.delete_project(ProjectName=project_name)
        report.add("DeleteProject", project_name, "deleted")
    bucket = f"sagemaker-project-{project_id}"
    if delete_bucket:
        _delete_bucket(s3, bucket, report, dry_run)
    else:
        report.add(
            "KeepBucket", bucket, "kept", "retained on delete; pass --delete-bucket to empty and delete it"
        )
    return report


def _delete_stack(
    cloudformation, name: str, report: CleanupReport, dry_run: bool, wait_seconds: float
) -> None:
    try:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError:
        report.add("DeleteStack", name, "absent")
        return
    if dry_run:
        report.add("DeleteStack", name, "would delete", stack["StackStatus"])
        return
    cloudformation.delete_stack(StackName=name)
    report.note({"action": "DeleteStack", "resource": name, "status": "deleting", "detail": "waiting"})
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except ClientError:
            break
        if status == "DELETE_COMPLETE":
            break
        if status == "DELETE_FAILED":
            raise CleanupError(f"stack {name} is DELETE_FAILED: see its events in the CloudFormation console")
        time.sleep(5)
    else:
        raise CleanupError(
            f"stack {name} still deleting after {wait_seconds:.0f} s; re-run the command later"
        )
    report.add("DeleteStack", name, "deleted")


def _delete_pipeline(sagemaker, name: str, report: CleanupReport, dry_run: bool) -> None:
    try:
        sagemaker.describe_pipeline(PipelineName=name)
    except ClientError:
        report.add("DeletePipeline", name, "absent")
        return
    if not dry_run:
        sagemaker.delete_pipeline(PipelineName=name)
    report.add("DeletePipeline", name, "would delete" if dry_run else "deleted")


def _delete_model_packages(sagemaker, group: str, report: CleanupReport, dry_run: bool) -> None:
    arns = []
    try:
        for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
            arns.extend(p["ModelPackageArn"] for p in page["ModelPackageSummaryList"])
    except ClientError:
        report.add("DeleteModelPackages", group, "absent")
        return
    for arn in arns:
        if not dry_run:
            sagemaker.delete_model_package(ModelPackageName=arn)
        report.add("DeleteModelPackage", arn, "would delete" if dry_run else "deleted")
    # The build pipeline created the group with its first registration; it goes with its packages.
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError:
        return
    if not dry_run:
        sagemaker.delete_model_package_group(ModelPackageGroupName=group)
    report.add("DeleteModelPackageGroup", group, "would delete" if dry_run else "deleted")


def _delete_bucket(s3, bucket: str, report: CleanupReport, dry_run: bool) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        report.add("DeleteBucket", bucket, "absent")
        return
    count = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        count += len(entries)
        if entries and not dry_run:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": entries, "Quiet": True})
            report.note(
                {
                    "action": "EmptyBucket",
                    "resource": bucket,
                    "status": "deleting",
                    "detail": f"{count} so far",
                }
            )
    if dry_run:
        report.add("DeleteBucket", bucket, "would delete", f"{count} object versions")
        return
    s3.delete_bucket(Bucket=bucket)
    report.add("DeleteBucket", bucket, "deleted", f"{count} object versions removed")
