"""The local pipeline executor's Training step: it trains with what the definition says, or refuses."""

from __future__ import annotations

import copy
import io
import json
import tarfile

import numpy as np
import pytest
import xgboost
from moto.sagemaker.models import sagemaker_backends

from smbundle.local.s3 import objects
from smbundle.local.sagemaker.pipeline_executor import ExecutionState, PipelineExecutor

ACCOUNT = "123456789012"
ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/demo/execution/exec1"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"


def channel(name: str, uri: str, content_type: str | None = "text/csv") -> dict:
    spec = {
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "ChannelName": name,
    }
    if content_type:
        spec["ContentType"] = content_type
    return spec


# A Training step as the SageMaker SDK writes it into a pipeline definition (hyperparameters are strings).
STEP = {
    "Name": "Train",
    "Type": "Training",
    "Arguments": {
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": IMAGE},
        "OutputDataConfig": {"S3OutputPath": "s3://sagemaker-data/training"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "ResourceConfig": {
            "VolumeSizeInGB": 30,
            "InstanceCount": {"Get": "Parameters.TrainingInstanceCount"},
            "InstanceType": {"Get": "Parameters.TrainingInstanceType"},
        },
        # The job runs as this role: the one SageMaker projects use, with its managed policy (enforced).
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
        "InputDataConfig": [
            channel("train", "s3://sagemaker-data/train"),
            channel("validation", "s3://sagemaker-data/validation"),
        ],
        "HyperParameters": {
            "objective": "reg:absoluteerror",
            "num_round": "7",
            "max_depth": "2",
            "eta": "0.5",
            "subsample": "1",
        },
    },
}
PARAMETERS = [
    {"Name": "TrainingInstanceType", "Type": "String", "DefaultValue": "ml.m5.xlarge"},
    {"Name": "TrainingInstanceCount", "Type": "Integer", "DefaultValue": 1},
]


@pytest.fixture
def data(aws):
    """Label-first CSV channels: y = 10 + 3 x0 (train split across two files, as a prefix may hold)."""
    import boto3

    from smbundle.local import server

    server.prepare_account()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="sagemaker-data")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 4))
    rows = np.column_stack([10 + 3 * x[:, 0], x])
    for key, part in (
        ("train/a.csv", rows[:150]),
        ("train/b.csv", rows[150:300]),
        ("validation/v.csv", rows[300:]),
    ):
        buffer = io.StringIO()
        np.savetxt(buffer, part, delimiter=",")
        objects.put_bytes(f"s3://sagemaker-data/{key}", buffer.getvalue().encode(), ACCOUNT)


def execute(step: dict, parameters: dict | None = None, tmp_path=None) -> tuple[ExecutionState, dict]:
    definition = {"Version": "2020-12-01", "Parameters": PARAMETERS, "Steps": [step]}
    state = ExecutionState()
    executor = PipelineExecutor(
        definition, parameters or {}, ARN, state, sagemaker_backends[ACCOUNT]["us-east-1"], workdir=tmp_path
    )
    executor.run()
    return state, executor.context.steps.get(step["Name"], {})


def booster_of(outcome: dict) -> xgboost.Booster:
    archive = objects.get_bytes(outcome["ModelArtifacts"]["S3ModelArtifacts"], ACCOUNT)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.getnames() == ["xgboost-model"]
        raw = tar.extractfile("xgboost-model").read()
    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    return booster


def with_arguments(**changes) -> dict:
    step = copy.deepcopy(STEP)
    step["Arguments"].update(changes)
    return step


def test_training_uses_the_definitions_hyperparameters_and_channels(data, tmp_path):
    state, outcome = execute(copy.deepcopy(STEP), tmp_path=tmp_path)
    assert state.status == "Succeeded", state.failure_reason
    booster = booster_of(outcome)
    assert booster.num_boosted_rounds() == 7  # num_round, not a default
    assert json.loads(booster.save_config())["learner"]["objective"]["name"] == "reg:absoluteerror"
    depths = [max(line.count("\t") for line in tree.splitlines()) for tree in booster.get_dump()]
    assert max(depths) == 2  # max_depth (the default, 6, grows deeper trees on this data)
    assert {m["MetricName"] for m in outcome["FinalMetricDataList"]} == {"train:mae", "validation:mae"}
    assert booster.num_features() == 4  # the label column (first) is not a feature
    prediction = booster.inplace_predict(np.array([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]))
    assert prediction[0] > prediction[1] + 2  # it learned from both train files: y = 10 + 3 x0
    assert outcome["ModelArtifacts"]["S3ModelArtifacts"].startswith(
        "s3://sagemaker-data/training/pipelines-exec1-Train-"
    )


def test_the_instance_type_parameter_is_honoured_and_a_bad_one_is_rejected(data, tmp_path):
    state, _ = execute(copy.deepcopy(STEP), {"TrainingInstanceType": "ml.c5.2xlarge"}, tmp_path)
    assert state.status == "Succeeded"
    state, _ = execute(copy.deepcopy(STEP), {"TrainingInstanceType": "m5.large"}, tmp_path)
    assert state.status == "Failed"
    assert "'m5.large' is not a SageMaker instance type" in state.failure_reason


def test_early_stopping_rounds_stop_on_the_validation_channel(data, tmp_path):
    step = copy.deepcopy(STEP)
    step["Arguments"]["HyperParameters"].update(num_round="200", early_stopping_rounds="3", eta="0.9")
    state, outcome = execute(step, tmp_path=tmp_path)
    assert state.status == "Succeeded"
    assert booster_of(outcome).num_boosted_rounds() < 200


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({}, "Missing required hyperparameter: num_round"),
        ({"num_round": "0"}, "num_round: 0 is below 1"),
        ({"num_round": "5", "max_depth": "deep"}, "max_depth: 'deep' is not an integer"),
        ({"num_round": "5", "learning_rate": "0.1"}, "Extraneous hyperparameter found: learning_rate"),
        ({"num_round": "5", "csv_weights": "1"}, "csv_weights=1 is not emulated"),
        ({"num_round": "5", "_kfold": "3"}, "_kfold is not emulated"),
    ],
)
def test_hyperparameters_the_algorithm_would_reject_fail_the_step(data, tmp_path, hyperparameters, reason):
    state, _ = execute(with_arguments(HyperParameters=hyperparameters), tmp_path=tmp_path)
    assert state.status == "Failed"
    assert state.failure_reason.startswith("TrainingJob pipelines-exec1-Train-")
    assert reason in state.failure_reason
    assert state.steps[0].status == "Failed" and state.steps[0].failure_reason == state.failure_reason


@pytest.mark.parametrize(
    ("changes", "parameters", "reason"),
    [
        ({}, {"TrainingInstanceCount": "2"}, "InstanceCount 2: distributed training is not emulated locally"),
        (
            {"AlgorithmSpecification": {"TrainingInputMode": "Pipe", "TrainingImage": IMAGE}},
            {},
            "TrainingInputMode Pipe is not emulated",
        ),
        (
            {"AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "my/own:1"}},
            {},
            "training image my/own:1 cannot run locally",
        ),
        (
            {"InputDataConfig": [channel("validation", "s3://sagemaker-data/validation")]},
            {},
            "needs a 'train' channel",
        ),
        (
            {
                "InputDataConfig": [
                    channel("train", "s3://sagemaker-data/train"),
                    channel("test", "s3://sagemaker-data/validation"),
                ]
            },
            {},
            "channel 'test' is not one the XGBoost algorithm reads (train, validation)",
        ),
        (
            {"InputDataConfig": [channel("train", "s3://sagemaker-data/train", content_type=None)]},
            {},
            "channel train has no ContentType, which the algorithm reads as text/libsvm",
        ),
        (
            {"InputDataConfig": [channel("train", "s3://sagemaker-data/train", "application/x-parquet")]},
            {},
            "content type application/x-parquet is not emulated locally",
        ),
        (
            {"InputDataConfig": [channel("train", "s3://sagemaker-data/nothing-here")]},
            {},
            "input s3://sagemaker-data/nothing-here does not exist",
        ),
    ],
)
def test_jobs_the_local_training_cannot_run_as_asked_fail_the_step(
    data, tmp_path, changes, parameters, reason
):
    state, outcome = execute(with_arguments(**changes), parameters, tmp_path)
    assert state.status == "Failed"
    assert reason in state.failure_reason
    assert "ModelArtifacts" not in outcome
