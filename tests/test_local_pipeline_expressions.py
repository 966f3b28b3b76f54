"""The pipeline definition language the embedded SageMaker executes."""

from __future__ import annotations

import pytest

from smbundle.local.sagemaker.pipeline_expressions import (
    Context,
    ExpressionError,
    evaluate_condition,
    references,
    resolve,
)


@pytest.fixture
def context():
    return Context(
        parameters={"MseThreshold": 6.0, "InputDataUrl": "s3://b/abalone.csv"},
        execution={"PipelineExecutionId": "abc123"},
        steps={
            "Preprocess": {
                "ProcessingOutputConfig": {
                    "Outputs": [{"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}}]
                }
            },
            "Train": {"ModelArtifacts": {"S3ModelArtifacts": "s3://b/model.tar.gz"}},
        },
        property_files={"Evaluate": {"Report": {"regression_metrics": {"mse": {"value": 4.5}}}}},
    )


JSON_GET = {
    "Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"},
        "Path": "regression_metrics.mse.value",
    }
}


def test_get_join_and_json_get(context):
    assert (
        resolve({"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}, context)
        == "s3://b/train"
    )
    assert resolve({"Get": "Parameters.InputDataUrl"}, context) == "s3://b/abalone.csv"
    joined = {
        "Std:Join": {"On": "/", "Values": ["s3://b", {"Get": "Execution.PipelineExecutionId"}, "test.csv"]}
    }
    assert resolve(joined, context) == "s3://b/abc123/test.csv"
    assert resolve(JSON_GET, context) == 4.5
    message = {
        "Std:Join": {"On": " ", "Values": ["MSE", JSON_GET, "above", {"Get": "Parameters.MseThreshold"}]}
    }
    assert resolve(message, context) == "MSE 4.5 above 6.0"


def test_conditions(context):
    condition = {
        "Type": "LessThanOrEqualTo",
        "LeftValue": JSON_GET,
        "RightValue": {"Get": "Parameters.MseThreshold"},
    }
    assert evaluate_condition(condition, context) is True
    context.parameters["MseThreshold"] = 4.0
    assert evaluate_condition(condition, context) is False
    assert evaluate_condition({"Type": "Not", "Expression": condition}, context) is True


def test_references_drive_the_step_order():
    arguments = {
        "Inputs": [{"S3Uri": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}}],
        "Other": JSON_GET,
    }
    assert references(arguments) == {"Train", "Evaluate"}


def test_unknown_references_are_clear(context):
    with pytest.raises(ExpressionError, match="unknown pipeline parameter 'Nope'"):
        resolve({"Get": "Parameters.Nope"}, context)
    with pytest.raises(ExpressionError, match="step 'Later' has not run"):
        resolve({"Get": "Steps.Later.ModelArtifacts"}, context)
