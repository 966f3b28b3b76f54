"""Shared helpers of the embedded-AWS tests: a trained model package and endpoints to invoke, the embedded AWS's
knobs set for a block, and the denials its IAM logs."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import tarfile
from pathlib import Path

import boto3
import numpy as np
import xgboost

from smbundle.local.sample_data import generate_csv

REPO = Path(__file__).resolve().parents[1]

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"


def model_artifact(features: int = 10) -> bytes:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, features))
    y = 10 + x[:, 0] * 2
    booster = xgboost.train({"objective": "reg:squarederror"}, xgboost.DMatrix(x, label=y), 10)
    raw = booster.save_raw("ubj")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(bytes(raw)))
    return buffer.getvalue()


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def load_seed_module(relative: str, name: str):
    """A seed repository's script, imported by path (the seeds are not packages of this repository)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "seed_code" / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def abalone_artifact(workdir: Path, rows: int = 1500) -> tuple[bytes, Path]:
    """The build seed's serving artifact, made as its pipeline makes it (preprocess, train, package), from the
    synthetic abalone sample; returns model.tar.gz and the preprocess output directory (raw test records)."""
    preprocess = load_seed_module("build/pipelines/abalone/preprocess.py", "seed_preprocess")
    package = load_seed_module("build/pipelines/abalone/package.py", "seed_package")
    (workdir / "data").mkdir(parents=True)
    (workdir / "data" / "abalone.data").write_bytes(generate_csv(rows))
    preprocess.main(["--input-dir", str(workdir / "data"), "--output-dir", str(workdir / "out")])
    train = np.loadtxt(workdir / "out" / "train" / "train.csv", delimiter=",")
    params = {"objective": "reg:squarederror", "max_depth": 5, "eta": 0.2, "min_child_weight": 6}
    booster = xgboost.train(params, xgboost.DMatrix(train[:, 1:], label=train[:, 0]), 50)
    archive = package.package(
        bytes(booster.save_raw("ubj")),
        (workdir / "out" / "preprocessing" / "preprocessing.json").read_bytes(),
        (REPO / "seed_code" / "build" / "pipelines" / "abalone" / "inference.py").read_bytes(),
    )
    return archive, workdir / "out"


# The registered container's environment for script mode (as the build seed's pipeline registers it).
SCRIPT_MODE = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
}


def deploy_endpoint(
    name: str,
    serverless: dict | None,
    session=None,
    endpoint_url=None,
    artifact: bytes | None = None,
    environment: dict | None = None,
    data_capture: dict | None = None,
    role: str = ROLE,
) -> None:
    """An endpoint serving a registered model package: the 10-feature test booster (algorithm mode) unless
    ``artifact`` and the container ``environment`` say otherwise; ``data_capture`` is the config's
    DataCaptureConfig (instance endpoints only), ``role`` the model's execution role."""
    session = session or boto3.session.Session(region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=endpoint_url)
    sagemaker = session.client("sagemaker", endpoint_url=endpoint_url)
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key=f"{name}/model.tar.gz", Body=artifact or model_artifact())
    group = f"group-{name}"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    container = {"Image": "xgb", "ModelDataUrl": f"s3://models/{name}/model.tar.gz"}
    if environment:
        container["Environment"] = environment
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sagemaker.create_model(
        ModelName=f"m-{name}", ExecutionRoleArn=role, PrimaryContainer={"ModelPackageName": arn}
    )
    variant = {"VariantName": "AllTraffic", "ModelName": f"m-{name}"}
    if serverless:
        variant["ServerlessConfig"] = serverless
    else:
        variant.update(InstanceType="ml.m5.large", InitialInstanceCount=1)
    extra = {"DataCaptureConfig": data_capture} if data_capture else {}
    sagemaker.create_endpoint_config(EndpointConfigName=f"c-{name}", ProductionVariants=[variant], **extra)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"c-{name}")


def service_role(iam, name: str, service: str, *statements: dict, path: str = "/") -> str:
    """Create a role ``service`` may assume, with ``statements`` as its inline policy; its ARN."""
    import json

    trust = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    arn = iam.create_role(
        RoleName=name,
        Path=path,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )["Role"]["Arn"]
    if statements:
        iam.put_role_policy(
            RoleName=name,
            PolicyName="inline",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        )
    return arn


@contextlib.contextmanager
def environment_set(**values: str):
    """``os.environ`` with ``values`` set for the block (the embedded AWS reads its knobs as it runs), then as it was."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def denials_logged():
    """The denials the embedded IAM logs during the block (its enforcement logger's "denied ..." lines)."""
    seen: list[str] = []

    class Denials(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("denied "):
                seen.append(record.getMessage())

    handler = Denials(logging.INFO)
    logger = logging.getLogger("smbundle.local.iam.enforcement")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
