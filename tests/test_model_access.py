"""SageMaker acts as the model's execution role: it must assume it, and the role must read the model data."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.test_endpoint_template import model_role


@pytest.fixture
def model_data(aws):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="models-bucket")
    s3.put_object(Bucket="models-bucket", Key="m/model.tar.gz", Body=b"model")
    return "s3://models-bucket/m/model.tar.gz"


def endpoint(role: str, model_data: str, name: str = "e"):
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=role,
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/x:1",
            "ModelDataUrl": model_data,
        },
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": name,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return sagemaker.describe_endpoint(EndpointName=name)


def test_create_model_refuses_a_role_sagemaker_cannot_assume(aws):
    iam = boto3.client("iam")
    trust_ec2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ec2_role = iam.create_role(
        RoleName="ec2-only",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust_ec2]}),
    )["Role"]["Arn"]
    for role in (ec2_role, "arn:aws:iam::123456789012:role/missing"):
        with pytest.raises(ClientError) as refused:
            boto3.client("sagemaker").create_model(
                ModelName="m", ExecutionRoleArn=role, PrimaryContainer={"Image": "i"}
            )
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert refused.value.response["Error"]["Message"] == (
            f"Could not assume role {role}. Please ensure that the role exists and allows principal "
            "'sagemaker.amazonaws.com' to assume the role."
        )


def test_an_endpoint_whose_role_cannot_read_the_model_fails_with_sagemaker_s_reason(aws, model_data):
    unreadable = endpoint(model_role("no-read"), model_data, "unreadable")
    assert unreadable["EndpointStatus"] == "Failed"
    assert unreadable["FailureReason"].startswith(f"Could not access model data at {model_data}.")
    assert '"s3:GetObject" permissions' in unreadable["FailureReason"]
    readable = endpoint(model_role("reader", readable="arn:aws:s3:::models-bucket/*"), model_data, "readable")
    assert readable["EndpointStatus"] == "InService"
    missing = endpoint(
        model_role("reader-2", readable="arn:aws:s3:::models-bucket/*"),
        "s3://models-bucket/none.tar.gz",
        "gone",
    )
    assert missing["EndpointStatus"] == "Failed"


def test_a_private_ecr_image_needs_batch_get_image(aws, model_data):
    role = model_role("ecr-less", readable="arn:aws:s3:::models-bucket/*")
    sagemaker = boto3.client("sagemaker")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/serving:1"
    sagemaker.create_model(
        ModelName="own", ExecutionRoleArn=role, PrimaryContainer={"Image": image, "ModelDataUrl": model_data}
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "own",
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    sagemaker.create_endpoint_config(EndpointConfigName="own", ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName="own", EndpointConfigName="own")
    described = sagemaker.describe_endpoint(EndpointName="own")
    assert (described["EndpointStatus"], described["FailureReason"]) == (
        "Failed",
        f"The role '{role}' does not have BatchGetImage permission for the image: '{image}'.",
    )
