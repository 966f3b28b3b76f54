"""A processing job acts as its role, never as the developer: it gets the job role's temporary credentials for the
embedded AWS, and nothing of the host's AWS setup (no AWS_* variables, no profile, no ~/.aws)."""

from __future__ import annotations

import json
import time

import pytest

from smbundle.local import server

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
BUCKET = "sagemaker-job-environment"
PROBE = b"""
import json, os, pathlib, sys
import boto3
home = pathlib.Path(os.environ["HOME"])
found = {
    "caller": boto3.client("sts").get_caller_identity()["Arn"],
    "home": str(home),
    "aws_files": sorted(str(p) for p in (home / ".aws").glob("*")) if (home / ".aws").exists() else [],
    "environment": {k: v for k, v in os.environ.items() if k.startswith("AWS_")},
}
out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
(out / "probe.json").write_text(json.dumps(found))
"""


@pytest.fixture
def host_credentials(tmp_path, monkeypatch):
    """A developer's machine: a real-looking default profile in ~/.aws and keys in the environment."""
    home = tmp_path / "developer"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAHOSTDEVELOPERKEY\naws_secret_access_key = host-secret\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_PROFILE", "default")
    return home


def test_a_processing_job_sees_its_roles_credentials_and_not_the_hosts(host_credentials):
    with server.start() as aws:
        s3, sagemaker = aws.client("s3"), aws.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="code/probe.py", Body=PROBE)
        step = {
            "Name": "Probe",
            "Type": "Processing",
            "Arguments": {
                "ProcessingResources": {
                    "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5}
                },
                "AppSpecification": {
                    "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
                    "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/probe.py"],
                    "ContainerArguments": ["/opt/ml/processing/out"],
                },
                "RoleArn": ROLE,
                "ProcessingInputs": [
                    {
                        "InputName": "code",
                        "S3Input": {
                            "S3Uri": f"s3://{BUCKET}/code/probe.py",
                            "LocalPath": "/opt/ml/processing/input/code",
                            "S3DataType": "S3Prefix",
                            "S3InputMode": "File",
                        },
                    }
                ],
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {
                            "OutputName": "out",
                            "S3Output": {
                                "S3Uri": f"s3://{BUCKET}/out",
                                "LocalPath": "/opt/ml/processing/out",
                                "S3UploadMode": "EndOfJob",
                            },
                        }
                    ]
                },
            },
        }
        definition = {"Version": "2020-12-01", "Steps": [step]}
        sagemaker.create_pipeline(
            PipelineName="probe", PipelineDefinition=json.dumps(definition), RoleArn=ROLE
        )
        arn = sagemaker.start_pipeline_execution(PipelineName="probe")["PipelineExecutionArn"]
        deadline = time.monotonic() + 60
        while (
            sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
            == "Executing"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
        found = json.loads(s3.get_object(Bucket=BUCKET, Key="out/probe.json")["Body"].read())
    assert found["caller"].startswith(
        "arn:aws:sts::123456789012:assumed-role/AmazonSageMakerServiceCatalogProductsExecutionRole/"
    )
    assert found["home"] != str(host_credentials) and found["aws_files"] == []
    environment = found["environment"]
    assert environment["AWS_ENDPOINT_URL"] == aws.url
    assert environment["AWS_ACCESS_KEY_ID"] not in ("AKIAHOSTDEVELOPERKEY", "testing")
    assert "AWS_PROFILE" not in environment and environment["AWS_SESSION_TOKEN"]
    assert environment["AWS_REGION"] == "us-east-1"
