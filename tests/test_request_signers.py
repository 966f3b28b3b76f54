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
    # A public-read ACL counts only where the bucket enables ACLs and Block Public Access does not ignore them
    # (new buckets have ACLs disabled and public access blocked).
    s3 = aws.client("s3")
    s3.put_object(Bucket="team-data", Key="shared", Body=b"hello", ACL="public-read")
    assert fetch(f"{aws.url}/team-data/shared")[0] == 403
    s3.put_bucket_ownership_controls(
        Bucket="team-data", OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    blocked = {
        k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    }
    s3.put_public_access_block(Bucket="team-data", PublicAccessBlockConfiguration=blocked)
    assert fetch(f"{aws.url}/team-data/shared")[0] == 403
    s3.put_public_access_block(Bucket="team-data", PublicAccessBlockConfiguration={k: False for k in blocked})
    assert fetch(f"{aws.url}/team-data/shared") == (200, b"hello")
    assert fetch(f"{aws.url}/team-data/k")[0] == 403


def test_an_unsigned_api_call_is_refused(aws):
    sagemaker = boto3.client(
        "sagemaker", endpoint_url=aws.url, region_name="us-east-1", config=Config(signature_version=UNSIGNED)
    )
    with pytest.raises(ClientError) as refused:
        sagemaker.list_endpoints()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_copy_is_authorized_on_the_object_it_really_copies(aws):
    """The copy source is read as S3 decodes it: percent-encoding does not move the check to another resource."""
    s3 = role_s3(aws)
    for raw in ("team-data/k", "team-data%2Fk?x=sagemaker", "%74eam-data/k"):

        def header(request, raw=raw, **_):  # the header as sent, not as boto3 would quote it
            request.headers["x-amz-copy-source"] = raw

        s3.meta.events.register("before-sign.s3.CopyObject", header, unique_id="raw-copy-source")
        try:
            with pytest.raises(ClientError, match="s3:GetObject on resource: arn:aws:s3:::team-data/k "):
                s3.copy_object(Bucket="sagemaker-team-data", Key="copied", CopySource="placeholder/x")
        finally:
            s3.meta.events.unregister("before-sign.s3.CopyObject", unique_id="raw-copy-source")


def test_bucket_settings_are_authorized_as_what_they_set(aws):
    """moto labels these PUTs CreateBucket; S3 authorizes each as its own action (the CodeBuild role has none)."""
    s3 = role_s3(aws)
    with pytest.raises(
        ClientError, match="s3:PutEncryptionConfiguration on resource: arn:aws:s3:::sagemaker-team-data"
    ):
        s3.put_bucket_encryption(
            Bucket="sagemaker-team-data",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
    with pytest.raises(ClientError, match="s3:PutBucketOwnershipControls"):
        s3.put_bucket_ownership_controls(
            Bucket="sagemaker-team-data", OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
        )
    bucket, _, _ = sample_data.sample_url("us-east-1")[len("s3://") :].partition("/")
    with pytest.raises(
        ClientError, match="because no resource-based policy allows the s3:PutBucketPublicAccessBlock"
    ):
        aws.client("s3").put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={"BlockPublicAcls": False, "IgnorePublicAcls": False},
        )


def test_delete_objects_is_each_key_s_delete_object(aws):
    aws.client("s3").put_object(Bucket="sagemaker-team-data", Key="a", Body=b"1")
    deleted = role_s3(aws).delete_objects(Bucket="sagemaker-team-data", Delete={"Objects": [{"Key": "a"}]})
    assert [d["Key"] for d in deleted["Deleted"]] == ["a"]


def test_unsigned_calls_are_answered_in_their_own_protocol_and_sts_web_identity_is_served(aws):
    def anonymous(service):
        return boto3.client(
            service, endpoint_url=aws.url, region_name="us-east-1", config=Config(signature_version=UNSIGNED)
        )

    for service, call, code in (
        ("codepipeline", lambda c: c.list_pipelines(), "MissingAuthenticationTokenException"),
        ("iam", lambda c: c.list_roles(), "MissingAuthenticationToken"),
    ):
        with pytest.raises(ClientError) as refused:
            call(anonymous(service))
        assert refused.value.response["Error"]["Code"] == code
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assumed = anonymous("sts").assume_role_with_web_identity(
        RoleArn=aws.roles[CODEBUILD_ROLE], RoleSessionName="web", WebIdentityToken="token"
    )
    assert assumed["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{CODEBUILD_ROLE}/web")
