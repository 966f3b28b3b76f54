"""The pipeline definition, produced offline (moto stands in for S3, where the SDK uploads the scripts)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from pipelines import cli
from pipelines.abalone import preprocess

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
        "BaselineAbaloneDataQuality",
        "TrainAbaloneModel",
        "PackageAbaloneModel",
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
    assert parameters["InputDataUrl"]["DefaultValue"] == (
        "s3://sagemaker-example-files-prod-us-east-1/datasets/tabular/uci_abalone/abalone.csv"
    )


def test_the_default_input_is_the_sample_in_the_pipelines_own_region(tmp_path):
    """SageMaker jobs cannot read S3 input from another Region: each Region reads its own copy of the sample."""
    with mock_aws():
        boto3.client("s3", region_name="eu-west-1").create_bucket(
            Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        path = tmp_path / "definition.json"
        arguments = [*ARGS[:-1], "eu-west-1", "--file-name", str(path)]
        assert cli.get_pipeline_definition(arguments) == 0
    parameters = {p["Name"]: p for p in json.loads(path.read_text())["Parameters"]}
    assert parameters["InputDataUrl"]["DefaultValue"].startswith(
        "s3://sagemaker-example-files-prod-eu-west-1/"
    )


def test_training_uses_the_builtin_xgboost_with_squared_error(definition):
    training = step(definition, "TrainAbaloneModel")["Arguments"]
    assert "sagemaker-xgboost:3.0-5" in training["AlgorithmSpecification"]["TrainingImage"]
    assert training["HyperParameters"]["objective"] == "reg:squarederror"
    assert {c["ChannelName"] for c in training["InputDataConfig"]} == {"train", "validation"}


def test_training_asks_for_neither_debugger_nor_the_profiler(definition):
    """Debugger is closed to new customers: no hook, no rules, and the profiler explicitly off."""
    training = step(definition, "TrainAbaloneModel")["Arguments"]
    for key in ("DebugHookConfig", "DebugRuleConfigurations", "ProfilerRuleConfigurations"):
        assert key not in training
    assert training.get("ProfilerConfig", {"DisableProfiler": True}) == {"DisableProfiler": True}
    assert "model-monitor" not in json.dumps(definition) and "QualityCheck" not in json.dumps(definition)


def test_processing_steps_pass_every_directory_explicitly(definition):
    for name in ("PreprocessAbaloneData", "PackageAbaloneModel", "EvaluateAbaloneModel"):
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
    assert register["InferenceSpecification"]["SupportedResponseMIMETypes"] == [
        "text/csv",
        "application/json",
    ]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert "evaluation.json" in json.dumps(register["ModelMetrics"]["ModelQuality"]["Statistics"])
    assert "test.csv" in json.dumps(register["CustomerMetadataProperties"]["TestDataS3Uri"])
    fail = step(definition, "FailAbaloneModelMse")["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert {"Std:JsonGet": check["LeftValue"]["Std:JsonGet"]} in fail  # the message carries the MSE


def test_missing_settings_are_one_clear_error(capsys):
    assert cli.get_pipeline_definition(["--project-name", "demo"]) == 2  # a usage error
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: missing --project-id, --role-arn, --default-bucket")


def test_registered_model_is_the_packaged_artifact_served_in_script_mode(definition):
    register = step(definition, "RegisterAbaloneModel-RegisterModel")["Arguments"]
    (container,) = register["InferenceSpecification"]["Containers"]
    assert "sagemaker-xgboost:3.0-5" in container["Image"]  # the framework image serves script mode
    assert container["Environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
        "SAGEMAKER_REGION": "us-east-1",
    }
    packaged = {"Get": "Steps.PackageAbaloneModel.ProcessingOutputConfig.Outputs['model'].S3Output.S3Uri"}
    assert container["ModelDataUrl"] == {"Std:Join": {"On": "/", "Values": [packaged, "model.tar.gz"]}}
    evaluation_inputs = step(definition, "EvaluateAbaloneModel")["Arguments"]["ProcessingInputs"]
    assert packaged in [i["S3Input"]["S3Uri"] for i in evaluation_inputs]  # what is evaluated is registered


def test_package_step_gets_the_model_the_preprocessing_and_the_serving_script(definition):
    inputs = {
        i["S3Input"]["LocalPath"]: i["S3Input"]["S3Uri"]
        for i in step(definition, "PackageAbaloneModel")["Arguments"]["ProcessingInputs"]
    }
    assert inputs["/opt/ml/processing/model"] == {
        "Get": "Steps.TrainAbaloneModel.ModelArtifacts.S3ModelArtifacts"
    }
    assert "Outputs['preprocessing']" in inputs["/opt/ml/processing/preprocessing"]["Get"]
    assert inputs["/opt/ml/processing/serving-code"].endswith("/inference.py")


def test_preprocess_in_the_container_layout_reads_only_its_data(definition, abalone_csv, tmp_path, caplog):
    """Lay out /opt/ml/processing as the definition mounts it (the script itself under input/code) and run it
    with the definition's own arguments: only the data input's files are read."""
    arguments = step(definition, "PreprocessAbaloneData")["Arguments"]
    root = tmp_path / "container"

    def local(path: str) -> Path:
        return root / path.removeprefix("/opt/ml/")

    for item in arguments["ProcessingInputs"]:
        target = local(item["S3Input"]["LocalPath"])
        target.mkdir(parents=True)
        source = Path(preprocess.__file__) if item["InputName"] == "code" else abalone_csv
        shutil.copy(source, target / source.name)
    container_arguments = [
        str(local(a)) if a.startswith("/opt/ml/") else a
        for a in arguments["AppSpecification"]["ContainerArguments"]
    ]
    with caplog.at_level(logging.INFO, logger="preprocess"):
        preprocess.main(container_arguments)
    assert "read 1200 rows from 1 file(s); 1200 usable" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    for item in arguments["ProcessingOutputConfig"]["Outputs"]:
        assert any(local(item["S3Output"]["LocalPath"]).iterdir()), item["OutputName"]


def test_a_data_quality_baseline_of_the_records_the_endpoint_receives_is_registered(definition):
    """The project's analyzer (data_quality.py baseline, in the scikit-learn image: no Model Monitor image) baselines
    the preprocessing's baseline/ output; the package carries it as ModelMetrics and DriftCheckBaselines, and the
    analyzer that made it as DataQualityAnalyzerS3Uri."""
    baseline = step(definition, "BaselineAbaloneDataQuality")
    assert baseline["Type"] == "Processing"
    arguments = baseline["Arguments"]
    assert "sagemaker-scikit-learn:1.4-2" in arguments["AppSpecification"]["ImageUri"]
    assert arguments["AppSpecification"]["ContainerEntrypoint"][-1].endswith("/data_quality.py")
    assert arguments["AppSpecification"]["ContainerArguments"][0] == "baseline"
    (dataset,) = [i for i in arguments["ProcessingInputs"] if i["InputName"] != "code"]
    assert "Outputs['baseline']" in dataset["S3Input"]["S3Uri"]["Get"]
    output = json.dumps(arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"])
    assert "Execution.PipelineExecutionId" in output and "data-quality-baseline" in output
    register = step(definition, "RegisterAbaloneModel-RegisterModel")["Arguments"]
    produced = {
        "Get": "Steps.BaselineAbaloneDataQuality.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"
    }

    def at(name):
        return {"Std:Join": {"On": "/", "Values": [produced, name]}}

    quality = register["ModelMetrics"]["ModelDataQuality"]
    assert quality["Statistics"]["S3Uri"] == at("statistics.json")
    assert quality["Constraints"]["S3Uri"] == at("constraints.json")
    drift = register["DriftCheckBaselines"]["ModelDataQuality"]
    assert drift["Constraints"]["S3Uri"] == at("constraints.json")
    assert register["CustomerMetadataProperties"]["DataQualityAnalyzerS3Uri"] == at("data_quality.py")


def test_the_baseline_dataset_is_the_training_records_without_the_label(abalone_csv, tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(abalone_csv, tmp_path / "data" / abalone_csv.name)
    preprocess.main(["--input-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out")])
    lines = (tmp_path / "out" / "baseline" / "baseline.csv").read_text().splitlines()
    assert lines[0] == "sex,length,diameter,height,whole_weight,shucked_weight,viscera_weight,shell_weight"
    train_rows = len((tmp_path / "out" / "train" / "train.csv").read_text().splitlines())
    assert len(lines) - 1 == train_rows
    assert all(len(line.split(",")) == 8 for line in lines[1:])
