"""monitoring/start_check.py against moto: what it checks, what it skips, the pipeline it starts."""

from __future__ import annotations

import importlib.util
import json
import shutil

import boto3
import build
import pytest
from moto import mock_aws

REPO = build.Path(build.__file__).resolve().parent
spec = importlib.util.spec_from_file_location("start_check", REPO / "monitoring" / "start_check.py")
start_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(start_check)

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
BASELINE = "s3://sagemaker-project-p-abc123/demo-p-abc123/exec-1/data-quality-baseline"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ARGS = [
    "--sagemaker-project-name",
    "demo",
    "--sagemaker-project-id",
    "p-abc123",
    "--s3-bucket",
    "sagemaker-project-p-abc123",
    "--role-arn",
    ROLE,
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copy(REPO / "prod-config.json", tmp_path / "prod-config.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sagemaker(workdir):
    with mock_aws():
        # What SageMaker checks as the endpoint is created: it assumes the model's role, which reads the model.
        trust = {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
        read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::sagemaker-models-b/*"}
        iam = boto3.client("iam")
        iam.create_role(
            RoleName=ROLE.rsplit("/", 1)[-1],
            Path="/service-role/",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
        )
        iam.put_role_policy(
            RoleName=ROLE.rsplit("/", 1)[-1],
            PolicyName="read-models",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [read]}),
        )
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="sagemaker-models-b")
        s3.put_object(Bucket="sagemaker-models-b", Key="model.tar.gz", Body=b"model")
        yield boto3.client("sagemaker")


def prod(sagemaker, analyzer: bool = True, capture: bool = True) -> str:
    """The prod endpoint as the deploy pipeline leaves it: a model of an approved package with its baseline."""
    sagemaker.create_model_package_group(ModelPackageGroupName="demo-p-abc123")
    metadata = {"DataQualityAnalyzerS3Uri": f"{BASELINE}/data_quality.py"} if analyzer else {}
    package = sagemaker.create_model_package(
        ModelPackageGroupName="demo-p-abc123",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://sagemaker-models-b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        DriftCheckBaselines={
            "ModelDataQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/statistics.json"},
                "Constraints": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/constraints.json"},
            }
        },
        CustomerMetadataProperties=metadata,
    )["ModelPackageArn"]
    sagemaker.create_model(
        ModelName="prod-model", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package}
    )
    extra = {}
    if capture:
        extra["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 80,
            "DestinationS3Uri": "s3://sagemaker-project-p-abc123/datacapture/demo-prod",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        }
    sagemaker.create_endpoint_config(
        EndpointConfigName="prod-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "prod-model",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        **extra,
    )
    sagemaker.create_endpoint(EndpointName="demo-prod", EndpointConfigName="prod-config")
    return package


def test_the_check_of_prod_is_a_sagemaker_pipeline_started_with_what_prod_serves(sagemaker, capsys):
    package = prod(sagemaker)
    assert start_check.main([*ARGS, "--schedule-expression", "cron(0 0/6 ? * * *)"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("data-quality check: started arn:aws:sagemaker:us-east-1:123456789012:pipeline/")
    pipeline = sagemaker.describe_pipeline(PipelineName="demo-p-abc123-data-quality")
    assert pipeline["RoleArn"] == ROLE
    definition = json.loads(pipeline["PipelineDefinition"])
    assert [s["Name"] for s in definition["Steps"]] == ["CheckDataQuality", "CheckForViolations"]
    check, condition = definition["Steps"]
    assert check["Arguments"]["AppSpecification"]["ContainerArguments"][0] == "check"
    (fail,) = condition["Arguments"]["ElseSteps"]
    assert (fail["Name"], fail["Type"]) == ("DataQualityViolations", "Fail")
    assert condition["Arguments"]["Conditions"][0]["LeftValue"]["Std:JsonGet"]["Path"] == "violation_count"
    (execution,) = sagemaker.list_pipeline_executions(PipelineName="demo-p-abc123-data-quality")[
        "PipelineExecutionSummaries"
    ]
    parameters = {
        p["Name"]: p["Value"]
        for p in sagemaker.list_pipeline_parameters_for_execution(
            PipelineExecutionArn=execution["PipelineExecutionArn"]
        )["PipelineParameters"]
    }
    assert parameters == {
        "EndpointName": "demo-prod",
        "CaptureUri": "s3://sagemaker-project-p-abc123/datacapture/demo-prod/demo-prod",
        "BaselineStatisticsUri": f"{BASELINE}/statistics.json",
        "BaselineConstraintsUri": f"{BASELINE}/constraints.json",
        "AnalyzerUri": f"{BASELINE}/data_quality.py",
        "ImageUri": IMAGE,  # the model's own image: it exists wherever the model runs
        "ReportsUri": "s3://sagemaker-project-p-abc123/monitoring/demo-prod",
        "WindowHours": "6",  # every 6 hours: each run checks the 6 hours since the previous one
        "InstanceType": "ml.m5.xlarge",
        "Region": "us-east-1",
    }
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution["PipelineExecutionArn"])
    assert described["PipelineExecutionDescription"] == f"demo-prod against the baseline of {package}"
    # A second run updates the same pipeline and starts it again.
    assert start_check.main(ARGS) == 0
    assert (
        len(
            sagemaker.list_pipeline_executions(PipelineName="demo-p-abc123-data-quality")[
                "PipelineExecutionSummaries"
            ]
        )
        == 2
    )


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("none", "prod endpoint demo-prod does not exist yet: nothing to check"),
        ("no-capture", "prod endpoint demo-prod captures no requests (EnableDataCapture): nothing to check"),
        (
            "no-analyzer",
            "no analyzer (CustomerMetadataProperties.DataQualityAnalyzerS3Uri): nothing to check against",
        ),
        ("off", 'the project\'s data-quality check is off: prod-config.json sets EnableMonitoring "false"'),
        ("model-monitor", "the project's data-quality check is off: MonitoringBackend is 'model-monitor'"),
    ],
)
def test_nothing_to_check_is_said_and_is_not_a_failure(
    sagemaker, workdir, capsys, monkeypatch, setup, reason
):
    if setup == "no-capture":
        prod(sagemaker, capture=False)
    elif setup == "no-analyzer":
        prod(sagemaker, analyzer=False)
    elif setup == "off":
        prod(sagemaker)
        (workdir / "prod-config.json").write_text(
            '{"Parameters": {"StageName": "prod", "EnableMonitoring": "false"}}'
        )
    elif setup == "model-monitor":
        prod(sagemaker)
        monkeypatch.setenv("MONITORING_BACKEND", "model-monitor")
    assert start_check.main(ARGS) == 0
    assert reason in capsys.readouterr().out
    assert sagemaker.list_pipelines()["PipelineSummaries"] == []


@pytest.mark.parametrize(
    ("expression", "hours"),
    [
        ("cron(0 * ? * * *)", 1),
        ("cron(0 2 ? * * *)", 24),
        ("cron(0 0/6 ? * * *)", 6),
        ("cron(0 1/12 ? * * *)", 12),
    ],
)
def test_each_run_checks_the_hours_since_the_previous_one(expression, hours):
    assert start_check.window_hours(expression) == hours


def test_a_schedule_or_setting_that_cannot_work_is_one_line(sagemaker, capsys):
    assert start_check.main([*ARGS, "--schedule-expression", "rate(1 hour)"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: schedule 'rate(1 hour)' is not one of cron(0 * ? * * *), cron(0 H ? * * *) or cron(0 H/N ? * * *)"
    )
    assert start_check.main(ARGS[:-2]) == 2
    assert "--role-arn is empty" in capsys.readouterr().err
