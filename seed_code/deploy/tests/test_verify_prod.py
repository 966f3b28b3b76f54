"""verify/verify_prod.py against SageMaker's answers: prod serving what the deploy asked for passes, a rolled-back prod fails
with one line naming the endpoint config and the model package it serves."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verify"))

import verify_prod  # noqa: E402

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/demo-p-abc123/{}"


class FakeSageMaker:
    """The three reads verify_prod.py makes, answered as SageMaker answers them (shapes from botocore's model)."""

    def __init__(self):
        self.endpoints, self.configs, self.models = {}, {}, {}

    def describe_endpoint(self, EndpointName):
        if EndpointName not in self.endpoints:
            error = {
                "Error": {
                    "Code": "ValidationException",
                    "Message": f'Could not find endpoint "{EndpointName}".',
                }
            }
            raise ClientError(error, "DescribeEndpoint")
        return self.endpoints[EndpointName]

    def describe_endpoint_config(self, EndpointConfigName):
        return self.configs[EndpointConfigName]

    def describe_model(self, ModelName):
        return self.models[ModelName]

    def create_endpoint(self, EndpointName, EndpointConfigName, status="InService", reason=None):
        self.endpoints[EndpointName] = {
            "EndpointName": EndpointName,
            "EndpointConfigName": EndpointConfigName,
            "EndpointStatus": status,
            **({"FailureReason": reason} if reason else {}),
        }


@pytest.fixture
def sagemaker(monkeypatch):
    fake = FakeSageMaker()
    monkeypatch.setattr(verify_prod.boto3, "client", lambda service, **_: fake)
    return fake


def deploy(client, version: int, instance_type: str = "ml.m5.large", count: int = 1) -> str:
    """A model of package version ``version`` and an endpoint config for it (as the prod stack creates them)."""
    model = f"model-v{version}-{instance_type.replace('.', '-')}-{count}"
    client.models[model] = {
        "ModelName": model,
        "PrimaryContainer": {"ModelPackageName": PACKAGE.format(version)},
    }
    config = f"config-{model}"
    client.configs[config] = {
        "EndpointConfigName": config,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": instance_type,
                "InitialInstanceCount": count,
                "InitialVariantWeight": 1.0,
            }
        ],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": 80,
            "DestinationS3Uri": "s3://sagemaker-project-p-abc123/datacapture/demo-prod",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    }
    return config


def export(tmp_path, version: int, **overrides) -> Path:
    parameters = {
        "StageName": "prod",
        "SageMakerProjectName": "demo",
        "ModelPackageName": PACKAGE.format(version),
        "EndpointInstanceType": "ml.m5.large",
        "EndpointInstanceCount": "1",
        "EnableDataCapture": "true",
        "SamplingPercentage": "80",
        **overrides,
    }
    path = tmp_path / "prod-config-export.json"
    path.write_text(json.dumps({"Parameters": parameters, "Tags": {}}))
    return path


def run(capsys, path) -> tuple[int, str, str]:
    code = verify_prod.main(
        ["--import-prod-config", str(path), "--wait-seconds", "0", "--poll-seconds", "0.01"]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prod_serving_what_the_deploy_asked_for_passes(sagemaker, tmp_path, capsys):
    config = deploy(sagemaker, 2)
    sagemaker.create_endpoint(EndpointName="demo-prod", EndpointConfigName=config)
    code, out, err = run(capsys, export(tmp_path, 2))
    assert (code, err) == (0, "")
    assert f"serves endpoint config {config}" in out and PACKAGE.format(2) in out


def test_a_rolled_back_prod_fails_naming_what_it_serves(sagemaker, tmp_path, capsys):
    old = deploy(sagemaker, 1)
    deploy(sagemaker, 2)  # the update's new config, which SageMaker rolled back from
    sagemaker.create_endpoint(EndpointName="demo-prod", EndpointConfigName=old)
    code, out, err = run(capsys, export(tmp_path, 2))
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert f"prod endpoint demo-prod was rolled back to endpoint config {old}" in err
    assert f"model package {PACKAGE.format(1)}, not {PACKAGE.format(2)}" in err
    assert "docs/production.md" in err


def test_a_config_change_that_did_not_take_fails_too(sagemaker, tmp_path, capsys):
    config = deploy(sagemaker, 2, count=1)
    sagemaker.create_endpoint(EndpointName="demo-prod", EndpointConfigName=config)
    code, _, err = run(capsys, export(tmp_path, 2, EndpointInstanceCount="3", SamplingPercentage="50"))
    assert code == 1
    assert "EndpointInstanceCount 1, not 3" in err and "sampling 80 %, not 50 %" in err


def test_no_prod_endpoint_and_a_bad_export_are_one_line_failures(sagemaker, tmp_path, capsys):
    code, _, err = run(capsys, export(tmp_path, 2))
    assert code == 1 and err.startswith("error: prod endpoint demo-prod cannot be described")
    (tmp_path / "staging.json").write_text(json.dumps({"Parameters": {"StageName": "staging"}}))
    code, _, err = run(capsys, tmp_path / "staging.json")
    assert code == 1 and "is not a prod export" in err and err.count("\n") == 1


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        verify_prod.main(["--import-prod-config", "x.json", "--poll-seconds", "0"])
    assert exited.value.code == 2 and "--poll-seconds" in capsys.readouterr().err
