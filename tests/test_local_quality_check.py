"""The local pipeline executor's QualityCheck step (the SDK's QualityCheckStep, data quality), as the job's role, in
an account that already uses Model Monitor (a new account's step is refused: test_availability.py)."""

from __future__ import annotations

import copy
import json

import boto3
import pytest
from moto.sagemaker.models import sagemaker_backends

from smbundle.local.s3 import objects
from smbundle.local.sagemaker.pipeline_executor import ExecutionState, PipelineExecutor
from smbundle.local.sample_data import generate_rows

ACCOUNT = "123456789012"
ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/demo/execution/exec1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
HEADER = "sex,length,diameter,height,whole_weight,shucked_weight,viscera_weight,shell_weight"

# As the SDK writes a QualityCheckStep into a pipeline definition (checked in the build seed's tests).
STEP = {
    "Name": "Baseline",
    "Type": "QualityCheck",
    "Arguments": {
        "ProcessingResources": {
            "ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
        },
        "AppSpecification": {
            "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
        },
        "RoleArn": ROLE,
        "ProcessingInputs": [
            {
                "InputName": "baseline_dataset_input",
                "S3Input": {
                    "S3Uri": "s3://sagemaker-data/baseline",
                    "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "quality_check_output",
                    "S3Output": {
                        "S3Uri": {
                            "Std:Join": {
                                "On": "/",
                                "Values": [
                                    "s3://sagemaker-data",
                                    {"Get": "Execution.PipelineExecutionId"},
                                    "dq",
                                ],
                            }
                        },
                        "LocalPath": "/opt/ml/processing/output",
                    },
                }
            ]
        },
        "Environment": {
            "output_path": "/opt/ml/processing/output",
            "publish_cloudwatch_metrics": "Disabled",
            "dataset_format": '{"csv": {"header": true, "output_columns_position": "START"}}',
            "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
        },
    },
    "CheckType": "DATA_QUALITY",
    "ModelPackageGroupName": "demo",
    "SkipCheck": True,
    "FailOnViolation": True,
    "RegisterNewBaseline": True,
    "SuppliedBaselineStatistics": None,
    "SuppliedBaselineConstraints": None,
}


def dataset(rows) -> bytes:
    return ("\n".join([HEADER, *(",".join(str(v) for v in row[:8]) for row in rows)]) + "\n").encode()


@pytest.fixture
def data(aws, existing_customer):
    from smbundle.local import server

    server.prepare_account()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="sagemaker-data")
    objects.put_bytes(
        "s3://sagemaker-data/baseline/baseline.csv", dataset(generate_rows(1500, seed=3)), ACCOUNT
    )


def execute(step: dict, tmp_path, arn: str = ARN) -> tuple[ExecutionState, dict]:
    state = ExecutionState()
    executor = PipelineExecutor(
        {"Version": "2020-12-01", "Steps": [step]},
        {},
        arn,
        state,
        sagemaker_backends[ACCOUNT]["us-east-1"],
        workdir=tmp_path,
        role_arn=ROLE,
    )
    executor.run()
    return state, executor.context.steps.get(step["Name"], {})


def test_the_baseline_is_computed_as_the_analyzer_does_and_becomes_the_steps_properties(data, tmp_path):
    state, properties = execute(copy.deepcopy(STEP), tmp_path / "run")
    assert state.status == "Succeeded", state.failure_reason
    assert properties == {
        "CalculatedBaselineStatistics": "s3://sagemaker-data/exec1/dq/statistics.json",
        "CalculatedBaselineConstraints": "s3://sagemaker-data/exec1/dq/constraints.json",
        "BaselineUsedForDriftCheckStatistics": "s3://sagemaker-data/exec1/dq/statistics.json",
        "BaselineUsedForDriftCheckConstraints": "s3://sagemaker-data/exec1/dq/constraints.json",
    }
    statistics = json.loads(objects.get_bytes(properties["CalculatedBaselineStatistics"], ACCOUNT))
    assert statistics["dataset"]["item_count"] == 1500
    assert [f["name"] for f in statistics["features"]] == HEADER.split(",")
    (record,) = state.steps
    assert record.metadata["QualityCheck"]["CheckType"] == "DATA_QUALITY"
    assert record.metadata["QualityCheck"]["CheckJobArn"].startswith(
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:processing-job/pipelines-exec1-Baseline-"
    )
    # The baselining job is a processing job a user can describe, Completed once the step ends.
    job = boto3.client("sagemaker", region_name="us-east-1").describe_processing_job(
        ProcessingJobName=record.metadata["QualityCheck"]["CheckJobArn"].rsplit("/", 1)[1]
    )
    assert job["ProcessingJobStatus"] == "Completed"
    assert job["AppSpecification"]["ImageUri"].endswith("sagemaker-model-monitor-analyzer")


def test_a_check_against_a_supplied_baseline_fails_the_step_on_violations(data, tmp_path):
    _, first = execute(copy.deepcopy(STEP), tmp_path / "first")
    drifted = [[*row[:7], row[7] * 1.5] for row in generate_rows(1500, seed=4)]
    objects.put_bytes("s3://sagemaker-data/baseline/baseline.csv", dataset(drifted), ACCOUNT)
    step = copy.deepcopy(STEP)
    step.update(
        SkipCheck=False,
        RegisterNewBaseline=False,
        SuppliedBaselineStatistics=first["CalculatedBaselineStatistics"],
        SuppliedBaselineConstraints=first["CalculatedBaselineConstraints"],
    )
    state, _ = execute(step, tmp_path / "second", ARN.replace("exec1", "exec2"))
    assert state.status == "Failed"
    assert state.failure_reason.startswith("ClientError: Quality check failed: 1 violation(s), see s3://")
    report = json.loads(objects.get_bytes("s3://sagemaker-data/exec2/dq/constraint_violations.json", ACCOUNT))
    assert [v["feature_name"] for v in report["violations"]] == ["shell_weight"]
    (record,) = state.steps
    assert record.failure_reason == state.failure_reason


def test_a_check_with_nothing_to_check_against_says_so(data, tmp_path):
    step = copy.deepcopy(STEP)
    step.update(SkipCheck=False)
    state, _ = execute(step, tmp_path / "run")
    assert state.status == "Failed"
    assert "no baseline to check against" in state.failure_reason
