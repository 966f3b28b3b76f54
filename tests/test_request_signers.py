"""Every request is evaluated as its signer: signed in the header, presigned in the URL, or not signed at all."""

from __future__ import annotations

import urllib.error
import urllib.request

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from smbundle.local import sample_data, server
from smbundle.local.iam import principals

CODEBUILD_ROLE = "AmazonSageMakerServiceCatalogProductsCodeBuildRole"


@pytest.fixture(scope="module")
def aws():
    with server.start() as embedded:
        s3 = embedded.client("s3")
        for bucket in ("team-data", "sagemaker-team-data"):
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
        yield embedded


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def role_s3(aws):
    """S3 as the project's CodeBuild role (its managed policy reads only sagemaker-* buckets)."""
    credentials = principals.assume(aws.roles[CODEBUILD_ROLE], "codebuild.amazonaws.com", "build")
    return boto3.client("s3", endpoint_url=aws.url, region_name="us-east-1", **credentials.session_kwargs())


def test_a_presigned_url_is_the_signer_s_request(aws):
    s3 = role_s3(aws)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.get_object(Bucket="team-data", Key="k")
    status, body = fetch(s3.generate_presigned_url("get_object", Params={"Bucket": "team-data", "Key": "k"}))
    assert status == 403 and f"assumed-role/{CODEBUILD_ROLE}/build is not authorized" in body.decode()
    allowed = s3.generate_presigned_url("get_object", Params={"Bucket": "sagemaker-team-data", "Key": "k"})
    assert fetch(allowed) == (200, b"secret")


def test_an_unsigned_request_gets_only_what_is_public(aws):
    anonymous = boto3.client(
        "s3", endpoint_url=aws.url, region_name="us-east-1", config=Config(signature_version=UNSIGNED)
    )
    with pytest.raises(ClientError) as private:
        anonymous.get_object(Bucket="sagemaker-team-data", Key="k")
    assert private.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError, match="AccessDenied"):
        anonymous.list_objects_v2(Bucket="team-data")
    bucket, _, key = sample_data.sample_url("us-east-1")[len("s3://") :].partition("/")
    assert len(anonymous.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()) == 4177
    with pytest.raises(ClientError, match="AccessDenied"):
        anonymous.put_object(Bucket=bucket, Key=key, Body=b"x")
    aws.client("s3").put_object(Bucket="team-data", Key="shared", Body=b"hello", ACL="public-read")
    assert fetch(f"{aws.url}/team-data/shared") == (200, b"hello")
    assert fetch(f"{aws.url}/team-data/k")[0] == 403


def test_an_unsigned_api_call_is_refused(aws):
    sagemaker = boto3.client(
        "sagemaker", endpoint_url=aws.url, region_name="us-east-1", config=Config(signature_version=UNSIGNED)
    )
    with pytest.raises(ClientError) as refused:
        sagemaker.list_endpoints()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
