"""build.py's prod rollout settings: what reaches the prod export (never staging's), the single-instance canary,
and the one-line refusals."""

from __future__ import annotations

import json

import boto3
import build
import pytest
from moto import mock_aws

REPO = build.Path(build.__file__).resolve().parent
GROUP = "demo-p-abc123"


def register(client, status: str) -> str:
    return client.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def args():
    return [
        "--model-execution-role",
        "arn:aws:iam::123456789012:role/service-role/Exec",
        "--model-package-group-name",
        GROUP,
        "--sagemaker-project-id",
        "p-abc123",
        "--sagemaker-project-name",
        "demo",
        "--s3-bucket",
        "sagemaker-project-p-abc123",
    ]


@pytest.fixture
def sagemaker():
    with mock_aws():
        client = boto3.client("sagemaker")
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        register(client, "Approved")
        yield client


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for name in ("staging-config.json", "prod-config.json"):
        (tmp_path / name).write_text((REPO / name).read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def commit(workdir, stage: str, **parameters):
    (workdir / f"{stage}-config.json").write_text(
        json.dumps({"Parameters": {"StageName": stage, **parameters}, "Tags": {}})
    )


def built(workdir, capsys):
    code = build.main(args())
    captured = capsys.readouterr()
    if code != 0:
        return code, captured.err, None, None
    prod = json.loads((workdir / "prod-config-export.json").read_text())["Parameters"]
    staging = json.loads((workdir / "staging-config-export.json").read_text())["Parameters"]
    return code, captured.out, prod, staging


def test_the_project_s_choices_reach_prod_and_never_staging(sagemaker, workdir, capsys, monkeypatch):
    for name, value in {
        "PROD_MIN_INSTANCE_COUNT": "2",
        "PROD_MAX_INSTANCE_COUNT": "5",
        "PROD_TARGET_INVOCATIONS_PER_INSTANCE": "120",
        "PROD_DEPLOYMENT_STRATEGY": "linear",
        "PROD_LINEAR_STEP_PERCENT": "50",
        "PROD_BAKE_TIME_SECONDS": "300",
        "PROD_ALARM_ROLLBACK": "true",
        "PROD_LATENCY_P99_THRESHOLD_MS": "250",
    }.items():
        monkeypatch.setenv(name, value)
    code, out, prod, staging = built(workdir, capsys)
    assert code == 0, out
    assert {k: prod[k] for k in build.ROLLOUT_SETTINGS} == {
        "MaxInstanceCount": "5",
        "TargetInvocationsPerInstance": "120",
        "DeploymentStrategy": "linear",
        "CanarySizePercent": "25",
        "LinearStepPercent": "50",
        "BakeTimeSeconds": "300",
        "AlarmRollback": "true",
        "LatencyP99ThresholdMs": "250",
    }
    assert prod["EndpointInstanceCount"] == "2"
    assert not set(build.ROLLOUT_SETTINGS) & set(staging) and "EndpointInstanceCount" not in staging
    assert "prod rollout: autoscaling 2-5 x ml.m5.large at 120 invocations/instance/minute" in out
    assert "linear 50 % steps" in out and "rolled back by its 5XX and p99 latency (> 250 ms) alarms" in out


def test_the_default_canary_deploys_all_at_once_on_one_instance_and_says_why(sagemaker, workdir, capsys):
    code, out, prod, _ = built(workdir, capsys)
    assert code == 0
    assert (prod["DeploymentStrategy"], prod["EndpointInstanceCount"], prod["MaxInstanceCount"]) == (
        "all-at-once",
        "1",
        "1",
    )
    assert prod["AlarmRollback"] == "false"
    assert "canary needs at least 2 instances" in out and "1 x ml.m5.large, no autoscaling" in out


def test_a_project_created_before_autoscaling_keeps_its_instance_count(
    sagemaker, workdir, capsys, monkeypatch
):
    monkeypatch.setenv("PROD_INSTANCE_COUNT", "3")  # the variable of ProdInstanceCount, before the rename
    code, out, prod, _ = built(workdir, capsys)
    assert code == 0 and prod["EndpointInstanceCount"] == "3"
    assert prod["DeploymentStrategy"] == "canary"  # 3 instances: a canary fits


@pytest.mark.parametrize(
    ("stage", "committed", "message"),
    [
        (
            "prod",
            {"MaxInstanceCount": "1", "EndpointInstanceCount": "2"},
            "MaxInstanceCount (1) must be at least",
        ),
        ("prod", {"DeploymentStrategy": "blue-green"}, "DeploymentStrategy must be one of canary, linear"),
        ("prod", {"CanarySizePercent": "60"}, "CanarySizePercent must be between 1 and 50"),
        ("prod", {"LinearStepPercent": "5"}, "LinearStepPercent must be between 10 and 50"),
        ("prod", {"BakeTimeSeconds": "4000"}, "BakeTimeSeconds must be between 0 and 3600"),
        ("prod", {"AlarmRollback": "yes"}, 'AlarmRollback must be "true" or "false"'),
        ("prod", {"AlarmRollback": "true", "BakeTimeSeconds": "60"}, "needs BakeTimeSeconds of at least 180"),
        ("prod", {"LatencyP99ThresholdMs": "0"}, "LatencyP99ThresholdMs must be between 1 and 60000"),
        ("prod", {"DeploymentStrategy": "canary"}, "needs EndpointInstanceCount 2 or more"),
        ("staging", {"MaxInstanceCount": "3"}, "no instances to autoscale and no deployment guardrails"),
        ("staging", {"AlarmRollback": "true"}, "cannot be set for staging"),
    ],
)
def test_bad_rollout_settings_are_refused_in_one_line(sagemaker, workdir, capsys, stage, committed, message):
    commit(workdir, stage, **committed)
    code, err, _, _ = built(workdir, capsys)
    assert code == 1 and message in err and err.count("\n") == 1
    assert not list(workdir.glob("*-export.json"))


def test_an_instance_type_change_under_autoscaling_is_warned_about(sagemaker, workdir, capsys, monkeypatch):
    role = "arn:aws:iam::123456789012:role/service-role/Exec"
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    boto3.client("iam").create_role(  # CreateModel needs a role SageMaker can assume, as on AWS
        RoleName="Exec",
        Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )
    sagemaker.create_model(ModelName="m", ExecutionRoleArn=role, PrimaryContainer={"Image": "img"})
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="demo-prod", EndpointConfigName="c")
    monkeypatch.setenv("PROD_INSTANCE_TYPE", "ml.c5.xlarge")
    monkeypatch.setenv("PROD_MAX_INSTANCE_COUNT", "4")
    code, out, _, _ = built(workdir, capsys)
    assert code == 0
    assert "warning: prod's instance type changes from ml.m5.large to ml.c5.xlarge" in out
