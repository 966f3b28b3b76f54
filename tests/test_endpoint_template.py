"""The deploy seed's endpoint template: lint-clean, serverless for staging, instances + data capture for prod."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest
from cfnlint.api import lint_file

from tests._local_helpers import service_role

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "seed_code" / "deploy"
TEMPLATE = DEPLOY / "endpoint-config-template.yml"
GROUP = "demo-p-abc123"
BASELINE = "s3://sagemaker-project-p-abc123/demo-p-abc123/exec/data-quality-baseline"


def test_template_has_no_lint_findings():
    assert [f"{m.rule.id} {m.message} line {m.linenumber}" for m in lint_file(TEMPLATE)] == []


def model_role(name: str, readable: str | None = None) -> str:
    """A model execution role SageMaker can assume, reading ``readable`` objects (an S3 ARN pattern)."""
    reads = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": readable}] if readable else []
    return service_role(boto3.client("iam"), name, "sagemaker.amazonaws.com", *reads, path="/service-role/")


@pytest.fixture
def exports(aws, tmp_path, monkeypatch, request):
    """Run build.py for real (subprocess-free: its main) against an approved package in moto; the project's
    MonitoringBackend is the test's ``backend`` mark (default: the product's default, project)."""
    marker = request.node.get_closest_marker("backend")
    if marker is not None:
        monkeypatch.setenv("MONITORING_BACKEND", marker.args[0])
    sagemaker = boto3.client("sagemaker")
    # What SageMaker checks when the endpoint is created: it can assume the model's role, which reads the model.
    model_role("Exec", readable="arn:aws:s3:::models-b/*")
    boto3.client("s3").create_bucket(Bucket="models-b")
    boto3.client("s3").put_object(Bucket="models-b", Key="model.tar.gz", Body=b"model")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        DriftCheckBaselines={
            "ModelDataQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/statistics.json"},
                "Constraints": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/constraints.json"},
            }
        },
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                    "ModelDataUrl": "s3://models-b/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sys.path.insert(0, str(DEPLOY))
    try:
        import build
    finally:
        sys.path.remove(str(DEPLOY))
    monkeypatch.chdir(tmp_path)
    code = build.main(
        [
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
            "--import-staging-config",
            str(DEPLOY / "staging-config.json"),
            "--import-prod-config",
            str(DEPLOY / "prod-config.json"),
        ]
    )
    assert code == 0
    return {
        stage: json.loads((tmp_path / f"{stage}-config-export.json").read_text())
        for stage in ("staging", "prod")
    }, arn


def deploy(stage_export: dict, stack_name: str):
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in stage_export["Parameters"].items()],
        Tags=[{"Key": k, "Value": v} for k, v in stage_export["Tags"].items()],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    failures = [
        e["ResourceStatusReason"]
        for e in cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        if e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert stack["StackStatus"] == "CREATE_COMPLETE", failures
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_staging_export_deploys_a_serverless_endpoint(exports):
    (rendered, package_arn) = exports
    outputs = deploy(rendered["staging"], "sagemaker-demo-p-abc123-deploy-staging")
    sagemaker = boto3.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName="demo-staging")
    assert outputs["EndpointName"] == "demo-staging"
    assert outputs["EndpointArn"] == endpoint["EndpointArn"]
    variant = endpoint["ProductionVariants"][0]
    assert variant["CurrentServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 20}
    assert "DataCaptureConfig" not in endpoint
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    (config_variant,) = config["ProductionVariants"]
    assert "InstanceType" not in config_variant
    assert not config.get("DataCaptureConfig")
    model = sagemaker.describe_model(ModelName=config_variant["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == package_arn


def test_prod_export_deploys_instances_with_data_capture(exports):
    (rendered, _) = exports
    deploy(rendered["prod"], "sagemaker-demo-p-abc123-deploy-prod")
    sagemaker = boto3.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName="demo-prod")
    assert "CurrentServerlessConfig" not in endpoint["ProductionVariants"][0]
    assert endpoint["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 80,
        "DestinationS3Uri": "s3://sagemaker-project-p-abc123/datacapture/demo-prod",
    }
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    (variant,) = config["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.large", 1)
    capture = config["DataCaptureConfig"]
    # the requests: what the data-quality baseline describes (a captured response would come first on each row)
    assert [o["CaptureMode"] for o in capture["CaptureOptions"]] == ["Input"]
    assert capture["CaptureContentTypeHeader"] == {"CsvContentTypes": ["text/csv"]}


def test_prod_export_of_the_project_backend_deploys_no_model_monitor_resources_in_a_new_account(exports):
    """The default backend watches prod from the project's own check: the prod stack has nothing of Model
    Monitor, so it deploys in an account that cannot use Model Monitor (the embedded one, by default)."""
    (rendered, _) = exports
    assert rendered["prod"]["Parameters"]["MonitoringBackend"] == "project"
    assert rendered["prod"]["Parameters"]["EnableMonitoring"] == "false"
    outputs = deploy(rendered["prod"], "sagemaker-demo-p-abc123-deploy-prod")
    assert "MonitoringScheduleName" not in outputs
    sagemaker = boto3.client("sagemaker")
    assert sagemaker.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    assert sagemaker.list_data_quality_job_definitions()["JobDefinitionSummaries"] == []


@pytest.mark.backend("model-monitor")
def test_the_model_monitor_backend_fails_at_prod_in_a_new_account_naming_the_availability_change(exports):
    (rendered, _) = exports
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName="sagemaker-demo-p-abc123-deploy-prod",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in rendered["prod"]["Parameters"].items()
        ],
    )
    events = cloudformation.describe_stack_events(StackName="sagemaker-demo-p-abc123-deploy-prod")[
        "StackEvents"
    ]
    (failed,) = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed["LogicalResourceId"] == "DataQualityJobDefinition"
    assert "Model Monitor is no longer open to new customers" in failed["ResourceStatusReason"]
    assert "Model Monitor availability change" in failed["ResourceStatusReason"]
    assert "(HandlerErrorCode: InvalidRequest)" in failed["ResourceStatusReason"]


@pytest.mark.backend("model-monitor")
def test_prod_export_deploys_an_hourly_data_quality_schedule_on_the_packages_baseline(
    exports, existing_customer
):
    (rendered, _) = exports
    outputs = deploy(rendered["prod"], "sagemaker-demo-p-abc123-deploy-prod")
    sagemaker = boto3.client("sagemaker")
    (schedule,) = sagemaker.list_monitoring_schedules(EndpointName="demo-prod")["MonitoringScheduleSummaries"]
    assert schedule["MonitoringScheduleName"] == outputs["MonitoringScheduleName"] == "demo-prod-data-quality"
    described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName="demo-prod-data-quality")
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    config = described["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    assert config["MonitoringType"] == "DataQuality"
    definition = sagemaker.describe_data_quality_job_definition(
        JobDefinitionName=config["MonitoringJobDefinitionName"]
    )
    assert definition["DataQualityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": f"{BASELINE}/constraints.json"},
        "StatisticsResource": {"S3Uri": f"{BASELINE}/statistics.json"},
    }
    assert definition["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == "demo-prod"
    assert definition["DataQualityAppSpecification"]["ImageUri"] == (
        "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    )
    assert definition["JobResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert definition["DataQualityJobOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"] == (
        "s3://sagemaker-project-p-abc123/monitoring/demo-prod"
    )
    assert definition["RoleArn"] == "arn:aws:iam::123456789012:role/service-role/Exec"


def test_staging_is_never_monitored(exports):
    """The template refuses monitoring on (serverless) staging at the API, with the reason, as AWS would."""
    (rendered, _) = exports
    assert not boto3.client("sagemaker").list_monitoring_schedules()["MonitoringScheduleSummaries"]
    asked = {
        **rendered["staging"],
        "Parameters": {**rendered["staging"]["Parameters"], "EnableMonitoring": "true"},
    }
    with pytest.raises(
        boto3.client("cloudformation").exceptions.ClientError, match="Model Monitor does not support"
    ):
        deploy(asked, "sagemaker-demo-p-abc123-deploy-staging")


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        (
            {
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 20},
            },
            "not both",
        ),
        ({"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 201}}, "between 1 and 200"),
        (
            {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5, "ProvisionedConcurrency": 6}},
            "ProvisionedConcurrency (6)",
        ),
    ],
)
def test_embedded_sagemaker_rejects_what_sagemaker_rejects(aws, variant, message):
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(ModelName="m", ExecutionRoleArn=model_role("r"), PrimaryContainer={"Image": "i"})
    with pytest.raises(
        sagemaker.exceptions.ClientError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        sagemaker.create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[{"VariantName": "v", "ModelName": "m", **variant}]
        )
