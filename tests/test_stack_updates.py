"""The embedded AWS updates a project as AWS does: change sets with CloudFormation's Replacement, UpdateProject ->
UpdateProvisionedProduct -> a stack update as the launch role, rolled back when the role may not do it."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from smbundle.local import server
from tests._update_helpers import create_project, events_since, product_version, publish, settled, stack_of

OLD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:4.0"
IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
BUCKET = "BucketName: !Sub sagemaker-project-${SageMakerProjectId}"


@pytest.fixture
def old_and_new(aws, tmp_path):
    """A project created from a version of the product with an older CodeBuild image, and the current version."""
    server.prepare_account()
    old = publish(product_version(tmp_path / "old", lambda t: t.replace(IMAGE, OLD_IMAGE)))
    project = create_project(boto3.client("sagemaker"), "demo", old)
    new = publish(product_version(tmp_path / "new"))
    return project, old, new


def change_set(
    stack: dict, template_url: str | None, parameters: dict | None = None, body: str | None = None
):
    """The change set of ``stack`` for the template at ``template_url`` (current values, some overridden)."""
    cloudformation = boto3.client("cloudformation")
    values = [
        {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
        for p in stack["Parameters"]
        if p["ParameterKey"] not in (parameters or {})
    ] + [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()]
    created = cloudformation.create_change_set(
        StackName=stack["StackId"],
        ChangeSetName="preview",
        ChangeSetType="UPDATE",
        Parameters=values,
        **({"TemplateBody": body} if body else {"TemplateURL": template_url}),
    )
    return cloudformation.describe_change_set(ChangeSetName=created["Id"])


def changes(described: dict) -> dict[str, dict]:
    return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]}


def details(change: dict) -> list[tuple]:
    return [
        (
            d["Target"].get("Name") or d["Target"]["Attribute"],
            d["Target"]["RequiresRecreation"],
            d["Evaluation"],
            d["ChangeSource"],
            d.get("CausingEntity"),
        )
        for d in change["Details"]
    ]


def test_a_codebuild_image_change_is_an_in_place_modification(old_and_new):
    project, _, new = old_and_new
    described = change_set(stack_of(project), new["template_url"])
    assert described["Status"] == "CREATE_COMPLETE"
    found = changes(described)
    for name in ("ModelBuildProject", "ModelDeployProject", "ModelDeployTestProject"):
        assert found[name]["Action"] == "Modify" and found[name]["Replacement"] == "False"
        assert details(found[name]) == [("Environment", "Never", "Static", "DirectModification", None)]
    # The seed code moved to the new version's key: the repositories' Code changes, in place.
    assert found["ModelBuildRepository"]["Replacement"] == "False"
    assert details(found["ModelBuildRepository"])[0][:2] == ("Code", "Never")
    assert not {"ArtifactBucket", "ArtifactBucketPolicy", "ModelBuildPipeline", "ModelDeployPipeline"} & set(
        found
    )


def test_executing_the_change_set_updates_the_builds_and_starts_no_pipeline(old_and_new):
    project, _, new = old_and_new
    stack = stack_of(project)
    codepipeline, codebuild = boto3.client("codepipeline"), boto3.client("codebuild")
    build_pipeline = f"sagemaker-demo-{project['ProjectId']}-modelbuild"
    runs = len(
        codepipeline.list_pipeline_executions(pipelineName=build_pipeline)["pipelineExecutionSummaries"]
    )
    described = change_set(stack, new["template_url"])
    cloudformation = boto3.client("cloudformation")
    cloudformation.execute_change_set(ChangeSetName=described["ChangeSetId"])
    after = cloudformation.describe_stacks(StackName=stack["StackId"])["Stacks"][0]
    assert after["StackStatus"] == "UPDATE_COMPLETE"
    (built,) = codebuild.batch_get_projects(names=[f"sagemaker-demo-{project['ProjectId']}-modelbuild"])[
        "projects"
    ]
    assert built["environment"]["image"] == IMAGE
    touched = {
        logical for logical, status, _ in events_since(cloudformation, stack["StackId"]) if "UPDATE" in status
    }
    assert "ModelBuildProject" in touched and "ModelBuildPipeline" not in touched
    # As on AWS, updating a stack starts no pipeline execution.
    assert (
        len(codepipeline.list_pipeline_executions(pipelineName=build_pipeline)["pipelineExecutionSummaries"])
        == runs
    )


def test_renaming_the_bucket_replaces_it_and_what_refers_to_it_follows(aws, tmp_path):
    server.prepare_account()
    project = create_project(boto3.client("sagemaker"), "demo", publish(product_version(tmp_path / "old")))
    renamed = publish(product_version(tmp_path / "new", lambda t: t.replace(BUCKET, BUCKET + "-artifacts")))
    found = changes(change_set(stack_of(project), renamed["template_url"]))
    bucket = found["ArtifactBucket"]
    assert (bucket["Action"], bucket["Replacement"], bucket["PolicyAction"]) == (
        "Modify",
        "True",
        "ReplaceAndRetain",
    )
    assert details(bucket) == [("BucketName", "Always", "Static", "DirectModification", None)]
    # The policy names the bucket in a create-only property: it may be replaced, depending on the new bucket.
    policy = found["ArtifactBucketPolicy"]
    assert policy["Replacement"] == "Conditional"
    assert ("Bucket", "Always", "Dynamic", "ResourceReference", "ArtifactBucket") in details(policy)
    assert found["ModelBuildPipeline"]["Replacement"] == "False"
    assert details(found["ModelBuildPipeline"]) == [
        ("ArtifactStore", "Never", "Dynamic", "ResourceReference", "ArtifactBucket")
    ]


def test_a_parameter_change_names_the_parameter(old_and_new):
    project, old, _ = old_and_new
    described = change_set(stack_of(project), old["template_url"], {"StagingMaxConcurrency": "50"})
    assert details(changes(described)["ModelDeployProject"]) == [
        ("Environment", "Never", "Static", "ParameterReference", "StagingMaxConcurrency")
    ]
    assert set(changes(described)) == {"ModelDeployProject"}


def test_a_change_set_without_changes_fails_with_the_reason(old_and_new):
    project, old, _ = old_and_new
    described = change_set(stack_of(project), old["template_url"])
    assert described["Status"] == "FAILED" and described["Changes"] == []
    assert "didn't contain changes" in described["StatusReason"]


def test_removed_added_and_retyped_resources(aws, tmp_path):
    server.prepare_account()
    project = create_project(boto3.client("sagemaker"), "demo", publish(product_version(tmp_path / "old")))
    stack = stack_of(project)
    # A logical id renamed: CloudFormation deletes the old repository (with its commits) and creates another.
    moved = publish(
        product_version(
            tmp_path / "moved",
            lambda t: t.replace("  ModelDeployRepository:", "  ModelDeploySource:").replace(
                "!GetAtt ModelDeployRepository.", "!GetAtt ModelDeploySource."
            ),
        )
    )
    found = changes(change_set(stack, moved["template_url"]))
    assert (found["ModelDeployRepository"]["Action"], found["ModelDeployRepository"]["PolicyAction"]) == (
        "Remove",
        "Delete",
    )
    assert found["ModelDeploySource"]["Action"] == "Add"
    cloudformation = boto3.client("cloudformation")
    cloudformation.delete_change_set(ChangeSetName="preview", StackName=stack["StackId"])
    current = cloudformation.get_template(StackName=stack["StackId"])["TemplateBody"]
    retyped = current.replace("Type: AWS::S3::BucketPolicy", "Type: AWS::SNS::Topic")
    described = change_set(stack, None, body=retyped)
    assert described["Status"] == "FAILED"
    assert "Update of resource type is not permitted" in described["StatusReason"]
    assert "[ArtifactBucketPolicy]" in described["StatusReason"]


def test_update_project_moves_the_project_to_the_new_artifact(old_and_new):
    project, old, new = old_and_new
    sagemaker, catalog = boto3.client("sagemaker"), boto3.client("servicecatalog")
    sagemaker.update_project(
        ProjectName="demo",
        ServiceCatalogProvisioningUpdateDetails={
            "ProvisioningArtifactId": new["provisioning_artifact_id"],
            "ProvisioningParameters": [{"Key": "StagingMaxConcurrency", "Value": "40"}],
        },
    )
    described = settled(sagemaker, "demo")
    assert described["ProjectStatus"] == "UpdateCompleted"
    assert (
        described["ServiceCatalogProvisioningDetails"]["ProvisioningArtifactId"]
        == new["provisioning_artifact_id"]
    )
    assert described["LastModifiedTime"] >= described["CreationTime"]
    pp_id = described["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"]
    detail = catalog.describe_provisioned_product(Id=pp_id)["ProvisionedProductDetail"]
    assert (detail["Status"], detail["ProvisioningArtifactId"]) == (
        "AVAILABLE",
        new["provisioning_artifact_id"],
    )
    record = catalog.describe_record(Id=detail["LastRecordId"])["RecordDetail"]
    assert (record["RecordType"], record["Status"]) == ("UPDATE_PROVISIONED_PRODUCT", "SUCCEEDED")
    stack = stack_of(described)
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert values["StagingMaxConcurrency"] == "40" and values["SageMakerProjectId"] == project["ProjectId"]


def test_an_update_the_launch_role_may_not_make_rolls_back(aws, tmp_path):
    """The managed launch role may create a repository but not change its description: the update fails on the
    repository, the stack rolls back, and the project stays on its version with the reason."""
    server.prepare_account()
    old = publish(product_version(tmp_path / "old"))
    sagemaker = boto3.client("sagemaker")
    create_project(sagemaker, "demo", old)
    described_text = (
        "RepositoryDescription: !Sub Model deploy code of SageMaker project ${SageMakerProjectName}"
    )
    new = publish(
        product_version(tmp_path / "new", lambda t: t.replace(described_text, described_text + " (deploy)"))
    )
    sagemaker.update_project(
        ProjectName="demo",
        ServiceCatalogProvisioningUpdateDetails={"ProvisioningArtifactId": new["provisioning_artifact_id"]},
    )
    described = settled(sagemaker, "demo")
    assert described["ProjectStatus"] == "UpdateFailed"
    reason = described["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductStatusMessage"]
    assert "not authorized to perform: codecommit:UpdateRepositoryDescription" in reason
    assert "ModelDeployRepository" in reason
    assert (
        described["ServiceCatalogProvisioningDetails"]["ProvisioningArtifactId"]
        == old["provisioning_artifact_id"]
    )
    stack = stack_of(described)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    statuses = [
        (logical, status)
        for logical, status, _ in events_since(boto3.client("cloudformation"), stack["StackId"])
    ]
    assert ("ModelDeployRepository", "UPDATE_FAILED") in statuses
    catalog = boto3.client("servicecatalog")
    pp_id = described["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"]
    detail = catalog.describe_provisioned_product(Id=pp_id)["ProvisionedProductDetail"]
    assert (detail["Status"], detail["ProvisioningArtifactId"]) == (
        "TAINTED",
        old["provisioning_artifact_id"],
    )
    assert catalog.describe_record(Id=detail["LastRecordId"])["RecordDetail"]["Status"] == "FAILED"


def test_update_requests_refused_as_aws_refuses_them(old_and_new):
    project, _, new = old_and_new
    catalog, sagemaker = boto3.client("servicecatalog"), boto3.client("sagemaker")
    pp_id = project["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"]
    with pytest.raises(ClientError, match="Cannot specify usePreviousValue as true and non empty value"):
        catalog.update_provisioned_product(
            ProvisionedProductId=pp_id,
            ProvisioningArtifactId=new["provisioning_artifact_id"],
            ProvisioningParameters=[{"Key": "BranchName", "Value": "main", "UsePreviousValue": True}],
        )
    with pytest.raises(ClientError, match="Project nope does not exist"):
        sagemaker.update_project(ProjectName="nope", ServiceCatalogProvisioningUpdateDetails={})
    assert sagemaker.describe_project(ProjectName="demo")["ProjectStatus"] == "CreateCompleted"
