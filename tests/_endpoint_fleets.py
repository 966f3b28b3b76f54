"""Instance endpoints for the production tests: models in a bucket the SageMaker-managed execution role may read,
configs with a chosen instance count, and a script-mode model that answers server errors."""

from __future__ import annotations

from tests._local_helpers import ROLE, model_artifact, tar_gz

BUCKET = "sagemaker-fleet-models"
ROW = "1.0,0,0,0,0,0,0,0,0,1\n"

FAILING_SCRIPT = b"""
def model_fn(model_dir):
    return None


def transform_fn(model, body, content_type, accept):
    raise RuntimeError("this model version is broken")
"""


def failing_artifact() -> bytes:
    return tar_gz({"code/inference.py": FAILING_SCRIPT})


SCRIPT_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}


def _container(aws, name: str, artifact: bytes | None, environment: dict | None) -> dict:
    """A container serving ``artifact`` (default: the test booster), uploaded to ``s3://BUCKET/<name>/``."""
    s3 = aws.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=f"{name}/model.tar.gz", Body=artifact or model_artifact())
    container = {"Image": "xgb", "ModelDataUrl": f"s3://{BUCKET}/{name}/model.tar.gz"}
    if environment:
        container["Environment"] = environment
    return container


def model(aws, name: str, artifact: bytes | None = None, environment: dict | None = None) -> str:
    container = _container(aws, name, artifact, environment)
    aws.client("sagemaker").create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    return name


def config(aws, name: str, model_name: str, instances: int = 1, instance_type: str = "ml.m5.large") -> str:
    aws.client("sagemaker").create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model_name,
                "InstanceType": instance_type,
                "InitialInstanceCount": instances,
            }
        ],
    )
    return name


def endpoint(aws, name: str, instances: int = 1) -> str:
    """An InService instance endpoint serving the 10-feature test booster; its config is ``<name>-v1``."""
    config(aws, f"{name}-v1", model(aws, f"{name}-m1"), instances)
    sagemaker = aws.client("sagemaker")
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v1")
    described = sagemaker.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return name


def package(aws, name: str, artifact: bytes | None = None, environment: dict | None = None) -> str:
    """A model package (in group ``<name>-group``) whose container serves ``artifact``; its ARN."""
    container = _container(aws, name, artifact, environment)
    sagemaker = aws.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=f"{name}-group")
    return sagemaker.create_model_package(
        ModelPackageGroupName=f"{name}-group",
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
