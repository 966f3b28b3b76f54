"""build.py against moto: which package it picks, what it writes, and how it refuses bad configs."""

from __future__ import annotations

import json
import shutil
import time

import boto3
import build
import pytest
from botocore.stub import Stubber
from moto import mock_aws

REPO = build.Path(build.__file__).resolve().parent
GROUP = "demo-p-abc123"


@pytest.fixture
def sagemaker():
    with mock_aws():
        client = boto3.client("sagemaker")
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        yield client


BASELINE = "s3://sagemaker-project-p-abc123/demo-p-abc123/exec-1/data-quality-baseline"


def register(client, status: str, baseline: bool = False) -> str:
    extra = {}
    if baseline:  # what the build pipeline registers: the data-quality baseline of its QualityCheck step
        extra["DriftCheckBaselines"] = {
            "ModelDataQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/statistics.json"},
                "Constraints": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/constraints.json"},
            }
        }
    arn = client.create_model_package(
        **extra,
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    time.sleep(0.002)  # distinct creation times
    return arn


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for name in ("staging-config.json", "prod-config.json"):
        shutil.copy(REPO / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def args(*extra):
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
        *extra,
    ]


def exports(path):
    return [p.name for p in sorted(path.glob("*-export.json"))]


def test_newest_approved_package_among_mixed_statuses(sagemaker, workdir):
    register(sagemaker, "Approved")
    newest_approved = register(sagemaker, "Approved")
    register(sagemaker, "Rejected")
    register(sagemaker, "PendingManualApproval")
    assert build.main(args()) == 0
    staging = json.loads((workdir / "staging-config-export.json").read_text())
    prod = json.loads((workdir / "prod-config-export.json").read_text())
    assert staging["Parameters"]["ModelPackageName"] == newest_approved
    assert prod["Parameters"]["ModelPackageName"] == newest_approved
    assert staging["Parameters"] | {} == {
        "StageName": "staging",
        "SageMakerProjectName": "demo",
        "ModelPackageName": newest_approved,
        "ModelExecutionRoleArn": "arn:aws:iam::123456789012:role/service-role/Exec",
        "DataCaptureUploadPath": "s3://sagemaker-project-p-abc123/datacapture/demo-staging",
        "MemorySizeInMB": "2048",
        "MaxConcurrency": "20",
        "ProvisionedConcurrency": "0",
    }
    assert prod["Parameters"]["EndpointInstanceType"] == "ml.m5.large"
    assert prod["Parameters"]["EnableDataCapture"] == "true"
    assert staging["Tags"] == {
        "sagemaker:deployment-stage": "staging",
        "sagemaker:project-id": "p-abc123",
        "sagemaker:project-name": "demo",
    }
    assert all(isinstance(v, str) for v in {**staging["Parameters"], **prod["Parameters"]}.values())


def test_newest_approved_found_beyond_the_first_page(sagemaker, workdir):
    for _ in range(105):
        register(sagemaker, "PendingManualApproval")
    oldest = register(sagemaker, "Approved")
    for _ in range(3):
        register(sagemaker, "Rejected")
    newest = register(sagemaker, "Approved")
    assert oldest != newest
    assert build.main(args()) == 0
    assert (
        json.loads((workdir / "staging-config-export.json").read_text())["Parameters"]["ModelPackageName"]
        == newest
    )


def test_no_approved_package_names_the_group_and_writes_nothing(sagemaker, workdir, capsys):
    register(sagemaker, "PendingManualApproval")
    assert build.main(args()) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no Approved model package in model package group demo-p-abc123")
    assert len(err.splitlines()) == 1
    assert exports(workdir) == []


def test_project_parameters_apply_and_committed_values_win(sagemaker, workdir, monkeypatch):
    register(sagemaker, "Approved")
    monkeypatch.setenv("STAGING_MEMORY_SIZE_MB", "4096")
    monkeypatch.setenv("STAGING_MAX_CONCURRENCY", "50")
    monkeypatch.setenv("PROD_INSTANCE_TYPE", "ml.c5.xlarge")
    staging = {"Parameters": {"StageName": "staging", "MaxConcurrency": "30"}, "Tags": {"team": "ml"}}
    (workdir / "staging-config.json").write_text(json.dumps(staging))
    assert build.main(args()) == 0
    exported = json.loads((workdir / "staging-config-export.json").read_text())
    assert exported["Parameters"]["MemorySizeInMB"] == "4096"  # project parameter
    assert exported["Parameters"]["MaxConcurrency"] == "30"  # committed value wins
    assert exported["Tags"]["team"] == "ml"
    prod = json.loads((workdir / "prod-config-export.json").read_text())
    assert prod["Parameters"]["EndpointInstanceType"] == "ml.c5.xlarge"


PROJECT_ARN = "arn:aws:sagemaker:us-east-1:123456789012:project/demo"


def test_project_tags_are_added_except_reserved_ones(sagemaker, workdir, monkeypatch):
    register(sagemaker, "Approved")
    tags = [{"Key": "cost-center", "Value": "42"}, {"Key": "aws:servicecatalog:productArn", "Value": "x"}]
    stubbed = boto3.client("sagemaker")
    with Stubber(stubbed) as stubber:
        stubber.add_response("list_tags", {"Tags": tags}, {"ResourceArn": PROJECT_ARN})
        assert build.project_tags(stubbed, PROJECT_ARN) == {"cost-center": "42"}


def test_a_failure_to_read_project_tags_is_an_error(sagemaker, workdir, capsys, monkeypatch):
    register(sagemaker, "Approved")
    failing = boto3.client("sagemaker")
    stubber = Stubber(failing)
    stubber.add_client_error(
        "list_tags", "AccessDeniedException", "not authorized to perform: sagemaker:ListTags"
    )
    stubber.activate()
    real_client = boto3.client

    def client(service, *a, **kw):
        if service != "sagemaker":
            return real_client(service, *a, **kw)
        real = real_client(service, *a, **kw)
        original = real.get_paginator
        real.get_paginator = lambda name: (
            failing.get_paginator(name) if name == "list_tags" else original(name)
        )
        return real

    monkeypatch.setattr(build.boto3, "client", client)
    assert build.main(args("--sagemaker-project-arn", PROJECT_ARN)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: cannot read the tags of project {PROJECT_ARN}")
    assert "not authorized" in err
    assert exports(workdir) == []


@pytest.mark.parametrize(
    ("stage", "parameters", "message"),
    [
        (
            "staging",
            {"MemorySizeInMB": "1500"},
            "MemorySizeInMB must be one of 1024, 2048, 3072, 4096, 5120, 6144",
        ),
        ("staging", {"MemorySizeInMB": 2048}, "parameter MemorySizeInMB must be a string"),
        ("staging", {"MaxConcurrency": "0"}, "MaxConcurrency must be between 1 and 200, got 0"),
        ("staging", {"MaxConcurrency": "201"}, "MaxConcurrency must be between 1 and 200, got 201"),
        (
            "staging",
            {"MaxConcurency": "20"},
            "unknown parameter 'MaxConcurency' (did you mean MaxConcurrency?)",
        ),
        (
            "staging",
            {"MaxConcurrency": "5", "ProvisionedConcurrency": "6"},
            "ProvisionedConcurrency (6) must not exceed",
        ),
        ("staging", {"EndpointInstanceType": "ml.m5.large"}, "applies to the prod stage only"),
        (
            "prod",
            {"EndpointInstanceType": "m5.large"},
            "EndpointInstanceType must look like ml.<family>.<size>",
        ),
        ("prod", {"SamplingPercentage": "101"}, "SamplingPercentage must be between 0 and 100, got 101"),
        ("prod", {"ModelPackageName": "x"}, "parameter ModelPackageName is set by build.py"),
        (
            "staging",
            {"EnableMonitoring": "true"},
            "EnableMonitoring cannot be set for staging: staging is a serverless endpoint, and SageMaker Model "
            "Monitor does not support serverless endpoints",
        ),
        ("staging", {"MonitoringScheduleExpression": "cron(0 * ? * * *)"}, "cannot be set for staging"),
        ("prod", {"EnableMonitoring": "yes"}, 'EnableMonitoring must be "true" or "false"'),
        (
            "prod",
            {"MonitoringScheduleExpression": "rate(1 hour)"},
            "MonitoringScheduleExpression must be one of the cron forms the schedulers accept",
        ),
        ("prod", {"MonitoringInstanceType": "m5.xlarge"}, "MonitoringInstanceType must look like ml."),
        (
            "prod",
            {"EnableDataCapture": "false"},
            'EnableMonitoring "true" needs EnableDataCapture "true"',
        ),
        ("prod", {"DataQualityBaselineStatisticsUri": "s3://x/y"}, "is set by build.py"),
    ],
)
def test_invalid_stage_config_one_line_error_and_no_files(
    sagemaker, workdir, capsys, stage, parameters, message
):
    register(sagemaker, "Approved")
    config = {"Parameters": {"StageName": stage, **parameters}, "Tags": {}}
    (workdir / f"{stage}-config.json").write_text(json.dumps(config))
    assert build.main(args()) == 1
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert exports(workdir) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"Parameters": {}}', "Parameters.StageName is missing"),
        ('{"Parameters": {"StageName": "Prod"}}', "StageName is 'Prod' but this file configures 'prod'"),
        ('{"Parameters": {"StageName": "prod"}, "Tag": {}}', "unknown key 'Tag' (did you mean Tags?)"),
        ("{not json", "is not valid JSON"),
    ],
)
def test_invalid_prod_file(sagemaker, workdir, capsys, content, message):
    register(sagemaker, "Approved")
    (workdir / "prod-config.json").write_text(content)
    assert build.main(args()) == 1
    assert message in capsys.readouterr().err
    assert exports(workdir) == []


def test_project_tags_fall_back_to_the_lower_cased_arn():
    stubbed = boto3.client("sagemaker")
    mixed = "arn:aws:sagemaker:us-east-1:123456789012:project/MyProject"
    with Stubber(stubbed) as stubber:
        stubber.add_client_error(
            "list_tags", "ValidationException", "not found", expected_params={"ResourceArn": mixed}
        )
        stubber.add_response(
            "list_tags",
            {"Tags": [{"Key": "team", "Value": "ml"}]},
            {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:project/myproject"},
        )
        assert build.project_tags(stubbed, mixed) == {"team": "ml"}


def test_a_bad_project_choice_blames_the_environment_not_the_file(sagemaker, workdir, capsys, monkeypatch):
    register(sagemaker, "Approved")
    monkeypatch.setenv("STAGING_MEMORY_SIZE_MB", "1500")
    assert build.main(args()) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: environment variable STAGING_MEMORY_SIZE_MB (the project's choice")
    assert "MemorySizeInMB must be one of 1024, 2048" in err and "'1500'" in err
    assert len(err.splitlines()) == 1 and exports(workdir) == []


@pytest.mark.parametrize(
    ("extra", "env", "code", "message"),
    [
        (["--log-level", "LOUD"], {}, 2, "--log-level (or LOGLEVEL) 'LOUD' is not DEBUG"),
        ([], {"LOGLEVEL": "verbose"}, 2, "'VERBOSE' is not DEBUG"),
        (["--s3-bucket", ""], {}, 2, "--s3-bucket is empty"),
        (["--export-staging-config", "."], {}, 1, "export path . is a directory"),
        (["--export-prod-config", "staging-config.json/out.json"], {}, 1, "is not a writable directory"),
        (["--model-package-group-name"], {}, 2, "expected one argument"),
    ],
)
def test_bad_flags_are_one_line(sagemaker, workdir, capsys, monkeypatch, extra, env, code, message):
    register(sagemaker, "Approved")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        result = build.main(args(*extra))
    except SystemExit as exit:
        result = exit.code
    assert result == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert exports(workdir) == []


def test_the_default_backend_watches_prod_outside_the_prod_stack(sagemaker, workdir, capsys):
    """MonitoringBackend "project" (the default): the project's own check reads the package's baseline itself, so
    the prod export asks for no Model Monitor resources."""
    register(sagemaker, "Approved", baseline=True)
    assert build.main(args()) == 0
    prod = json.loads((workdir / "prod-config-export.json").read_text())["Parameters"]
    assert {k: v for k, v in prod.items() if "Monitoring" in k or "DataQuality" in k} == {
        "EnableMonitoring": "false",
        "MonitoringBackend": "project",
        "MonitoringScheduleExpression": "cron(0 * ? * * *)",
        "MonitoringInstanceType": "ml.m5.xlarge",
    }
    out = capsys.readouterr().out
    assert (
        "prod monitoring: data quality by the project's data-quality check (MonitoringBackend project), "
        f"cron(0 * ? * * *) on ml.m5.xlarge, baseline {BASELINE}/constraints.json"
    ) in out


@pytest.mark.parametrize(
    ("environment", "committed", "line"),
    [
        ({"MONITORING_BACKEND": "off"}, {}, 'prod monitoring: off (MonitoringBackend is "off")'),
        ({}, {"EnableMonitoring": "false"}, 'prod monitoring: off (EnableMonitoring is "false")'),
        ({}, {"MonitoringBackend": "off"}, 'prod monitoring: off (MonitoringBackend is "off")'),
    ],
)
def test_prod_monitoring_turned_off_by_the_project_or_the_repository(
    sagemaker, workdir, capsys, monkeypatch, environment, committed, line
):
    register(sagemaker, "Approved", baseline=True)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    (workdir / "prod-config.json").write_text(json.dumps({"Parameters": {"StageName": "prod", **committed}}))
    assert build.main(args()) == 0
    assert line in capsys.readouterr().out
    assert (
        json.loads((workdir / "prod-config-export.json").read_text())["Parameters"]["EnableMonitoring"]
        == "false"
    )


def test_a_backend_or_schedule_the_product_does_not_offer_is_one_line(
    sagemaker, workdir, capsys, monkeypatch
):
    register(sagemaker, "Approved", baseline=True)
    monkeypatch.setenv("MONITORING_BACKEND", "sagemaker")
    assert build.main(args()) == 1
    assert capsys.readouterr().err.strip() == (
        "error: environment variable MONITORING_BACKEND (the project's choice at creation; a value committed in "
        "prod-config.json would override it): MonitoringBackend must be one of project, model-monitor, off, got "
        "'sagemaker'"
    )
    monkeypatch.setenv("MONITORING_BACKEND", "project")
    for expression in ("cron(0 * * * * *)", "cron(0 24 ? * * *)", "cron(0 0/25 ? * * *)", "rate(1 hour)"):
        (workdir / "prod-config.json").write_text(
            json.dumps({"Parameters": {"StageName": "prod", "MonitoringScheduleExpression": expression}})
        )
        assert build.main(args()) == 1, expression
        assert "MonitoringScheduleExpression must be one of" in capsys.readouterr().err
    assert exports(workdir) == []


def test_prod_is_monitored_by_model_monitor_against_the_packages_own_baseline(
    sagemaker, workdir, capsys, monkeypatch
):
    monkeypatch.setenv("MONITORING_BACKEND", "model-monitor")
    package = register(sagemaker, "Approved", baseline=True)
    assert build.main(args()) == 0
    prod = json.loads((workdir / "prod-config-export.json").read_text())["Parameters"]
    assert {k: v for k, v in prod.items() if "Monitoring" in k or "DataQuality" in k} == {
        "EnableMonitoring": "true",
        "MonitoringBackend": "model-monitor",
        "MonitoringScheduleExpression": "cron(0 * ? * * *)",
        "MonitoringInstanceType": "ml.m5.xlarge",
        "DataQualityBaselineStatisticsUri": f"{BASELINE}/statistics.json",
        "DataQualityBaselineConstraintsUri": f"{BASELINE}/constraints.json",
        "MonitoringJobDefinitionName": prod["MonitoringJobDefinitionName"],
        "MonitoringReportsUri": "s3://sagemaker-project-p-abc123/monitoring/demo-prod",
    }
    assert prod["MonitoringJobDefinitionName"].startswith("demo-prod-dq-")
    staging = json.loads((workdir / "staging-config-export.json").read_text())["Parameters"]
    assert not [k for k in staging if "Monitoring" in k or "DataQuality" in k]  # serverless: never monitored
    out = capsys.readouterr().out
    assert (
        "prod monitoring: data quality by SageMaker Model Monitor (MonitoringBackend model-monitor), "
        f"cron(0 * ? * * *) on ml.m5.xlarge, baseline {BASELINE}/constraints.json"
    ) in out
    # a new package (a new baseline) gets a new job definition name: CloudFormation replaces the definition
    register(sagemaker, "Approved", baseline=True)
    assert build.main(args()) == 0
    renamed = json.loads((workdir / "prod-config-export.json").read_text())["Parameters"]
    assert renamed["MonitoringJobDefinitionName"] != prod["MonitoringJobDefinitionName"]
    assert package != renamed["ModelPackageName"]


def test_a_package_without_a_baseline_deploys_without_monitoring_and_says_so(sagemaker, workdir, capsys):
    package = register(sagemaker, "Approved")
    assert build.main(args()) == 0
    prod = json.loads((workdir / "prod-config-export.json").read_text())["Parameters"]
    assert prod["EnableMonitoring"] == "false"
    assert "DataQualityBaselineConstraintsUri" not in prod
    assert (
        f"prod monitoring: off: model package {package} has no data-quality baseline "
        "(DriftCheckBaselines.ModelDataQuality), so prod deploys without monitoring"
    ) in capsys.readouterr().out


def test_monitoring_can_be_switched_off_in_the_prod_config(sagemaker, workdir, capsys):
    register(sagemaker, "Approved", baseline=True)
    (workdir / "prod-config.json").write_text(
        json.dumps({"Parameters": {"StageName": "prod", "EnableMonitoring": "false"}, "Tags": {}})
    )
    assert build.main(args()) == 0
    assert (
        json.loads((workdir / "prod-config-export.json").read_text())["Parameters"]["EnableMonitoring"]
        == "false"
    )
    assert 'prod monitoring: off (EnableMonitoring is "false")' in capsys.readouterr().out
