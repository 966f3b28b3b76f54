"""The pipeline definition, produced offline (moto stands in for S3, where the SDK uploads the scripts)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from pipelines import cli

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
ARGS = [
    "--project-name",
    "demo",
    "--project-id",
    "p-abc",
    "--role-arn",
    ROLE,
    "--default-bucket",
    "artifacts",
    "--region",
    "us-east-1",
]


@pytest.fixture
def definition(tmp_path):
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="artifacts")
        path = tmp_path / "definition.json"
        assert cli.get_pipeline_definition([*ARGS, "--file-name", str(path)]) == 0
        return json.loads(path.read_text())


def step(definition, name):
    for candidate in definition["Steps"]:
        if candidate["Name"] == name:
            return candidate
        for nested in candidate.get("Arguments", {}).get("IfSteps", []) + candidate.get("Arguments", {}).get(
            "ElseSteps", []
        ):
            if nested["Name"] == name:
                return nested
    raise AssertionError(f"no step {name}")


def test_steps_and_parameters(definition):
    assert [s["Name"] for s in definition["Steps"]] == [
        "PreprocessAbaloneData",
        "TrainAbaloneModel",
        "EvaluateAbaloneModel",
        "CheckMseAbaloneEvaluation",
    ]
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    assert set(parameters) == {
        "ProcessingInstanceType",
        "ProcessingInstanceCount",
        "TrainingInstanceType",
        "TrainingInstanceCount",
        "ModelApprovalStatus",
        "InputDataUrl",
        "MseThreshold",
    }
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert parameters["MseThreshold"] == {"Name": "MseThreshold", "Type": "Float", "DefaultValue": 6.0}
    assert parameters["InputDataUrl"]["DefaultValue"].endswith("uci_abalone/abalone.csv")


def test_training_uses_the_builtin_xgboost_with_squared_error(definition):
    training = step(definition, "TrainAbaloneModel")["Arguments"]
    assert "sagemaker-xgboost:3.0-5" in training["AlgorithmSpecification"]["TrainingImage"]
    assert training["HyperParameters"]["objective"] == "reg:squarederror"
    assert {c["ChannelName"] for c in training["InputDataConfig"]} == {"train", "validation"}


def test_processing_steps_pass_every_directory_explicitly(definition):
    for name in ("PreprocessAbaloneData", "EvaluateAbaloneModel"):
        arguments = step(definition, name)["Arguments"]
        container_arguments = arguments["AppSpecification"]["ContainerArguments"]
        local_paths = [
            i["S3Input"]["LocalPath"] for i in arguments["ProcessingInputs"] if i["InputName"] != "code"
        ]
        local_paths += [o["S3Output"]["LocalPath"] for o in arguments["ProcessingOutputConfig"]["Outputs"]]
        for path in local_paths:
            assert any(path.startswith(a) for a in container_arguments if a.startswith("/opt/ml/")), path
    assert "1.4-2" in step(definition, "PreprocessAbaloneData")["Arguments"]["AppSpecification"]["ImageUri"]


def test_condition_register_and_fail_branches(definition):
    condition = step(definition, "CheckMseAbaloneEvaluation")["Arguments"]
    (check,) = condition["Conditions"]
    assert check["Type"] == "LessThanOrEqualTo"
    assert check["LeftValue"]["Std:JsonGet"]["Path"] == "regression_metrics.mse.value"
    assert check["RightValue"] == {"Get": "Parameters.MseThreshold"}
    assert [s["Name"] for s in condition["IfSteps"]] == ["RegisterAbaloneModel-RegisterModel"]
    assert [s["Name"] for s in condition["ElseSteps"]] == ["FailAbaloneModelMse"]
    register = step(definition, "RegisterAbaloneModel-RegisterModel")["Arguments"]
    assert register["ModelPackageGroupName"] == "demo-p-abc"
    assert register["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]
    assert register["InferenceSpecification"]["SupportedResponseMIMETypes"] == ["text/csv"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert "evaluation.json" in json.dumps(register["ModelMetrics"]["ModelQuality"]["Statistics"])
    assert "test.csv" in json.dumps(register["CustomerMetadataProperties"]["TestDataS3Uri"])
    fail = step(definition, "FailAbaloneModelMse")["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert {"Std:JsonGet": check["LeftValue"]["Std:JsonGet"]} in fail  # the message carries the MSE


def test_missing_settings_are_one_clear_error(capsys):
    assert cli.get_pipeline_definition(["--project-name", "demo"]) == 2  # a usage error
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: missing --project-id, --role-arn, --default-bucket")
