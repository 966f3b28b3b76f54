"""The product template's wiring, read from the parsed template (cfnlint.decode), and its event patterns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from cfnlint.api import lint_file
from moto.events.models import EventPattern

from smbundle import templates

REPO = Path(__file__).resolve().parents[1]
PRODUCT = REPO / "service_catalog" / "product.yaml"
NAME, PROJECT_ID = "demo", "p-abc123def456"
GROUP = f"{NAME}-{PROJECT_ID}"


@pytest.fixture(scope="module")
def template():
    return templates.load(PRODUCT)


def resources_of(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def substitute(value):
    """Resolve the !Sub / !Ref of a project name, id, region and account in a pattern or name."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        for key, replacement in {
            "SageMakerProjectName": NAME,
            "SageMakerProjectId": PROJECT_ID,
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
        }.items():
            text = text.replace("${" + key + "}", replacement)
        return text
    if isinstance(value, dict) and value.get("Ref") == "BranchName":
        return "main"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"arn:aws:codecommit:us-east-1:123456789012:{value['Fn::GetAtt'][0]}"
    if isinstance(value, dict):
        return {k: substitute(v) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v) for v in value]
    return value


def test_template_has_no_lint_findings():
    assert [f"{m.rule.id} {m.message} line {m.linenumber}" for m in lint_file(PRODUCT)] == []


def test_parameters_sagemaker_fills_and_users_set(template):
    parameters = template["Parameters"]
    name = parameters["SageMakerProjectName"]
    assert (name["MinLength"], name["MaxLength"]) == (1, 32)
    # SageMaker's own pattern: a leading digit is allowed; hyphens only between letters and digits.
    for accepted in ("my-project1", "1project", "a", "a" * 32, "x--y"):
        assert re.fullmatch(name["AllowedPattern"], accepted), accepted
    for refused in ("-x", "x-", "my_project", "a" * 33):
        assert not re.fullmatch(name["AllowedPattern"], refused), refused
    project_id = parameters["SageMakerProjectId"]
    assert project_id["MaxLength"] == 14 and re.fullmatch(project_id["AllowedPattern"], "p-abcdefghijkl")
    assert "SageMakerProjectId" in parameters
    assert parameters["StagingMemorySizeInMB"]["Default"] == 2048
    assert parameters["StagingMaxConcurrency"]["MaxValue"] == 200
    assert parameters["BranchName"]["Default"] == "main"
    assert parameters["ApprovalEmail"]["Default"] == ""
    labelled = set(template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterLabels"])
    assert labelled == set(parameters)


def test_seed_code_location_is_a_mapping_the_publisher_renders(template):
    rendered = templates.render_product(template, "my-bucket", "b.zip", "d.zip")
    assert rendered["Mappings"]["SeedCode"]["S3"] == {
        "Bucket": "my-bucket",
        "BuildKey": "b.zip",
        "DeployKey": "d.zip",
    }
    build_repo = template["Resources"]["ModelBuildRepository"]["Properties"]["Code"]["S3"]
    assert build_repo["Bucket"] == {"Fn::FindInMap": ["SeedCode", "S3", "Bucket"]}


def stages(pipeline):
    return [
        (
            stage["Name"],
            [
                (
                    a["Name"],
                    a["ActionTypeId"]["Provider"],
                    a.get("RunOrder"),
                    [i["Name"] for i in a.get("InputArtifacts", [])],
                    [o["Name"] for o in a.get("OutputArtifacts", [])],
                )
                for a in stage["Actions"]
            ],
        )
        for stage in pipeline["Properties"]["Stages"]
    ]


def test_build_pipeline_stages(template):
    pipeline = template["Resources"]["ModelBuildPipeline"]
    assert pipeline["Properties"]["PipelineType"] == "V2"
    provider = {"Fn::If": ["UseCodeCommit", "CodeCommit", "CodeStarSourceConnection"]}
    assert stages(pipeline) == [
        ("Source", [("ModelBuildWorkflowCode", provider, 1, [], ["ModelBuildSourceArtifact"])]),
        (
            "Build",
            [
                (
                    "BuildAndExecuteSageMakerPipeline",
                    "CodeBuild",
                    1,
                    ["ModelBuildSourceArtifact"],
                    ["ModelBuildBuildArtifact"],
                )
            ],
        ),
    ]


def test_deploy_pipeline_stages_and_exports(template):
    pipeline = template["Resources"]["ModelDeployPipeline"]
    provider = {"Fn::If": ["UseCodeCommit", "CodeCommit", "CodeStarSourceConnection"]}
    assert stages(pipeline) == [
        ("Source", [("ModelDeployInfraCode", provider, 1, [], ["SourceArtifact"])]),
        ("Build", [("BuildDeploymentTemplates", "CodeBuild", 1, ["SourceArtifact"], ["BuildArtifact"])]),
        (
            "DeployStaging",
            [
                ("DeployResourcesStaging", "CloudFormation", 1, ["BuildArtifact"], []),
                ("TestStaging", "CodeBuild", 2, ["SourceArtifact", "BuildArtifact"], ["TestArtifact"]),
                ("ApproveDeployment", "Manual", 3, [], []),
            ],
        ),
        (
            "DeployProd",
            [
                ("DeployResourcesProd", "CloudFormation", 1, ["BuildArtifact"], []),
                ("VerifyProd", "CodeBuild", 2, ["SourceArtifact", "BuildArtifact"], []),
            ],
        ),
    ]
    actions = {a["Name"]: a["Configuration"] for s in pipeline["Properties"]["Stages"] for a in s["Actions"]}
    assert (
        actions["DeployResourcesStaging"]["TemplateConfiguration"]
        == "BuildArtifact::staging-config-export.json"
    )
    assert actions["DeployResourcesProd"]["TemplateConfiguration"] == "BuildArtifact::prod-config-export.json"
    assert (
        actions["DeployResourcesStaging"]["TemplatePath"]
        == actions["DeployResourcesProd"]["TemplatePath"]
        == "BuildArtifact::template-export.yml"
    )
    assert actions["ApproveDeployment"]["NotificationArn"] == {
        "Fn::If": ["HasApprovalEmail", {"Ref": "ApprovalTopic"}, {"Ref": "AWS::NoValue"}]
    }
    assert "passed" in actions["ApproveDeployment"]["CustomData"]["Fn::Sub"]


BUILDSPEC_PROJECTS = {  # build project -> (seed repository, buildspec path in it)
    "ModelBuildProject": ("build", "codebuild-buildspec.yml"),
    "ModelDeployProject": ("deploy", "buildspec.yml"),
    "ModelDeployTestProject": ("deploy", "test/buildspec.yml"),
}
CODEBUILD_VARIABLES = {"CODEBUILD_SRC_DIR", "CODEBUILD_SRC_DIR_BuildArtifact", "HOME", "PATH"}


@pytest.mark.parametrize("project", sorted(BUILDSPEC_PROJECTS))
def test_every_variable_a_buildspec_reads_is_set_by_its_project(template, project):
    properties = template["Resources"][project]["Properties"]
    seed, path = BUILDSPEC_PROJECTS[project]
    assert properties["Source"]["BuildSpec"] == path
    buildspec = yaml.safe_load((REPO / "seed_code" / seed / path).read_text())
    commands = " ".join(c for phase in buildspec["phases"].values() for c in phase.get("commands", []))
    read = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", commands))
    provided = {v["Name"] for v in properties["Environment"]["EnvironmentVariables"]}
    provided |= set((buildspec.get("env") or {}).get("variables", {})) | CODEBUILD_VARIABLES
    assert read - provided == set()
    assert properties["Environment"]["Image"] == "aws/codebuild/amazonlinux-x86_64-standard:5.0"


def test_build_project_passes_the_project_s_training_data_to_run_pipeline(template):
    variables = {
        v["Name"]: v["Value"]
        for v in template["Resources"]["ModelBuildProject"]["Properties"]["Environment"][
            "EnvironmentVariables"
        ]
    }
    assert variables["INPUT_DATA_URL"] == {"Ref": "InputDataUrl"}
    assert template["Parameters"]["InputDataUrl"]["Default"] == ""
    assert 'os.environ.get("INPUT_DATA_URL")' in (REPO / "seed_code/build/pipelines/cli.py").read_text()


def test_deploy_project_passes_the_project_stage_choices(template):
    variables = {
        v["Name"]: v["Value"]
        for v in template["Resources"]["ModelDeployProject"]["Properties"]["Environment"][
            "EnvironmentVariables"
        ]
    }
    assert variables["STAGING_MEMORY_SIZE_MB"] == {"Ref": "StagingMemorySizeInMB"}
    assert variables["PROD_INSTANCE_TYPE"] == {"Ref": "ProdInstanceType"}
    build_py = (REPO / "seed_code" / "deploy" / "build.py").read_text()
    for name in (
        "STAGING_MEMORY_SIZE_MB",
        "STAGING_MAX_CONCURRENCY",
        "STAGING_PROVISIONED_CONCURRENCY",
        "PROD_INSTANCE_TYPE",
        "PROD_INSTANCE_COUNT",
        "PROD_SAMPLING_PERCENTAGE",
    ):
        assert name in variables and f'"{name}"' in build_py


def event(source, detail_type, detail, resources=()):
    return {
        "version": "0",
        "id": "1",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-28T00:00:00Z",
        "region": "us-east-1",
        "resources": list(resources),
        "detail": detail,
    }


def pattern(template, rule):
    return EventPattern.load(
        json.dumps(substitute(template["Resources"][rule]["Properties"]["EventPattern"]))
    )


def package_event(status, group=GROUP):
    return event(
        "aws.sagemaker",
        "SageMaker Model Package State Change",
        {"ModelPackageGroupName": group, "ModelApprovalStatus": status, "ModelPackageVersion": 3},
    )


def test_approval_rule_matches_approvals_and_rejections_only(template):
    rule = pattern(template, "ModelApprovalRule")
    assert rule.matches_event(package_event("Approved"))
    assert rule.matches_event(package_event("Rejected"))
    assert not rule.matches_event(package_event("PendingManualApproval"))
    assert not rule.matches_event(package_event("Approved", group="other-p-999"))


def push(event_name, branch="main", repo="ModelBuildRepository"):
    return event(
        "aws.codecommit",
        "CodeCommit Repository State Change",
        {"event": event_name, "referenceType": "branch", "referenceName": branch},
        resources=[f"arn:aws:codecommit:us-east-1:123456789012:{repo}"],
    )


@pytest.mark.parametrize(
    ("rule", "repo"),
    [("ModelBuildPushRule", "ModelBuildRepository"), ("ModelDeployPushRule", "ModelDeployRepository")],
)
def test_push_rules(template, rule, repo):
    compiled = pattern(template, rule)
    assert compiled.matches_event(push("referenceCreated", repo=repo))
    assert compiled.matches_event(push("referenceUpdated", repo=repo))
    assert not compiled.matches_event(push("referenceDeleted", repo=repo))
    assert not compiled.matches_event(push("referenceUpdated", branch="feature", repo=repo))
    other = "ModelDeployRepository" if repo == "ModelBuildRepository" else "ModelBuildRepository"
    assert not compiled.matches_event(push("referenceUpdated", repo=other))


def test_rules_target_the_right_pipelines_with_the_events_role(template):
    targets = {
        name: r["Properties"]["Targets"][0] for name, r in resources_of(template, "AWS::Events::Rule").items()
    }
    assert "${ModelBuildPipeline}" in targets["ModelBuildPushRule"]["Arn"]["Fn::Sub"]
    assert "${ModelDeployPipeline}" in targets["ModelDeployPushRule"]["Arn"]["Fn::Sub"]
    assert "${ModelDeployPipeline}" in targets["ModelApprovalRule"]["Arn"]["Fn::Sub"]
    for target in targets.values():
        assert "AmazonSageMakerServiceCatalogProductsEventsRole" in json.dumps(target["RoleArn"])


def test_bucket_hardening(template):
    bucket = template["Resources"]["ArtifactBucket"]
    properties = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(properties["PublicAccessBlockConfiguration"]) == 4
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    # The managed launch role may not set these (s3:PutBucketVersioning, s3:PutLifecycleConfiguration,
    # s3:PutBucketOwnershipControls): a bucket asking for them fails project creation.
    assert not {"VersioningConfiguration", "LifecycleConfiguration", "OwnershipControls"} & set(properties)
    statement = template["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def test_no_iam_in_the_product_stack_and_one_role_per_service(template):
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::IAM::")]
    text = PRODUCT.read_text()
    for role in ("CodeBuild", "CodePipeline", "Events", "Cloudformation", "Execution"):
        assert f"AmazonSageMakerServiceCatalogProducts{role}Role" in text
    assert "AmazonSageMakerServiceCatalogProductsUseRole" not in text


def test_outputs(template):
    assert set(template["Outputs"]) == {
        "ModelBuildRepositoryCloneUrl",
        "ModelDeployRepositoryCloneUrl",
        "ModelBuildPipelineName",
        "ModelDeployPipelineName",
        "ArtifactBucketName",
        "ModelPackageGroupName",
        "StagingEndpointName",
        "ProdEndpointName",
        "DataQualityCheckPipelineName",
        "DataQualityCheckSageMakerPipelineName",
    }
