"""Publishing against the embedded AWS: idempotent, versioned by content, preflight first, dry run read-only."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import boto3
import pytest

from smbundle import publish as publishing
from smbundle.local import server
from smbundle.publish import PreflightError, PublishOptions
from tests._in_process import run_script

REPO = Path(__file__).resolve().parents[1]
STUDIO_ROLE = f"arn:aws:iam::123456789012:role/service-role/{server.STUDIO_EXECUTION_ROLE_NAME}"
WRITE_PREFIXES = ("Create", "Put", "Associate", "Update", "Delete", "Upload", "Add", "Provision", "Tag")


@pytest.fixture
def account(aws):
    server.prepare_account()
    return boto3.session.Session(region_name="us-east-1")


def options(**overrides) -> PublishOptions:
    values = {"repo_root": REPO, "principal_arns": [STUDIO_ROLE], "region": "us-east-1"}
    values.update(overrides)
    return PublishOptions(**values)


def artifacts(product_id: str) -> list[dict]:
    client = boto3.client("servicecatalog")
    return client.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]


def copy_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache")
    shutil.copytree(REPO / "service_catalog", root / "service_catalog")
    shutil.copytree(REPO / "seed_code", root / "seed_code", ignore=ignore)
    return root


def test_first_publish_creates_everything(account):
    result = publishing.publish(options(), session=account)
    assert result["changed"] is True
    assert result["version"].startswith("v-") and len(result["version"]) == 14
    catalog = boto3.client("servicecatalog")
    product = catalog.describe_product_as_admin(Id=result["product_id"])
    assert {"Key": "sagemaker:studio-visibility", "Value": "true"} in product["Tags"]
    assert product["ProductViewDetail"]["ProductViewSummary"]["Owner"] == "ML platform team"
    assert [a["Name"] for a in artifacts(result["product_id"])] == [result["version"]]
    principals = catalog.list_principals_for_portfolio(PortfolioId=result["portfolio_id"])["Principals"]
    assert [p["PrincipalARN"] for p in principals] == [STUDIO_ROLE]
    constraints = catalog.list_constraints_for_portfolio(PortfolioId=result["portfolio_id"])[
        "ConstraintDetails"
    ]
    assert [c["Type"] for c in constraints] == ["LAUNCH"]
    s3 = boto3.client("s3")
    bucket = result["bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert (
        s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
        is True
    )
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    rendered = s3.get_object(Bucket=bucket, Key=result["template_url"].split(".amazonaws.com/")[1])[
        "Body"
    ].read()
    assert f"Bucket: {bucket}".encode() in rendered  # structured rendering of Mappings.SeedCode.S3


def test_second_identical_publish_changes_nothing(account):
    first = publishing.publish(options(), session=account)
    second = publishing.publish(options(), session=account)
    assert second["changed"] is False and second["plan"] == []
    assert (second["product_id"], second["provisioning_artifact_id"]) == (
        first["product_id"],
        first["provisioning_artifact_id"],
    )
    assert len(artifacts(first["product_id"])) == 1


def test_a_changed_seed_file_adds_exactly_one_artifact(account, tmp_path):
    root = copy_repo(tmp_path)
    first = publishing.publish(options(repo_root=root), session=account)
    readme = root / "seed_code" / "deploy" / "README.md"
    readme.write_text(readme.read_text() + "\nOne more line.\n")
    second = publishing.publish(options(repo_root=root), session=account)
    assert second["version"] != first["version"]
    assert second["product_id"] == first["product_id"]
    assert [a["Name"] for a in artifacts(first["product_id"])] == [first["version"], second["version"]]


def test_keep_versions_deprecates_older_artifacts(account, tmp_path):
    root = copy_repo(tmp_path)
    readme = root / "seed_code" / "build" / "README.md"
    versions = []
    for n in range(3):
        readme.write_text(f"version {n}\n")
        versions.append(publishing.publish(options(repo_root=root, keep_versions=2), session=account))
    active = {a["Name"]: a["Active"] for a in artifacts(versions[0]["product_id"])}
    assert active == {
        versions[0]["version"]: False,
        versions[1]["version"]: True,
        versions[2]["version"]: True,
    }


def test_missing_launch_role_fails_preflight_and_writes_nothing(account):
    iam = boto3.client("iam")
    name = "AmazonSageMakerServiceCatalogProductsLaunchRole"
    for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    iam.delete_role(RoleName=name)
    with pytest.raises(PreflightError) as failure:
        publishing.publish(options(), session=account)
    assert "AmazonSageMakerServiceCatalogProductsLaunchRole does not exist" in str(failure.value)
    assert "enable SageMaker projects for the Studio domain" in str(failure.value)
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    assert boto3.client("servicecatalog").list_portfolios()["PortfolioDetails"] == []


def test_unknown_principal_fails_preflight(account):
    with pytest.raises(
        PreflightError, match="principal arn:aws:iam::123456789012:role/nobody does not exist"
    ):
        publishing.publish(options(principal_arns=["arn:aws:iam::123456789012:role/nobody"]), session=account)


class Crash(Exception):
    pass


def test_failure_half_way_then_rerun_converges(account):
    writes = []

    def crash_on_sixth(step):
        writes.append(step)
        if len(writes) == 6:
            raise Crash(step)

    with pytest.raises(Crash):
        publishing.publish(options(), session=account, before_write=crash_on_sixth)
    result = publishing.publish(options(), session=account)
    catalog = boto3.client("servicecatalog")
    assert len(catalog.list_portfolios()["PortfolioDetails"]) == 1
    products = catalog.search_products_as_admin()["ProductViewDetails"]
    assert len(products) == 1
    assert len(artifacts(result["product_id"])) == 1
    assert (
        len(catalog.list_constraints_for_portfolio(PortfolioId=result["portfolio_id"])["ConstraintDetails"])
        == 1
    )
    assert publishing.publish(options(), session=account)["changed"] is False


def test_dry_run_calls_no_write_api(account):
    session = boto3.session.Session(region_name="us-east-1")
    calls = []
    session.events.register("before-call.*.*", lambda model, **kwargs: calls.append(model.name))
    result = publishing.publish(options(dry_run=True), session=session)
    assert result["dry_run"] is True and result["plan"]
    assert any(step.startswith("create product") for step in result["plan"])
    assert calls and not [c for c in calls if c.startswith(WRITE_PREFIXES)]
    assert boto3.client("s3").list_buckets()["Buckets"] == []


def test_s3_target_tags_what_studio_needs(account):
    sagemaker = boto3.client("sagemaker")
    domain = sagemaker.create_domain(
        DomainName="studio",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": STUDIO_ROLE},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )
    # no Studio principal: whether one may create projects from the template is tests/test_s3_lifecycle.py's
    result = publishing.publish(
        options(target="s3", domain_id=domain["DomainArn"].split("/")[-1], principal_arns=[]), session=account
    )
    s3 = boto3.client("s3")
    key = result["template_url"].split(".amazonaws.com/")[1]
    tags = s3.get_object_tagging(Bucket=result["bucket"], Key=key)["TagSet"]
    assert {"Key": "sagemaker:studio-visibility", "Value": "true"} in tags
    cors = s3.get_bucket_cors(Bucket=result["bucket"])["CORSRules"][0]
    assert cors["AllowedOrigins"] == ["https://*.sagemaker.aws"]
    domain_tags = sagemaker.list_tags(ResourceArn=domain["DomainArn"])["Tags"]
    assert {
        "Key": "sagemaker:projectS3TemplatesLocation",
        "Value": f"s3://{result['bucket']}/templates/",
    } in domain_tags


def test_create_project_provisions_the_product_stack(account):
    result = publishing.publish(options(), session=account)
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_project(
        ProjectName="demo",
        ServiceCatalogProvisioningDetails={
            "ProductId": result["product_id"],
            "ProvisioningArtifactId": result["provisioning_artifact_id"],
        },
    )
    project = sagemaker.describe_project(ProjectName="demo")
    assert project["ProjectStatus"] == "CreateCompleted", project
    project_id = project["ProjectId"]
    stack = boto3.client("cloudformation").describe_stacks()["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {"Key": "sagemaker:project-id", "Value": project_id} in stack["Tags"]
    prefix = f"sagemaker-demo-{project_id}"
    assert boto3.client("codecommit").get_repository(repositoryName=f"{prefix}-modelbuild")
    assert boto3.client("codecommit").get_branch(repositoryName=f"{prefix}-modeldeploy", branchName="main")
    projects = boto3.client("codebuild").batch_get_projects(
        names=[f"{prefix}-modelbuild", f"{prefix}-modeldeploy", f"{prefix}-testing", f"{prefix}-dataquality"]
    )
    assert len(projects["projects"]) == 4
    pipelines = {p["name"] for p in boto3.client("codepipeline").list_pipelines()["pipelines"]}
    assert pipelines == {f"{prefix}-modelbuild", f"{prefix}-modeldeploy", f"{prefix}-dataquality"}
    rules = {r["Name"]: r for r in boto3.client("events").list_rules()["Rules"]}
    assert set(rules) == {
        f"{prefix}-build",
        f"{prefix}-code",
        f"{prefix}-model",
        f"{prefix}-check",
        f"{prefix}-drift",
    }
    assert rules[f"{prefix}-check"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    assert rules[f"{prefix}-drift"]["State"] == "DISABLED"  # RetrainOnDataQualityViolation "false"
    boto3.client("s3").head_bucket(Bucket=f"sagemaker-project-{project_id}")
    # The group is created by the build pipeline's first registration: the launch role may not create it.
    with pytest.raises(sagemaker.exceptions.ClientError):
        sagemaker.describe_model_package_group(ModelPackageGroupName=f"demo-{project_id}")
    tags = sagemaker.list_tags(ResourceArn=project["ProjectArn"])["Tags"]
    assert {"Key": "sagemaker:project-name", "Value": "demo"} in tags


def test_the_script_works_unchanged_against_the_embedded_aws(tmp_path):
    with server.start() as embedded:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=embedded.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
        )
        command = ["publish_product.py", "--principal-arn", STUDIO_ROLE, "--json"]
        first = run_script(*command, env=env)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["changed"] is True
        second = run_script(*command, env=env)
        assert json.loads(second.stdout)["changed"] is False
        bad = run_script(command[0], "--launch-role-arn", "arn:aws:iam::123456789012:role/missing", env=env)
        assert (
            bad.returncode == 1
            and bad.stderr.startswith("error: ")
            and len(bad.stderr.strip().splitlines()) == 1
        )
