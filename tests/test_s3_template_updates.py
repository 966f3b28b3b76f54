"""Rolling a new version out to projects created from S3 project templates (smbundle/template_project_updates.py,
scripts/update_projects.py): the new version is the template now at the project's TemplateURL (or --template-url);
each project's SP-* stack is previewed with a change set, stateful losses are refused unless allowed, the others are
updated with UpdateProject's TemplateProvidersToUpdate and followed to UpdateCompleted; --project-name finds each
project's product or template by itself."""

from __future__ import annotations

import json
import shlex
import uuid

import boto3
import pytest

from smbundle import publish as publishing
from smbundle.local import server
from smbundle.local.sagemaker.studio_domain import prepare_domain
from smbundle.validation import UsageError
from tests._in_process import run_script
from tests._update_helpers import (
    change,
    create_project,
    events_since,
    plan_of,
    product_version,
    publish,
    rollout,
)
from tests.test_bad_input_local import environment, one_line
from tests.test_s3_template_projects import ACCOUNT, BUCKET, REGION, SMALL_TEMPLATE, launch_role

TAGGED = SMALL_TEMPLATE.replace(
    "        - {Key: purpose, Value: !Ref Purpose}\n",
    "        - {Key: purpose, Value: !Ref Purpose}\n        - {Key: tier, Value: gold}\n",
)
RENAMED = SMALL_TEMPLATE.replace(
    "BucketName: !Sub sagemaker-project-${SageMakerProjectId}",
    "BucketName: !Sub sagemaker-project-${SageMakerProjectId}-v2",
)
VERSIONED = SMALL_TEMPLATE.replace('Versioning, "true"]', 'Versioning, "false"]')  # the launch role may not


class _InProcess:
    """The in-process embedded AWS as the shared helpers expect it (``client(service)``)."""

    client = staticmethod(boto3.client)


@pytest.fixture
def account(aws):
    roles = server.prepare_account()
    domain = prepare_domain(boto3.client("sagemaker"), roles[server.STUDIO_EXECUTION_ROLE_NAME])
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("sagemaker").add_tags(
        ResourceArn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:domain/{domain}",
        Tags=[{"Key": "sagemaker:projectS3TemplatesLocation", "Value": f"s3://{BUCKET}/templates/"}],
    )
    return launch_role(_InProcess())


def put_template(body: str, key: str | None = None, client=None) -> str:
    """Write a version of a template (tagged for Studio) at ``key``, as publish_product.py --target s3 does."""
    s3 = client or boto3.client("s3")
    key = key or f"templates/t-{uuid.uuid4().hex[:8]}.yaml"
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())
    s3.put_object_tagging(
        Bucket=BUCKET, Key=key, Tagging={"TagSet": [{"Key": "sagemaker:studio-visibility", "Value": "true"}]}
    )
    return f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{key}"


def key_of(url: str) -> str:
    return url.split(".amazonaws.com/", 1)[1]


def create(sagemaker, name: str, url: str, role: str, **parameters) -> dict:
    sagemaker.create_project(
        ProjectName=name,
        TemplateProviders=[
            {
                "CfnTemplateProvider": {
                    "TemplateName": "small",
                    "TemplateURL": url,
                    "RoleARN": role,
                    "Parameters": [{"Key": k, "Value": v} for k, v in parameters.items()],
                }
            }
        ],
    )
    project = sagemaker.describe_project(ProjectName=name)
    assert project["ProjectStatus"] == "CreateCompleted", project
    return project


def detail(project: dict) -> dict:
    return project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]


# -- in process -------------------------------------------------------------------------------------------------
def test_a_dry_run_previews_the_new_template_at_the_project_s_url_and_changes_nothing(account):
    sagemaker, cloudformation = boto3.client("sagemaker"), boto3.client("cloudformation")
    url = put_template(SMALL_TEMPLATE)
    project = create(sagemaker, "alpha", url, account, Purpose="first")
    put_template(TAGGED, key_of(url))  # the new version, where the publisher writes it
    report, events = rollout(project_names=["alpha"], dry_run=True)
    assert report.product_id is None and [(t.url, t.projects) for t in report.templates] == [(url, 1)]
    plan = plan_of(report, "alpha")
    assert (plan.kind, plan.outcome, plan.reason) == ("s3", "previewed", None)  # a real run would update it
    assert plan.current_version.startswith("sha256:") and plan.target_version.startswith("sha256:")
    assert plan.current_version != plan.target_version
    bucket = change(plan, "ArtifactBucket")
    assert (bucket.action, bucket.replacement, bucket.causes()) == ("Modify", "False", ["Tags"])
    assert plan.parameters.kept == ["Purpose", "Versioning"] and plan.parameters.values["Purpose"] == "first"
    assert events == [("target", None), ("preview", "alpha")]
    stack = detail(project)["StackDetail"]["Id"]
    assert events_since(cloudformation, stack) == []
    assert cloudformation.list_change_sets(StackName=stack)["Summaries"] == []  # the preview is gone
    assert sagemaker.describe_project(ProjectName="alpha")["ProjectStatus"] == "CreateCompleted"


def test_an_update_is_applied_through_template_providers_and_ends_update_completed(account):
    sagemaker = boto3.client("sagemaker")
    url = put_template(SMALL_TEMPLATE)
    project = create(sagemaker, "alpha", url, account, Purpose="first")
    put_template(TAGGED, key_of(url))
    report, events = rollout(project_names=["alpha"])
    plan = plan_of(report, "alpha")
    assert plan.outcome == "updated", plan.reason
    assert (plan.current_version, plan.project_status, plan.stack_status) == (
        plan.target_version,
        "UpdateCompleted",
        "UPDATE_COMPLETE",
    )
    assert [e for e in events if e[1] == "alpha"] == [
        ("preview", "alpha"),
        ("updating", "alpha"),
        ("finished", "alpha"),
    ]
    described = sagemaker.describe_project(ProjectName="alpha")
    assert described["ProjectStatus"] == "UpdateCompleted"
    assert detail(described)["TemplateURL"] == url
    assert detail(described)["Parameters"] == [
        {"Key": "Purpose", "Value": "first"},  # the project's values survive the update
        {"Key": "Versioning", "Value": "false"},
    ]
    tags = boto3.client("s3").get_bucket_tagging(Bucket=f"sagemaker-project-{project['ProjectId']}")["TagSet"]
    assert {"Key": "tier", "Value": "gold"} in tags and {"Key": "purpose", "Value": "first"} in tags
    again, _ = rollout(project_names=["alpha"])
    assert [p.outcome for p in again.projects] == ["up to date"]


def test_a_renamed_bucket_is_refused_unless_replacement_is_allowed(account):
    sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")
    url = put_template(SMALL_TEMPLATE)
    project = create(sagemaker, "alpha", url, account)
    put_template(RENAMED, key_of(url))
    report, _ = rollout(template_url=url)
    plan = plan_of(report, "alpha")
    bucket = change(plan, "ArtifactBucket")
    assert (bucket.replacement, bucket.causes(recreating=True), bucket.stateful) == (
        "True",
        ["BucketName"],
        True,
    )
    assert plan.outcome == "skipped"
    assert plan.reason.startswith(
        "ArtifactBucket (AWS::S3::Bucket): the bucket is replaced by a new, empty one"
    )
    assert plan.reason.endswith("Pass --allow-replacement to update anyway")
    assert sagemaker.describe_project(ProjectName="alpha")["ProjectStatus"] == "CreateCompleted"
    assert events_since(boto3.client("cloudformation"), detail(project)["StackDetail"]["Id"]) == []
    report, _ = rollout(template_url=url, allow_replacement=True)
    assert plan_of(report, "alpha").outcome == "updated", plan_of(report, "alpha").reason
    s3.head_bucket(Bucket=f"sagemaker-project-{project['ProjectId']}-v2")


def test_template_url_chooses_its_projects_or_moves_named_ones_to_another_template(account):
    sagemaker = boto3.client("sagemaker")
    first, second = put_template(SMALL_TEMPLATE), put_template(SMALL_TEMPLATE)
    for name, url in (("alpha", first), ("beta", first), ("gamma", second)):
        create(sagemaker, name, url, account)
    put_template(TAGGED, key_of(first))
    report, _ = rollout(template_url=first, dry_run=True)
    assert sorted((p.name, p.outcome) for p in report.projects) == [
        ("alpha", "previewed"),
        ("beta", "previewed"),
    ]
    moved = put_template(TAGGED)
    report, _ = rollout(project_names=["gamma"], template_url=moved)
    plan = plan_of(report, "gamma")
    assert (plan.outcome, plan.current_template_url, plan.target_template_url) == ("updated", moved, moved)
    assert detail(sagemaker.describe_project(ProjectName="gamma"))["TemplateURL"] == moved


def test_an_update_the_stack_s_role_may_not_make_is_reported_failed(account):
    sagemaker = boto3.client("sagemaker")
    url = put_template(SMALL_TEMPLATE)
    create(sagemaker, "alpha", url, account)
    put_template(VERSIONED, key_of(url))
    report, _ = rollout(project_names=["alpha"])
    plan = plan_of(report, "alpha")
    assert report.failed and plan.outcome == "failed"
    assert plan.reason.startswith("UpdateFailed: UPDATE_ROLLBACK_COMPLETE: ArtifactBucket: ")
    assert "s3:PutBucketVersioning" in plan.reason
    assert plan.current_version != plan.target_version and plan.stack_status == "UPDATE_ROLLBACK_COMPLETE"


def test_bad_input_is_refused_before_anything_is_done(account):
    sagemaker = boto3.client("sagemaker")
    url = put_template(SMALL_TEMPLATE)
    create(sagemaker, "alpha", url, account)
    with pytest.raises(
        UsageError, match=r"--parameter Colour: the template https://\S+ has no such parameter"
    ):
        rollout(project_names=["alpha"], parameters={"Colour": "blue"})
    with pytest.raises(UsageError, match="--to-version names a version of a Service Catalog product"):
        rollout(project_names=["alpha"], to_version="v-000000000000")
    with pytest.raises(UsageError, match="--product-name and --template-url choose different projects"):
        rollout(template_url=url, product_name="Other")
    report, _ = rollout(template_url=put_template(SMALL_TEMPLATE))  # a template no project was created from
    assert report.projects == [] and report.templates[0].projects == 0
    assert sagemaker.describe_project(ProjectName="alpha")["ProjectStatus"] == "CreateCompleted"


# -- the command, for both kinds of project (its mistakes against a running embedded AWS) ----------------------
# (The in-process test comes before the module's server starts: an in-process test's end resets moto's backends,
# the running server's too.)
@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        aws.client("s3").create_bucket(Bucket=BUCKET)
        aws.launch_role = launch_role(aws)
        yield aws


def command(embedded, *args):
    endpoint = {"AWS_ENDPOINT_URL": embedded.url} if embedded.url else {}
    return run_script("update_projects.py", *args, env=environment(**endpoint))


def publish_s3(embedded, root) -> dict:
    options = publishing.PublishOptions(
        repo_root=root,
        target="s3",
        domain_id=embedded.domain_id,
        bucket=BUCKET,
        region=REGION,
        endpoint_url=embedded.url,
        skip_permission_check=True,
    )
    return publishing.publish(options)


OLDER_IMAGE = ("amazonlinux-x86_64-standard:5.0", "amazonlinux-x86_64-standard:4.0")


@pytest.fixture
def in_process(aws):
    """The in-process embedded AWS with the domain, bucket and launch role ``embedded`` has. Projects created in it
    start no pipeline: in a running one they would each run a model build that the rollout does not look at."""
    roles = server.prepare_account()
    aws = _InProcess()
    aws.url = None
    aws.domain_id = prepare_domain(boto3.client("sagemaker"), roles[server.STUDIO_EXECUTION_ROLE_NAME])
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    aws.launch_role = launch_role(aws)
    return aws


def test_project_name_finds_each_project_s_product_or_template(in_process, tmp_path):
    """Two projects, one from the Service Catalog product and one from the S3 template, each created from an older
    version: named without --product-name, each is previewed against its own product's or template's new version,
    then both are updated."""
    session = boto3.session.Session(region_name=REGION)
    older = product_version(tmp_path / "old", lambda t: t.replace(*OLDER_IMAGE))
    old = publish(older, session, in_process.url)
    create_project(in_process.client("sagemaker"), "from-catalog", old)
    old_s3 = publish_s3(in_process, older)
    in_process.client("sagemaker").create_project(
        ProjectName="from-s3",
        TemplateProviders=[
            {
                "CfnTemplateProvider": {
                    "TemplateName": "mlops",
                    "TemplateURL": old_s3["template_url"],
                    "RoleARN": in_process.launch_role,
                }
            }
        ],
    )
    assert in_process.client("sagemaker").describe_project(ProjectName="from-s3")["ProjectStatus"] == (
        "CreateCompleted"
    )
    new = publish(product_version(tmp_path / "new"), session, in_process.url)
    new_s3 = publish_s3(in_process, tmp_path / "new")
    assert new_s3["template_url"] == old_s3["template_url"]  # each version is written to the same object
    # the publisher's rollout commands for the S3 path, as it prints them, work as written
    rollout = shlex.split(new_s3["rollout"]["preview"])
    assert rollout[:2] == [".venv/bin/python", "scripts/update_projects.py"]
    as_printed = command(in_process, *rollout[2:])
    assert as_printed.returncode == 0, as_printed.stderr
    assert f"template {new_s3['template_url']}: target {new_s3['version']}; 1 project(s)" in as_printed.stdout

    preview = command(in_process, "--project-name", "from-catalog", "--project-name", "from-s3", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    lines = preview.stdout.splitlines()
    assert lines[0].startswith("product 'MLOps template") and f"target {new['version']}" in lines[0]
    assert lines[0].endswith("; 1 project(s)")
    assert lines[1] == f"template {new_s3['template_url']}: target {new_s3['version']}; 1 project(s)"
    assert any(
        line.startswith("from-s3 (p-") and f"{old_s3['version']} -> {new_s3['version']}" in line
        for line in lines
    )
    build_changes = [line for line in lines if line.split()[:2] == ["Modify", "ModelBuildProject"]]
    assert len(build_changes) == 2 and all("in place (Environment)" in line for line in build_changes)
    assert lines.count("  would update") == 2
    assert lines[-1] == (
        "dry run: 2 would be updated, 0 would be skipped, 0 up to date, 0 failed; nothing was changed"
    )

    run = command(in_process, "--project-name", "from-catalog", "--project-name", "from-s3", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    outcomes = {
        p["project_name"]: (p["kind"], p["outcome"], p["current"]["version"]) for p in report["projects"]
    }
    assert outcomes == {
        "from-catalog": ("servicecatalog", "updated", new["version"]),
        "from-s3": ("s3", "updated", new_s3["version"]),
    }
    assert report["templates"] == [
        {"template_url": new_s3["template_url"], "version": new_s3["version"], "projects": 1}
    ]
    assert run.stderr.splitlines()[-1] == "summary: 2 updated, 0 skipped, 0 failed, 0 up to date"
    s3_project = in_process.client("sagemaker").describe_project(ProjectName="from-s3")
    assert s3_project["ProjectStatus"] == "UpdateCompleted"
    (build,) = in_process.client("codebuild").batch_get_projects(
        names=[f"sagemaker-from-s3-{s3_project['ProjectId']}-modelbuild"]
    )["projects"]
    assert build["environment"]["image"].endswith(OLDER_IMAGE[0])


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (
            ["--template-url", "http://example.com/t.yaml"],
            2,
            "--template-url 'http://example.com/t.yaml' is not",
        ),
        (
            ["--template-url", "https://example.com/t.yaml\n"],
            2,
            "is not",
        ),  # a pasted line break, as AWS refuses
        (
            [
                "--template-url",
                f"https://{BUCKET}.s3.{REGION}.amazonaws.com/templates/x.yaml",
                "--product-name",
                "P",
            ],
            2,
            "--product-name and --template-url choose different projects",
        ),
        (
            [
                "--template-url",
                f"https://{BUCKET}.s3.{REGION}.amazonaws.com/templates/x.yaml",
                "--to-version",
                "v-1",
            ],
            2,
            "--to-version names a version of a Service Catalog product",
        ),
        (
            ["--template-url", f"https://{BUCKET}.s3.{REGION}.amazonaws.com/templates/missing.yaml"],
            1,
            "cannot read the template https://",
        ),
        (["--project-name", "no-such-project"], 2, "--project-name no-such-project: no such project"),
    ],
)
def test_command_line_mistakes_are_one_line(embedded, args, code, fragment):
    one_line(command(embedded, *args), code, fragment)
