"""scripts/delete_project.py: endpoint stacks, model packages, project and bucket go; a dry run deletes nothing."""

from __future__ import annotations

import boto3
import pytest

from smbundle import publish as publishing
from smbundle.cleanup import CleanupError, cleanup
from smbundle.local import server
from tests.test_publish import options

STACK = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"


@pytest.fixture
def project(aws):
    server.prepare_account()
    result = publishing.publish(options())
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_project(
        ProjectName="demo",
        ServiceCatalogProvisioningDetails={
            "ProductId": result["product_id"],
            "ProvisioningArtifactId": result["provisioning_artifact_id"],
        },
    )
    project_id = sagemaker.describe_project(ProjectName="demo")["ProjectId"]
    cloudformation = boto3.client("cloudformation")
    for stage in ("staging", "prod"):
        cloudformation.create_stack(
            StackName=f"sagemaker-demo-{project_id}-deploy-{stage}", TemplateBody=STACK
        )
    # The builds create the SageMaker Pipelines (model build, data-quality check), not the product stack.
    for name in (f"demo-{project_id}", f"demo-{project_id}-data-quality"):
        sagemaker.create_pipeline(
            PipelineName=name,
            PipelineDefinition='{"Version": "2020-12-01", "Steps": []}',
            RoleArn="arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
        )
    # The build pipeline's first registration creates the group (the product stack does not).
    sagemaker.create_model_package_group(ModelPackageGroupName=f"demo-{project_id}")
    sagemaker.create_model_package(
        ModelPackageGroupName=f"demo-{project_id}",
        InferenceSpecification={
            "Containers": [{"Image": "i", "ModelDataUrl": "s3://b/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    s3 = boto3.client("s3")
    for n in range(3):
        s3.put_object(Bucket=f"sagemaker-project-{project_id}", Key="artifact", Body=f"v{n}".encode())
    return project_id


def stacks() -> set[str]:
    return {
        s["StackName"]
        for s in boto3.client("cloudformation").describe_stacks()["Stacks"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }


def test_dry_run_deletes_nothing(project):
    before = stacks()
    report = cleanup(
        boto3.session.Session(), "demo", delete_bucket=True, delete_model_packages=True, dry_run=True
    )
    statuses = {(a["action"], a["status"]) for a in report.actions}
    assert ("DeleteStack", "would delete") in statuses and ("DeleteProject", "would delete") in statuses
    assert ("DeleteBucket", "would delete") in statuses and ("DeletePipeline", "would delete") in statuses
    assert stacks() == before
    assert len(boto3.client("sagemaker").list_pipelines()["PipelineSummaries"]) == 2
    assert boto3.client("sagemaker").describe_project(ProjectName="demo")["ProjectId"] == project


def test_cleanup_removes_endpoints_packages_project_and_bucket(project):
    report = cleanup(
        boto3.session.Session(), "demo", delete_bucket=True, delete_model_packages=True, wait_seconds=5
    )
    deleted = [a["resource"] for a in report.actions if a["status"] == "deleted"]
    assert f"sagemaker-demo-{project}-deploy-staging" in deleted
    assert f"sagemaker-demo-{project}-deploy-prod" in deleted
    assert f"demo-{project}" in deleted  # the model package group, after its packages
    pipelines = [
        a["resource"] for a in report.actions if a["action"] == "DeletePipeline" and a["status"] == "deleted"
    ]
    assert pipelines == [f"demo-{project}", f"demo-{project}-data-quality"]
    assert not any(name.startswith(f"sagemaker-demo-{project}-deploy") for name in stacks())
    sagemaker = boto3.client("sagemaker")
    with pytest.raises(sagemaker.exceptions.ClientError):
        sagemaker.describe_project(ProjectName="demo")
    assert sagemaker.list_pipelines()["PipelineSummaries"] == []
    with pytest.raises(boto3.client("s3").exceptions.ClientError):
        boto3.client("s3").head_bucket(Bucket=f"sagemaker-project-{project}")


def test_bucket_is_kept_unless_asked(project):
    report = cleanup(boto3.session.Session(), "demo", wait_seconds=5)
    assert ("KeepBucket", "kept") in {(a["action"], a["status"]) for a in report.actions}
    boto3.client("s3").head_bucket(Bucket=f"sagemaker-project-{project}")


def test_unknown_project_is_a_clear_error(aws):
    with pytest.raises(CleanupError, match="project nope not found"):
        cleanup(boto3.session.Session(), "nope")


def test_each_action_is_reported_as_it_happens(project):
    events = []

    def listen(action):
        # When a stack is reported deleted, it is gone already: the report follows the work, not the end.
        if action["action"] == "DeleteStack" and action["status"] == "deleted":
            assert action["resource"] not in stacks()
        events.append((action["action"], action["status"]))

    report = cleanup(boto3.session.Session(), "demo", wait_seconds=5, progress=listen)
    assert events[:4] == [
        ("DeleteStack", "deleting"),
        ("DeleteStack", "deleted"),
        ("DeleteStack", "deleting"),
        ("DeleteStack", "deleted"),
    ]
    assert [e for e in events if e[1] != "deleting"] == [(a["action"], a["status"]) for a in report.actions]
