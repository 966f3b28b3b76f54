"""The embedded account is a new customer's: Model Monitor and Debugger are refused there as AWS refuses them for
accounts that never used them (closed to new customers since 2026-07-30), and allowed for an existing customer.
Input data is read only from the job's own Region, and AWS's public sample is there in every Region."""

from __future__ import annotations

import copy

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.sagemaker.models import sagemaker_backends

from smbundle.local import sample_data, server
from smbundle.local.s3 import objects
from smbundle.local.sagemaker.pipeline_executor import ExecutionState, PipelineExecutor
from tests._local_helpers import service_role
from tests.test_local_quality_check import STEP as QUALITY_CHECK

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
TRAINING = {
    "AlgorithmSpecification": {"TrainingImage": XGBOOST, "TrainingInputMode": "File"},
    "RoleArn": ROLE,
    "OutputDataConfig": {"S3OutputPath": "s3://sagemaker-data/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "HyperParameters": {"objective": "reg:squarederror", "num_round": "5"},
    "InputDataConfig": [
        {
            "ChannelName": "train",
            "ContentType": "text/csv",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://sagemaker-data/train"}},
        }
    ],
}
DEBUGGER = {"DebugHookConfig": {"S3OutputPath": "s3://sagemaker-data/debug", "CollectionConfigurations": []}}
PROFILER_ON = {"ProfilerConfig": {"S3OutputPath": "s3://sagemaker-data/profile", "DisableProfiler": False}}


def job_definition(sagemaker, name: str = "dq"):
    return sagemaker.create_data_quality_job_definition(
        JobDefinitionName=name,
        DataQualityAppSpecification={"ImageUri": ANALYZER},
        DataQualityJobInput={"EndpointInput": {"EndpointName": "e", "LocalPath": "/opt/ml/processing/input"}},
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {"S3Output": {"S3Uri": "s3://b/r", "LocalPath": "/opt/ml/processing/output"}}
            ]
        },
        JobResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
        },
        RoleArn=ROLE,
    )


def training_job(sagemaker, name: str, **extra):
    return sagemaker.create_training_job(TrainingJobName=name, **copy.deepcopy(TRAINING), **extra)


def test_a_new_account_is_refused_model_monitor_and_debugger_through_the_api(aws):
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with pytest.raises(ClientError) as refused:
        job_definition(sagemaker)
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "Model Monitor is no longer open to new customers" in error["Message"]
    assert "'Amazon SageMaker Model Monitor availability change'" in error["Message"]
    with pytest.raises(ClientError, match="CreateMonitoringSchedule is not available to this account"):
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName="s",
            MonitoringScheduleConfig={"MonitoringJobDefinitionName": "dq", "MonitoringType": "DataQuality"},
        )
    for settings, named in ((DEBUGGER, "DebugHookConfig"), (PROFILER_ON, "ProfilerConfig")):
        with pytest.raises(ClientError) as refused:
            training_job(sagemaker, f"with-{named.lower()}", **settings)
        message = refused.value.response["Error"]["Message"]
        assert f"CreateTrainingJob with {named} is not available to this account" in message
        assert "debugger_hook_config=False, disable_profiler=True" in message
    with pytest.raises(ClientError, match="sagemaker-model-monitor-analyzer is not available"):
        sagemaker.create_processing_job(
            ProcessingJobName="baseline",
            ProcessingResources={
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
            },
            AppSpecification={"ImageUri": ANALYZER},
            RoleArn=ROLE,
        )
    # What the build seed's training step sends (no hook, the profiler off) is what a new account may run.
    assert training_job(sagemaker, "plain", ProfilerConfig={"DisableProfiler": True})["TrainingJobArn"]


def test_an_existing_customer_may_use_them(aws, existing_customer):
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    assert job_definition(sagemaker)["JobDefinitionArn"]
    assert training_job(sagemaker, "debugged", **DEBUGGER, **PROFILER_ON)["TrainingJobArn"]


def run_step(step: dict, tmp_path, region: str = "us-east-1") -> ExecutionState:
    state = ExecutionState()
    arn = f"arn:aws:sagemaker:{region}:{ACCOUNT}:pipeline/demo/execution/exec1"
    PipelineExecutor(
        {"Version": "2020-12-01", "Steps": [step]},
        {},
        arn,
        state,
        sagemaker_backends[ACCOUNT][region],
        workdir=tmp_path,
        role_arn=ROLE,
    ).run()
    return state


@pytest.fixture
def account(aws):
    server.prepare_account()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="sagemaker-data")
    objects.put_bytes("s3://sagemaker-data/train/train.csv", b"1,2\n3,4\n", ACCOUNT)
    objects.put_bytes("s3://sagemaker-data/baseline/baseline.csv", b"a,b\n1,2\n", ACCOUNT)


def test_pipeline_steps_asking_for_debugger_or_model_monitor_fail_as_the_service_refuses_them(
    account, tmp_path
):
    training = {"Name": "Train", "Type": "Training", "Arguments": {**copy.deepcopy(TRAINING), **DEBUGGER}}
    state = run_step(training, tmp_path / "t")
    assert state.status == "Failed"
    assert state.failure_reason.startswith(
        "ClientError: Failed to invoke sagemaker:CreateTrainingJob. Error Details: CreateTrainingJob with "
        "DebugHookConfig is not available to this account"
    )
    state = run_step(copy.deepcopy(QUALITY_CHECK), tmp_path / "q")  # the SDK's QualityCheckStep
    assert state.status == "Failed"
    assert state.failure_reason.startswith(
        "ClientError: Failed to invoke sagemaker:CreateProcessingJob. Error Details: A processing job with image "
    )
    assert "Model Monitor is no longer open to new customers" in state.failure_reason


def test_a_job_reads_its_input_only_from_its_own_region(account, tmp_path):
    """SageMaker's API reference: "Your input bucket must be located in same Amazon Web Services region as your
    training job"; the sample the build seed reads by default is in every Region."""
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="sagemaker-eu-data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    objects.put_bytes("s3://sagemaker-eu-data/train/train.csv", b"1,2\n3,4\n", ACCOUNT)
    step = {"Name": "Train", "Type": "Training", "Arguments": copy.deepcopy(TRAINING)}
    step["Arguments"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = (
        "s3://sagemaker-eu-data/train"
    )
    state = run_step(step, tmp_path / "t")
    assert state.status == "Failed"
    assert state.failure_reason == (
        "ClientError: Data download failed:Unable to download object s3://sagemaker-eu-data/train (BucketRegionError: "
        "bucket sagemaker-eu-data is in eu-west-1, but the job runs in us-east-1: bucket must be in the same region "
        "as the job)"
    )


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_aws_s_public_sample_is_in_every_region_in_aws_s_account(aws, region):
    s3 = boto3.client("s3", region_name=region)
    bucket, _, key = sample_data.sample_url(region)[len("s3://") :].partition("/")
    assert bucket == f"sagemaker-example-files-prod-{region}"
    lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    assert len(lines) == 4177 and {len(line.split(",")) for line in lines} == {9}
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] in (region, None)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]  # not the project account's
    with pytest.raises(ClientError, match="BucketAlreadyExists"):
        boto3.client("s3", region_name="us-east-1").create_bucket(
            Bucket=f"sagemaker-example-files-prod-{region}"
        )
    # Anyone reads it, nobody else writes it: not even this account's administrator.
    for write in (
        lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"F,0.1,0.1,0.1,0.1,0.1,0.1,0.1,1\n"),
        lambda: s3.delete_object(Bucket=bucket, Key=key),
        lambda: s3.put_bucket_policy(Bucket=bucket, Policy="{}"),
    ):
        with pytest.raises(ClientError, match="because no resource-based policy allows the s3:"):
            write()
    assert len(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()) == 4177


def test_a_job_without_a_role_and_a_pipeline_role_sagemaker_cannot_assume_are_refused(account, tmp_path):
    roleless = {"Name": "Train", "Type": "Training", "Arguments": copy.deepcopy(TRAINING)}
    del roleless["Arguments"]["RoleArn"]
    state = run_step(roleless, tmp_path / "r")
    assert (state.status, state.failure_reason) == (
        "Failed",
        "ClientError: Failed to invoke sagemaker:CreateTrainingJob. Error Details: 1 validation error detected: "
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
    )
    other = service_role(boto3.client("iam"), "not-for-sagemaker", "codebuild.amazonaws.com")
    state = ExecutionState()
    PipelineExecutor(
        {
            "Version": "2020-12-01",
            "Steps": [{"Name": "Train", "Type": "Training", "Arguments": copy.deepcopy(TRAINING)}],
        },
        {},
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/demo/execution/exec2",
        state,
        sagemaker_backends[ACCOUNT]["us-east-1"],
        workdir=tmp_path / "p",
        role_arn=other,
    ).run()
    assert state.status == "Failed" and state.steps == []
    assert state.failure_reason.startswith(f"Unable to assume role {other}")


def test_a_job_pulls_an_image_of_the_account_s_ecr_as_its_role(account, tmp_path):
    role = service_role(
        boto3.client("iam"),
        "AmazonSageMakerServiceCatalogProductsNoEcr",
        "sagemaker.amazonaws.com",
        path="/service-role/",
    )
    image = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/processing:1"
    step = {
        "Name": "Process",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5}
            },
            "AppSpecification": {"ImageUri": image, "ContainerEntrypoint": ["python3", "-c", "pass"]},
            "RoleArn": role,
        },
    }
    state = run_step(step, tmp_path / "p")
    assert (state.status, state.failure_reason) == (
        "Failed",
        f"ClientError: The role '{role}' does not have BatchGetImage permission for the image: '{image}'.",
    )
