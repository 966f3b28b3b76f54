"""Rolling a new version out to existing projects (smbundle/project_updates.py, scripts/update_projects.py): each
project previewed as CloudFormation will update it, stateful replacements refused unless allowed, the others
updated and reported; and the product stays update-safe from its previous published version."""

from __future__ import annotations

import importlib.util
import json
import shlex

import boto3
import pytest

from smbundle.local import server
from smbundle.project_updates import RolloutOptions, roll_out
from smbundle.validation import UsageError
from tests._in_process import run_script
from tests._update_helpers import (
    PREVIOUS_VERSION,
    REPO,
    change,
    create_project,
    events_since,
    plan_of,
    previous_release,
    product_version,
    publish,
    rollout,
    stack_of,
)
from tests.test_bad_input_local import environment, one_line

OLD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:4.0"
IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
BUCKET = "BucketName: !Sub sagemaker-project-${SageMakerProjectId}"


def older_image(template: str) -> str:
    return template.replace(IMAGE, OLD_IMAGE)


def renamed_bucket(template: str) -> str:
    return template.replace(BUCKET, BUCKET + "-artifacts")


def update_projects_script():
    """scripts/update_projects.py as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(
        "update_projects_script", REPO / "scripts" / "update_projects.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def account(aws):
    server.prepare_account()
    return boto3.client("sagemaker")


def test_a_codebuild_image_change_updates_every_project_in_place(account, tmp_path):
    old = publish(product_version(tmp_path / "old", older_image))
    for name in ("alpha", "beta"):
        create_project(account, name, old)
    new = publish(product_version(tmp_path / "new"))
    report, events = rollout()
    assert (report.target_artifact_id, report.target_is_newest) == (new["provisioning_artifact_id"], True)
    assert [(p.name, p.outcome) for p in report.projects] == [("alpha", "updated"), ("beta", "updated")]
    build = change(plan_of(report, "alpha"), "ModelBuildProject")
    assert (build.action, build.replacement, build.causes()) == ("Modify", "False", ["Environment"])
    assert not plan_of(report, "alpha").losses
    # Each project is reported as it goes: previewed, started, finished.
    assert [e for e in events if e[1] == "alpha"] == [
        ("preview", "alpha"),
        ("updating", "alpha"),
        ("finished", "alpha"),
    ]
    for name in ("alpha", "beta"):
        described = account.describe_project(ProjectName=name)
        assert described["ProjectStatus"] == "UpdateCompleted"
        assert (
            described["ServiceCatalogProvisioningDetails"]["ProvisioningArtifactId"]
            == new["provisioning_artifact_id"]
        )
        project_id = described["ProjectId"]
        (built,) = boto3.client("codebuild").batch_get_projects(
            names=[f"sagemaker-{name}-{project_id}-modelbuild"]
        )["projects"]
        assert built["environment"]["image"] == IMAGE
    again, _ = rollout()
    assert [p.outcome for p in again.projects] == ["up to date", "up to date"]


def test_a_renamed_bucket_is_a_stateful_replacement_and_the_project_is_skipped(account, tmp_path):
    project = create_project(account, "alpha", publish(product_version(tmp_path / "old")))
    publish(product_version(tmp_path / "new", renamed_bucket))
    stack = stack_of(project)
    report, _ = rollout()
    plan = plan_of(report, "alpha")
    bucket = change(plan, "ArtifactBucket")
    assert (bucket.replacement, bucket.causes(recreating=True), bucket.stateful) == (
        "True",
        ["BucketName"],
        True,
    )
    assert "a new, empty one; the old one is kept with its objects" in bucket.loss
    assert plan.outcome == "skipped"
    assert "ArtifactBucket (AWS::S3::Bucket)" in plan.reason and "--allow-replacement" in plan.reason
    # Nothing happened to the project.
    assert account.describe_project(ProjectName="alpha")["ProjectStatus"] == "CreateCompleted"
    cloudformation = boto3.client("cloudformation")
    assert events_since(cloudformation, stack["StackId"]) == []
    assert (
        cloudformation.list_change_sets(StackName=stack["StackId"])["Summaries"] == []
    )  # the preview is gone
    # docs/publish.md shows this preview as the command prints it.
    docs = (REPO / "docs" / "publish.md").read_text()
    script = update_projects_script()
    for line in [script.change_line(c) for c in plan.changes] + [f"  skipped: {plan.reason}"]:
        assert line in docs


def test_allow_replacement_updates_into_a_new_bucket_and_keeps_the_old_one(account, tmp_path):
    project = create_project(account, "alpha", publish(product_version(tmp_path / "old")))
    publish(product_version(tmp_path / "new", renamed_bucket))
    report, _ = rollout(allow_replacement=True)
    assert plan_of(report, "alpha").outcome == "updated"
    s3 = boto3.client("s3")
    old_bucket = f"sagemaker-project-{project['ProjectId']}"
    s3.head_bucket(Bucket=old_bucket)  # retained (UpdateReplacePolicy: Retain)
    s3.head_bucket(Bucket=old_bucket + "-artifacts")
    pipeline = boto3.client("codepipeline").get_pipeline(
        name=f"sagemaker-alpha-{project['ProjectId']}-modelbuild"
    )
    assert pipeline["pipeline"]["artifactStore"]["location"] == old_bucket + "-artifacts"


def test_a_dry_run_previews_and_changes_nothing(account, tmp_path):
    project = create_project(account, "alpha", publish(product_version(tmp_path / "old", older_image)))
    create_project(account, "beta", publish(product_version(tmp_path / "renamed", renamed_bucket)))
    publish(product_version(tmp_path / "new"))
    report, _ = rollout(dry_run=True)
    alpha, beta = plan_of(report, "alpha"), plan_of(report, "beta")
    assert (alpha.outcome, alpha.reason) == ("previewed", None)  # would update
    assert beta.outcome == "previewed" and "ArtifactBucket" in beta.reason  # would skip: back to the old name
    cloudformation = boto3.client("cloudformation")
    assert events_since(cloudformation, stack_of(project)["StackId"]) == []
    assert account.describe_project(ProjectName="alpha")["ProjectStatus"] == "CreateCompleted"


def test_parameters_keep_their_values_new_ones_take_defaults_removed_ones_go(account, tmp_path):
    legacy = "  LegacyNote:\n    Type: String\n    Default: none\n"
    old = publish(
        product_version(tmp_path / "old", lambda t: t.replace("Parameters:\n", "Parameters:\n" + legacy, 1))
    )
    create_project(account, "alpha", old, {"StagingMemorySizeInMB": "1024"})

    def with_compute_parameter(template: str) -> str:
        spec = "  BuildComputeType:\n    Type: String\n    Default: BUILD_GENERAL1_SMALL\n"
        template = template.replace("Parameters:\n", "Parameters:\n" + spec, 1)
        return template.replace(
            "ComputeType: BUILD_GENERAL1_SMALL\n        Image: aws/codebuild/amazonlinux-x86_64-standard:5.0\n        EnvironmentVariables:\n          - Name: SAGEMAKER_PROJECT_NAME\n            Value: !Ref SageMakerProjectName\n          - Name: SAGEMAKER_PROJECT_ID\n            Value: !Ref SageMakerProjectId\n          - Name: SAGEMAKER_PROJECT_ARN",
            "ComputeType: !Ref BuildComputeType\n        Image: aws/codebuild/amazonlinux-x86_64-standard:5.0\n        EnvironmentVariables:\n          - Name: SAGEMAKER_PROJECT_NAME\n            Value: !Ref SageMakerProjectName\n          - Name: SAGEMAKER_PROJECT_ID\n            Value: !Ref SageMakerProjectId\n          - Name: SAGEMAKER_PROJECT_ARN",
            1,
        )

    publish(product_version(tmp_path / "new", with_compute_parameter))
    report, _ = rollout(parameters={"StagingMaxConcurrency": "50"})
    plan = plan_of(report, "alpha")
    assert plan.outcome == "updated", plan.reason
    assert plan.parameters.added == {"BuildComputeType": "BUILD_GENERAL1_SMALL"}
    assert plan.parameters.dropped == ["LegacyNote"]
    assert plan.parameters.overridden == {"StagingMaxConcurrency": "50"}
    deploy = change(plan, "ModelDeployProject")
    assert {(d["ChangeSource"], d.get("CausingEntity")) for d in deploy.details} == {
        ("ParameterReference", "StagingMaxConcurrency")
    }
    stack = stack_of(account.describe_project(ProjectName="alpha"))
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert values["StagingMemorySizeInMB"] == "1024"  # the project's choice survives the update
    assert values["StagingMaxConcurrency"] == "50" and values["BuildComputeType"] == "BUILD_GENERAL1_SMALL"
    assert "LegacyNote" not in values


def test_an_update_that_fails_is_reported_with_the_stack_s_reason(account, tmp_path):
    create_project(account, "alpha", publish(product_version(tmp_path / "old")))
    text = "RepositoryDescription: !Sub Model deploy code of SageMaker project ${SageMakerProjectName}"
    publish(product_version(tmp_path / "new", lambda t: t.replace(text, text + " (deploy)")))
    report, _ = rollout()
    plan = plan_of(report, "alpha")
    assert report.failed and plan.outcome == "failed"
    assert "codecommit:UpdateRepositoryDescription" in plan.reason and "UpdateFailed" in plan.reason
    assert plan.stack_status == "UPDATE_ROLLBACK_COMPLETE"
    assert plan.current_version != plan.target_version  # still on the version it had


def test_bad_input_is_refused_before_anything_is_done(account, tmp_path):
    create_project(account, "alpha", publish(product_version(tmp_path / "old")))
    with pytest.raises(UsageError, match="--to-version v-000000000000: the product has no such version"):
        rollout(to_version="v-000000000000")
    with pytest.raises(UsageError, match="--parameter Nope: version v-.* has no such parameter"):
        rollout(parameters={"Nope": "1"})
    with pytest.raises(UsageError, match="--parameter SageMakerProjectId: SageMaker sets it"):
        rollout(parameters={"SageMakerProjectId": "p-1"})
    with pytest.raises(UsageError, match="--project-name ghost: no such project"):
        rollout(project_names=["ghost"])
    with pytest.raises(UsageError, match="no Service Catalog product named 'Other'"):
        rollout(product_name="Other")


def test_the_command_reports_each_project_and_the_json(account, tmp_path):
    old = publish(product_version(tmp_path / "old", older_image))
    create_project(account, "cmd-one", old)
    new = publish(product_version(tmp_path / "new"))
    preview = command(None, "--project-name", "cmd-one", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    lines = preview.stdout.splitlines()
    assert lines[0].startswith("product 'MLOps template") and f"target {new['version']}" in lines[0]
    assert any(
        line.split()[:2] == ["Modify", "ModelBuildProject"] and "in place (Environment)" in line
        for line in lines
    )
    assert "  would update" in lines
    assert (
        lines[-1]
        == "dry run: 1 would be updated, 0 would be skipped, 0 up to date, 0 failed; nothing was changed"
    )
    run = command(None, "--project-name", "cmd-one", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    (project,) = report["projects"]
    assert (project["outcome"], project["current"]["version"]) == ("updated", new["version"])
    assert any(
        line.startswith(f"cmd-one: updated to {new['version']} in ") for line in run.stderr.splitlines()
    )
    assert run.stderr.splitlines()[-1] == "summary: 1 updated, 0 skipped, 0 failed, 0 up to date"


def test_the_command_exits_1_when_an_update_fails(account, tmp_path):
    text = "RepositoryDescription: !Sub Model deploy code of SageMaker project ${SageMakerProjectName}"
    base = publish(product_version(tmp_path / "base"))
    create_project(account, "cmd-two", base)
    publish(product_version(tmp_path / "new", lambda t: t.replace(text, text + " (deploy)")))
    run = command(None, "--project-name", "cmd-two")
    assert run.returncode == 1, run.stderr
    assert any(line.startswith("cmd-two: FAILED: UpdateFailed: ") for line in run.stdout.splitlines())
    assert run.stdout.splitlines()[-1] == "summary: 0 updated, 0 skipped, 1 failed, 0 up to date"


def test_the_publisher_prints_the_commands_that_roll_its_version_out(account, tmp_path):
    from smbundle.publish import rollout as rollout_commands

    result = publish(product_version(tmp_path / "v"))
    script = update_projects_script()
    preview = shlex.split(result["rollout"]["preview"])
    assert preview[:2] == [".venv/bin/python", "scripts/update_projects.py"]
    parsed = script.parse_args(preview[2:])
    assert (parsed.to_version, parsed.dry_run) == (result["version"], True)
    named = shlex.split(rollout_commands("Team's product", "v-123456789abc")["update"])
    parsed = script.parse_args(named[2:])
    assert (parsed.product_name, parsed.to_version, parsed.dry_run) == (
        "Team's product",
        "v-123456789abc",
        False,
    )


# -- the command (its mistakes against a running embedded AWS) ----------------------------------------------
# (The in-process tests come before the module's server starts: an in-process test's end resets moto's backends,
# the running server's too.)
@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        yield aws


def command(embedded, *args):
    """update_projects.py against a running embedded AWS, or (``embedded`` None) the in-process one: projects made
    there start no pipeline (in a running one each would run a model build that a rollout does not look at)."""
    endpoint = {"AWS_ENDPOINT_URL": embedded.url} if embedded is not None else {}
    return run_script("update_projects.py", *args, env=environment(**endpoint))


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--project-name", "bad_name"], 2, "is not a valid SageMaker project name"),
        (["--parameter", "NoEquals"], 2, "--parameter 'NoEquals' is not KEY=VALUE"),
        (["--to-version", "v 1"], 2, "--to-version 'v 1' is not a version label"),
        (["--wait-seconds", "0"], 2, "--wait-seconds must be positive"),
        (["--region", "mars-1"], 2, "--region mars-1 is not an AWS Region"),
        (["--product-name", "Nothing here"], 2, "no Service Catalog product named 'Nothing here'"),
    ],
)
def test_command_line_mistakes_are_one_line(embedded, args, code, fragment):
    one_line(command(embedded, *args), code, fragment)


# -- the product stays update-safe ----------------------------------------------------------------------------
def test_a_project_of_the_previous_version_updates_safely_and_its_pipelines_still_work(
    embedded, tmp_path, existing_customer
):
    """A project created from the previous published version (frozen in tests/fixtures/previous_version), with
    a model in prod, is updated to the current version under the managed launch role: nothing stateful is
    replaced, the repositories keep their commits and the bucket its objects, and afterwards a build (on the old
    seed code the repositories hold) and a deploy of its model to staging and prod succeed. The account is an
    existing Model Monitor customer's, as every account that ran a project of that version was (its build's
    QualityCheckStep runs the Model Monitor image, and its prod stack has a monitoring schedule)."""
    from smbundle.local.codepipeline import watch
    from smbundle.local.lifecycle import LocalRunOptions, review_package, run_lifecycle
    from smbundle.publish import DEFAULT_PRODUCT_NAME, build_content

    previous = previous_release(tmp_path / "previous")
    assert (
        build_content(previous, DEFAULT_PRODUCT_NAME, "any").version == PREVIOUS_VERSION
    )  # as it was published
    options = LocalRunOptions(
        workdir=tmp_path / "work", project_name="safe-update", endpoint_url=embedded.url, repo_root=previous
    )
    before = run_lifecycle(options, lambda *args: None)
    project_id = before["project"]["ProjectId"]
    prefix = f"sagemaker-safe-update-{project_id}"
    codecommit, s3, sagemaker = (embedded.client(s) for s in ("codecommit", "s3", "sagemaker"))
    repositories = [f"{prefix}-modelbuild", f"{prefix}-modeldeploy"]
    commits = [
        codecommit.get_branch(repositoryName=r, branchName="main")["branch"]["commitId"] for r in repositories
    ]
    bucket = f"sagemaker-project-{project_id}"
    objects = s3.list_objects_v2(Bucket=bucket)["KeyCount"]
    assert objects > 0

    session = boto3.session.Session(region_name="us-east-1")
    current = publish(REPO, session, embedded.url)
    assert current["version"] != PREVIOUS_VERSION
    report = roll_out(
        RolloutOptions(project_names=["safe-update"], region="us-east-1", endpoint_url=embedded.url), session
    )
    (plan,) = report.projects
    assert (plan.outcome, plan.current_version) == ("updated", current["version"]), plan.reason
    assert plan.stack_status == "UPDATE_COMPLETE"
    assert not [c for c in plan.changes if c.stateful and c.action != "Modify"]
    assert not [c for c in plan.changes if c.stateful and c.replacement != "False"]
    assert plan.losses == []
    deleted = [
        logical
        for logical, status, _ in events_since(embedded.client("cloudformation"), plan.stack)
        if status.startswith("DELETE")
    ]
    assert deleted == []
    assert [
        codecommit.get_branch(repositoryName=r, branchName="main")["branch"]["commitId"] for r in repositories
    ] == commits
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] >= objects

    # A build after the update (a re-run, as a push to the build repository would start it) registers a model...
    codepipeline = embedded.client("codepipeline")
    execution = codepipeline.start_pipeline_execution(name=f"{prefix}-modelbuild")["pipelineExecutionId"]
    built = watch.watch(codepipeline, f"{prefix}-modelbuild", execution, lambda *args: None)
    assert built.status == "Succeeded", built.failed_action
    newest = sagemaker.list_model_packages(
        ModelPackageGroupName=f"safe-update-{project_id}", SortBy="CreationTime", SortOrder="Descending"
    )["ModelPackageSummaryList"][0]["ModelPackageArn"]
    assert newest != before["model_package"]["ModelPackageArn"]
    # ... and approving it deploys it to staging and prod through the updated deploy pipeline.
    deploys = review_package(options, lambda *args: None, newest, "Approved")
    assert [d.status for d in deploys] == ["Succeeded"], [d.failed_action for d in deploys]
    for endpoint in ("safe-update-staging", "safe-update-prod"):
        config = sagemaker.describe_endpoint_config(
            EndpointConfigName=sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        )
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        assert model["PrimaryContainer"]["ModelPackageName"] == newest
