"""Careless command lines of the scripts that talk to AWS (publish_product.py, delete_project.py): one line on
stderr, exit 2 for usage errors and 1 for failures, no traceback, nothing written."""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest

from smbundle.local import server
from tests._in_process import run_script
from tests.test_bad_input_local import environment, one_line

STUDIO_ROLE = f"arn:aws:iam::123456789012:role/service-role/{server.STUDIO_EXECUTION_ROLE_NAME}"


def script(name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_script(name, *args, env=env or environment())


NO_FILES = {"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}


def bare(**extra) -> dict:
    """No keys, no region, no profile files, no instance metadata."""
    env = environment(**NO_FILES, AWS_EC2_METADATA_DISABLED="true", **extra)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        env.pop(name)
    return env


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--product-name", ""], "--product-name must not be empty"),
        (["--product-name=---"], "--product-name needs at least one letter or digit"),
        (["--portfolio-name", " "], "--portfolio-name must not be empty"),
        (["--portfolio-name", "p" * 101], "AWS allows at most 100"),
        (["--portfolio-id", "port nope"], "is not a Service Catalog portfolio id"),
        (["--portfolio-id", "port-1", "--portfolio-name", "x"], "not allowed with argument"),
        (["--bucket", "Bad_Bucket"], "--bucket 'Bad_Bucket' is not a valid S3 bucket name"),
        (["--bucket", "ab"], "must be 3 to 63 characters long"),
        (["--principal-arn", "AmazonSageMaker-ExecutionRole"], "is not an IAM role or user or group ARN"),
        (["--launch-role-arn", "arn:aws:iam::123456789012:user/me"], "is not an IAM role ARN"),
        (["--keep-versions", "0"], "--keep-versions must be at least 1, got 0"),
        (["--keep-versions", "-3"], "--keep-versions must be at least 1, got -3"),
        (["--domain-id", "d-abc"], "--domain-id applies to --target s3 only"),
        (["--target", "s3"], "--target s3 needs --domain-id"),
        (["--target", "s3", "--domain-id", "D_1"], "is not a SageMaker domain id"),
        (["--target", "s3", "--domain-id", "d-abc", "--keep-versions", "2"], "--keep-versions applies to"),
        (["--target", "s3", "--domain-id", "d-abc", "--portfolio-name", "x"], "--portfolio-name applies to"),
        (["--target", "cloud"], "argument --target: invalid choice"),
        (["--owner", ""], "--owner must not be empty"),
        (["--support-email", "nobody"], "--support-email 'nobody' is not an e-mail address"),
        (["--support-url", "ftp://x"], "--support-url 'ftp://x' is not an http(s) URL"),
        (["--region", "mars-1"], "--region mars-1 is not an AWS Region with SageMaker"),
        (["--endpoint-url", "localhost:4566"], "is not an endpoint URL"),
        (["--profile", "nope"], "The config profile (nope) could not be found"),
    ],
)
def test_publish_usage_errors(args, fragment):
    one_line(script("publish_product.py", "--principal-arn", STUDIO_ROLE, *args), 2, fragment)


def test_publish_without_a_region_says_how_to_give_one():
    one_line(script("publish_product.py", env=bare()), 2, "no AWS Region: pass --region or set AWS_REGION")


def test_publish_without_credentials_names_the_keys():
    run = script("publish_product.py", "--region", "us-east-1", env=bare())
    one_line(run, 1, "no AWS credentials: set AWS_PROFILE")
    run = script(
        "publish_product.py", "--region", "us-east-1", env=bare(AWS_ENDPOINT_URL="http://127.0.0.1:4566")
    )
    one_line(run, 1, "accepts any keys; export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--project-name", "bad_name"], 2, "is not a valid SageMaker project name"),
        (["--project-name", ""], 2, "is not a valid SageMaker project name"),
        (["--project-name", "demo", "--region", "mars-1"], 2, "--region mars-1 is not an AWS Region"),
        (["--project-name", "demo", "--profile", "nope"], 2, "The config profile (nope) could not be found"),
        (["--project-name", "demo", "--endpoint-url", "http://127.0.0.1:1"], 1, "nothing answers at"),
        ([], 2, "the following arguments are required: --project-name"),
    ],
)
def test_delete_project_bad_flags(args, code, fragment):
    one_line(script("delete_project.py", *args), code, fragment)


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        yield aws


def test_publish_against_the_embedded_aws(embedded):
    env = environment(AWS_ENDPOINT_URL=embedded.url)
    s3 = boto3.session.Session(region_name="us-east-1").client("s3", endpoint_url=embedded.url)

    missing = script(
        "publish_product.py", "--principal-arn", STUDIO_ROLE, "--portfolio-id", "port-nope", env=env
    )
    one_line(missing, 1, "portfolio port-nope does not exist in us-east-1")
    domain = script(
        "publish_product.py", "--target", "s3", "--domain-id", "d-nope", "--bucket", "templates-x", env=env
    )
    one_line(domain, 1, "Studio domain d-nope does not exist")
    assert s3.list_buckets()["Buckets"] == [] and missing.stdout == domain.stdout == ""  # nothing written

    first = script("publish_product.py", "--principal-arn", STUDIO_ROLE, "--json", env=env)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    done = [line[len("did: ") :] for line in first.stderr.splitlines()]
    assert done == result["plan"] and done[0].startswith("create bucket")  # each write, as it happened

    s3_target = script("publish_product.py", "--target", "s3", "--domain-id", embedded.domain_id, env=env)
    assert s3_target.returncode == 0, s3_target.stderr
    assert "did: tag domain " + embedded.domain_id in s3_target.stdout

    gone = script("delete_project.py", "--project-name", "nope", env=env)
    one_line(gone, 1, "project nope not found")
