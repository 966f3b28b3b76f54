"""Publishing as AWS would judge it: dry runs that plan the real writes, re-published old content made current,
targets checked in preflight, and the embedded Service Catalog and S3 rejecting what AWS rejects."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from smbundle import publish as publishing
from smbundle.local import server
from smbundle.publish import PreflightError
from tests.test_publish import artifacts, copy_repo, options


@pytest.fixture
def account(aws):
    server.prepare_account()


def newest_active(product_id: str) -> dict:
    active = [a for a in artifacts(product_id) if a["Active"]]
    return max(active, key=lambda a: a["CreatedTime"])


def versions(root, count: int, **overrides) -> list[dict]:
    readme = root / "seed_code" / "build" / "README.md"
    results = []
    for n in range(count):
        readme.write_text(f"version {n}\n")
        results.append(publishing.publish(options(repo_root=root, **overrides)))
    return results


def test_keep_versions_dry_run_plans_exactly_the_real_writes(account, tmp_path):
    root = copy_repo(tmp_path)
    versions(root, 3)
    (root / "seed_code" / "build" / "README.md").write_text("version 3\n")
    planned = publishing.publish(options(repo_root=root, keep_versions=1, dry_run=True))
    deprecations = [step for step in planned["plan"] if step.startswith("deprecate")]
    assert len(deprecations) == 3  # the three older versions
    done = []
    real = publishing.publish(options(repo_root=root, keep_versions=1), progress=done.append)
    assert real["plan"] == planned["plan"] == done


def test_republishing_deprecated_content_makes_it_the_newest_active_version(account, tmp_path):
    root = copy_repo(tmp_path)
    first, second = versions(root, 2, keep_versions=1)
    product = first["product_id"]
    assert not next(a for a in artifacts(product) if a["Name"] == first["version"])["Active"]
    (root / "seed_code" / "build" / "README.md").write_text("version 0\n")  # back to the first content
    again = publishing.publish(options(repo_root=root))
    assert again["version"] == first["version"] and again["changed"] is True
    assert again["plan"][0].startswith(f"add provisioning artifact {first['version']} to {product} again")
    newest = newest_active(product)
    assert (newest["Name"], newest["Id"]) == (first["version"], again["provisioning_artifact_id"])
    assert publishing.publish(options(repo_root=root))["changed"] is False  # and now it is up to date


def test_a_deprecated_newest_version_is_reactivated(account, tmp_path):
    root = copy_repo(tmp_path)  # content that nothing else changes while the test runs
    first = publishing.publish(options(repo_root=root))
    boto3.client("servicecatalog").update_provisioning_artifact(
        ProductId=first["product_id"],
        ProvisioningArtifactId=first["provisioning_artifact_id"],
        Active=False,
        Guidance="DEPRECATED",
    )
    again = publishing.publish(options(repo_root=root))
    assert again["plan"] == [
        f"reactivate provisioning artifact {first['version']} ({first['provisioning_artifact_id']})"
    ]
    assert newest_active(first["product_id"])["Id"] == first["provisioning_artifact_id"]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"portfolio_id": "port-nope"}, "portfolio port-nope does not exist in us-east-1"),
        ({"target": "s3", "domain_id": "d-nope"}, "Studio domain d-nope does not exist in us-east-1"),
    ],
)
def test_targets_that_do_not_exist_fail_preflight_and_nothing_is_written(account, overrides, problem):
    with pytest.raises(PreflightError, match=problem):
        publishing.publish(options(**overrides))
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    assert boto3.client("servicecatalog").list_portfolios()["PortfolioDetails"] == []


def test_embedded_service_catalog_validates_portfolios_as_aws(account):
    catalog = boto3.client("servicecatalog")
    result = publishing.publish(options())
    for call in (
        lambda: catalog.describe_portfolio(Id="port-nope"),
        lambda: catalog.associate_product_with_portfolio(
            ProductId=result["product_id"], PortfolioId="port-nope"
        ),
        lambda: catalog.associate_principal_with_portfolio(
            PortfolioId="port-nope", PrincipalARN="arn:aws:iam::123456789012:role/x", PrincipalType="IAM"
        ),
        lambda: catalog.create_constraint(
            PortfolioId="port-nope", ProductId=result["product_id"], Type="LAUNCH", Parameters="{}"
        ),
    ):
        with pytest.raises(ClientError) as failure:
            call()
        assert failure.value.response["Error"]["Code"] == "ResourceNotFoundException"
    other = catalog.create_portfolio(DisplayName="other", ProviderName="me")["PortfolioDetail"]["Id"]
    with pytest.raises(ClientError, match="is not associated with portfolio"):
        catalog.create_constraint(
            PortfolioId=other, ProductId=result["product_id"], Type="LAUNCH", Parameters="{}"
        )


@pytest.mark.parametrize("name", ["Bad_Bucket", "UPPER", "a..b", "-start", "192.168.0.1", "sthree-name"])
def test_embedded_s3_rejects_bucket_names_aws_rejects(aws, name):
    with pytest.raises(ClientError) as failure:
        boto3.client("s3").create_bucket(Bucket=name)
    assert failure.value.response["Error"]["Code"] == "InvalidBucketName"
