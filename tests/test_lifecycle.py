"""The whole lifecycle on the embedded AWS, and its fidelity: a broken product fails where AWS would."""

from __future__ import annotations

import json
import os
import random
import re
import time
from pathlib import Path

import pytest

from smbundle.local import server
from smbundle.local.lifecycle import LifecycleFailed, LocalRunOptions, run_lifecycle
from smbundle.local.sample_data import generate_rows
from tests._update_helpers import product_version


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        yield aws


def product_copy(tmp_path: Path) -> Path:
    """A copy of what the lifecycle reads, to break on purpose."""
    return product_version(tmp_path / "repo")


def run(embedded, tmp_path, name, **options):
    events = []
    summary = run_lifecycle(
        LocalRunOptions(workdir=tmp_path / "work", project_name=name, endpoint_url=embedded.url, **options),
        lambda event, stage, status, seconds: events.append((event, stage, status)),
    )
    return summary, events


@pytest.fixture(scope="module")
def happy(embedded, tmp_path_factory):
    return run(embedded, tmp_path_factory.mktemp("happy"), "happy-path", monitor=True)


def test_lifecycle_reaches_prod_with_a_serverless_staging(happy):
    summary, events = happy
    staging = summary["staging"]["DescribeEndpoint"]
    assert staging["EndpointName"] == "happy-path-staging"
    assert staging["ProductionVariants"][0]["CurrentServerlessConfig"] == {
        "MemorySizeInMB": 2048,
        "MaxConcurrency": 20,
    }
    prod = summary["prod"]
    assert prod["DescribeEndpoint"]["EndpointStatus"] == "InService"
    variant = prod["DescribeEndpointConfig"]["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.m5.large" and "ServerlessConfig" not in variant
    assert prod["DescribeEndpoint"]["DataCaptureConfig"]["EnableCapture"] is True
    assert summary["model_package"]["ModelApprovalStatus"] == "Approved"
    assert summary["model_package"]["metrics"]["regression_metrics"]["mse"]["value"] < 6.0
    assert all(
        entry["status"] == "Succeeded"
        for name, entry in summary["stages"].items()
        if ".OnCreation" not in name
    )
    deploy_stages = [
        name for name in summary["stages"] if not name.startswith(("Monitor.", "DataQualityCheck."))
    ]
    assert deploy_stages[-1] == "ModelDeploy.DeployProd"
    # every latency-derived figure of a local run says it is local
    assert summary["latency_origin"]["source"] == "local"
    assert summary["cost_estimate"]["latency_origin"]["source"] == "local"
    assert "container start" in summary["latency_origin"]["cold_starts"]
    json.dumps(summary, default=str)  # the summary is JSON


def test_each_model_version_carries_its_baseline_and_prod_is_watched_against_it(happy, embedded):
    """The build baselines the raw training records with the project's analyzer; the package registers the
    baseline and the analyzer; the project's own data-quality check (the default backend: a new account has no
    Model Monitor) checks held-out traffic to prod against it and finds no violation."""
    summary, events = happy
    sagemaker = embedded.client("sagemaker")
    package = sagemaker.describe_model_package(ModelPackageName=summary["model_package"]["ModelPackageArn"])
    drift = package["DriftCheckBaselines"]["ModelDataQuality"]
    assert package["ModelMetrics"]["ModelDataQuality"]["Constraints"] == drift["Constraints"]
    constraints_uri = drift["Constraints"]["S3Uri"]
    assert re.fullmatch(
        r"s3://sagemaker-project-p-\w+/happy-path-p-\w+/\w+/data-quality-baseline/constraints.json",
        constraints_uri,
    )
    analyzer = package["CustomerMetadataProperties"]["DataQualityAnalyzerS3Uri"]
    assert analyzer == constraints_uri.replace("constraints.json", "data_quality.py")
    bucket, key = constraints_uri[len("s3://") :].split("/", 1)
    constraints = json.loads(embedded.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert [f["name"] for f in constraints["features"]] == [
        "sex",
        "length",
        "diameter",
        "height",
        "whole_weight",
        "shucked_weight",
        "viscera_weight",
        "shell_weight",
    ]  # the records as the endpoint receives them: no label
    assert sagemaker.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []  # no Model Monitor
    assert summary["prod_monitoring"] == {"backend": "project", "schedule_expression": "cron(0 * ? * * *)"}
    monitoring = summary["monitoring"]
    assert monitoring["backend"] == "project"
    assert monitoring["execution"]["PipelineExecutionStatus"] == "Succeeded"
    assert monitoring["execution"]["status"] == "Completed"
    assert monitoring["violations"] == [] and monitoring["fail_step"] is None
    assert monitoring["records_analyzed"] == round(monitoring["requests_sent"] * 0.8)  # 80 % captured
    assert (
        "violations" in monitoring["metrics"]
        and "feature_baseline_drift_shell_weight" in monitoring["metrics"]
    )
    assert ("end", "Monitor.DataQualityCheck", "Succeeded") in events


def test_both_pipelines_ran_when_they_were_created(happy):
    """As on AWS: the build's first run trains and registers; the deploy's fails at build.py until a model is
    approved."""
    first = happy[0]["first_runs"]
    assert first["build"]["status"] == "Succeeded"
    assert first["deploy"]["status"] == "Failed"
    assert first["deploy"]["failed_action"] == "Build/BuildDeploymentTemplates"
    # Depending on which first run reaches build.py first, the group does not exist yet or holds no approved model.
    assert re.search(r"does not exist yet|no Approved model package", first["deploy"]["reason"])


def test_staging_test_really_invoked_the_model(happy):
    results = happy[0]["test_results"]
    assert results["passed"] is True
    assert results["errors"] == 0
    load = results["load"]
    # 1,200/min (the buildspec's rate) during the load phase the suite sets (tests/conftest.py: 0.25 s)
    duration = float(os.environ["SMBUNDLE_LOAD_DURATION_SECONDS"])
    assert load["succeeded"] == load["requests"] == int(duration * 1200 / 60)
    assert results["invocations"] > load["requests"]  # and the functional and replay phases
    assert results["replay"]["status"] == "passed"
    # The endpoint answers the held-out raw records with exactly the MSE the build registered.
    assert results["replay"]["measured_mse"] == pytest.approx(results["replay"]["registered_mse"], rel=1e-9)
    assert (
        results["replay"]["registered_mse"]
        == happy[0]["model_package"]["metrics"]["regression_metrics"]["mse"]["value"]
    )
    assert results["load"]["succeeded"] == results["load"]["requests"]


def test_staging_answers_raw_abalone_records(embedded, happy):
    runtime = embedded.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName="happy-path-staging",
        ContentType="text/csv",
        Body="M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\nI,0.33,,0.08,0.205,0.0895,0.0395,0.055\n",
    )
    assert answer["ContentType"] == "text/csv"
    rings = [float(v) for v in answer["Body"].read().split()]
    assert len(rings) == 2 and all(2 < r < 25 for r in rings)
    with pytest.raises(runtime.exceptions.ModelError) as error:
        runtime.invoke_endpoint(
            EndpointName="happy-path-staging",
            ContentType="text/csv",
            Body="U,0.455,0.365,0.095,0.514,0.2245,0.101,0.15",
        )
    assert (
        "column sex: 'U' is not a code the model knows (F, I, M)" in error.value.response["Error"]["Message"]
    )


def test_progress_reports_every_action_start_and_end(happy):
    _, events = happy
    ends = [stage for event, stage, status in events if event == "end"]
    assert "ModelDeploy / DeployStaging / TestStaging" in ends
    assert "ModelDeploy / DeployProd / DeployResourcesProd" in ends
    starts = [stage for event, stage, _ in events if event == "start"]
    assert sorted(starts) == sorted(ends)


def test_buildspec_reading_a_variable_the_project_does_not_set(embedded, tmp_path):
    root = product_copy(tmp_path)
    buildspec = root / "seed_code" / "build" / "codebuild-buildspec.yml"
    buildspec.write_text(
        buildspec.read_text().replace('--region "$AWS_REGION"', '--region "$SAGEMAKER_REGION"')
    )
    with pytest.raises(LifecycleFailed) as failure:
        run(embedded, tmp_path, "broken-env", repo_root=root)
    assert failure.value.stage == "ModelBuild.Build"
    assert failure.value.action == "BuildAndExecuteSageMakerPipeline"
    assert "$SAGEMAKER_REGION, which build project" in str(failure.value)


def test_event_pattern_that_no_longer_matches_the_approval(embedded, tmp_path):
    root = product_copy(tmp_path)
    template = root / "service_catalog" / "product.yaml"
    template.write_text(
        template.read_text().replace(
            "ModelApprovalStatus: [Approved, Rejected]", "ModelApprovalStatus: [Approve]"
        )
    )
    with pytest.raises(LifecycleFailed) as failure:
        run(embedded, tmp_path, "broken-rule", repo_root=root)
    assert failure.value.stage == "ApproveModelPackage"
    assert "started no pipeline" in str(failure.value)


def test_stage_config_with_an_invalid_memory_size(embedded, tmp_path):
    root = product_copy(tmp_path)
    config = root / "seed_code" / "deploy" / "staging-config.json"
    config.write_text(json.dumps({"Parameters": {"StageName": "staging", "MemorySizeInMB": "1500"}}))
    with pytest.raises(LifecycleFailed) as failure:
        run(embedded, tmp_path, "broken-config", repo_root=root)
    assert failure.value.stage == "ModelDeploy.Build"
    assert any("MemorySizeInMB must be one of 1024, 2048" in line for line in failure.value.log_tail)


def test_model_that_fails_the_mse_gate(embedded, tmp_path):
    rows = generate_rows(1500, seed=3)
    rng = random.Random(5)
    noisy = tmp_path / "noisy.csv"
    noisy.write_text("".join(",".join(map(str, row[:-1] + [rng.randint(1, 29)])) + "\n" for row in rows))
    with pytest.raises(LifecycleFailed) as failure:
        run(embedded, tmp_path, "bad-model", input_data=noisy)
    assert failure.value.stage == "ModelBuild.Build"
    text = "\n".join(failure.value.log_tail)
    assert "FailAbaloneModelMse" in text and "Failed" in text
    assert "Model not registered: test MSE" in text and "is above MseThreshold 6.0" in text


def test_rejecting_the_newest_approved_package_rolls_staging_back(embedded, happy, tmp_path):
    from smbundle.local.lifecycle import review_package

    summary, _ = happy
    sagemaker = embedded.client("sagemaker")
    first = summary["model_package"]["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=first)
    second = sagemaker.create_model_package(  # a second registration, with what the build attaches
        ModelPackageGroupName=described["ModelPackageGroupName"],
        InferenceSpecification=described["InferenceSpecification"],
        ModelMetrics=described["ModelMetrics"],
        CustomerMetadataProperties=described["CustomerMetadataProperties"],
        ModelApprovalStatus="PendingManualApproval",
    )["ModelPackageArn"]
    options = LocalRunOptions(
        workdir=tmp_path / "review", project_name="happy-path", endpoint_url=embedded.url
    )

    def staging_package() -> str:
        config = sagemaker.describe_endpoint_config(
            EndpointConfigName=sagemaker.describe_endpoint(EndpointName="happy-path-staging")[
                "EndpointConfigName"
            ]
        )
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        return model["PrimaryContainer"]["ModelPackageName"]

    (approved,) = review_package(options, lambda *a: None, second, "Approved")
    assert approved.status == "Succeeded" and staging_package() == second
    (rejected,) = review_package(options, lambda *a: None, second, "Rejected")
    assert rejected.status == "Succeeded" and staging_package() == first
    assert review_package(options, lambda *a: None, second, "PendingManualApproval") == []  # starts nothing


def test_what_a_user_inspects_with_the_aws_cli_answers_as_aws(embedded, happy):
    """The calls a user reaches for to look at a project (README/docs/local.md) answer with AWS's shapes."""
    summary, _ = happy
    project_id = summary["project"]["ProjectId"]
    prefix = f"sagemaker-happy-path-{project_id}"
    repositories = embedded.client("codecommit").list_repositories()["repositories"]
    assert {f"{prefix}-modelbuild", f"{prefix}-modeldeploy"} <= {r["repositoryName"] for r in repositories}
    provisioned = embedded.client("servicecatalog").scan_provisioned_products()["ProvisionedProducts"]
    assert f"SageMaker-happy-path-{project_id}" in {p["Name"] for p in provisioned}
    codepipeline = embedded.client("codepipeline")
    executions = codepipeline.list_pipeline_executions(pipelineName=f"{prefix}-modelbuild")
    (first,) = executions["pipelineExecutionSummaries"]
    assert (first["status"], first["trigger"]["triggerType"]) == ("Succeeded", "CreatePipeline")
    stages = codepipeline.get_pipeline_state(name=f"{prefix}-modelbuild")["stageStates"]
    assert [s["latestExecution"]["status"] for s in stages] == ["Succeeded", "Succeeded"]
    sagemaker = embedded.client("sagemaker")
    training = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    job = sagemaker.describe_training_job(TrainingJobName=training[0]["TrainingJobName"])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["ModelArtifacts"]["S3ModelArtifacts"].startswith(f"s3://sagemaker-project-{project_id}/")
    processing = sagemaker.list_processing_jobs()["ProcessingJobSummaries"]
    assert {p["ProcessingJobStatus"] for p in processing} == {"Completed"}
    assert len(processing) >= 3  # preprocess, package, evaluate


def test_a_push_to_the_build_repository_runs_the_build_pipeline_on_the_pushed_commit(
    happy, embedded, tmp_path
):
    """git clone of the repository's cloneUrlHttp holds the seed code as its first commit; a push moves the branch,
    CodeCommit's event starts the build pipeline through the project's rule, and the build builds that commit."""
    import subprocess

    identity = {"GIT_AUTHOR_NAME": "ds", "GIT_AUTHOR_EMAIL": "ds@example.com", "GIT_TERMINAL_PROMPT": "0"}
    identity.update(
        GIT_COMMITTER_NAME="ds", GIT_COMMITTER_EMAIL="ds@example.com", GIT_CONFIG_GLOBAL=os.devnull
    )

    def git(*args):
        return subprocess.run(
            ["git", *args],
            cwd=work,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **identity},
        ).stdout

    project_id = happy[0]["project"]["ProjectId"]
    name = f"sagemaker-happy-path-{project_id}"
    codecommit, codepipeline = embedded.client("codecommit"), embedded.client("codepipeline")
    url = codecommit.get_repository(repositoryName=f"{name}-modelbuild")["repositoryMetadata"]["cloneUrlHttp"]
    work = tmp_path
    git("clone", "-q", url.replace("http://", "http://testing:x@"), "repo")
    work = tmp_path / "repo"
    assert git("log", "--format=%an %s") == "AWS CodeCommit Initial commit\n"
    assert (work / "codebuild-buildspec.yml").is_file() and (
        work / "pipelines" / "abalone" / "pipeline.py"
    ).is_file()
    # A change whose build is quick to check: it says which commit it builds.
    (work / "codebuild-buildspec.yml").write_text(
        'version: 0.2\nphases:\n  build:\n    commands:\n      - echo "building $CODEBUILD_RESOLVED_SOURCE_VERSION"\n'
    )
    git("commit", "-qam", "build what is pushed")
    git("push", "-q", "origin", "HEAD:main")
    pushed = git("rev-parse", "HEAD").strip()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        summaries = codepipeline.list_pipeline_executions(pipelineName=f"{name}-modelbuild")[
            "pipelineExecutionSummaries"
        ]
        started = [s for s in summaries if s["trigger"]["triggerType"] == "CloudWatchEvent"]
        if started and started[0]["status"] != "InProgress":
            break
        time.sleep(0.1)
    (execution,) = started
    assert execution["status"] == "Succeeded"
    assert execution["trigger"]["triggerDetail"].endswith(f":rule/{name}-build")
    assert [r["revisionId"] for r in execution["sourceRevisions"]] == [pushed]
    actions = codepipeline.list_action_executions(
        pipelineName=f"{name}-modelbuild", filter={"pipelineExecutionId": execution["pipelineExecutionId"]}
    )["actionExecutionDetails"]
    (build,) = [a for a in actions if a["stageName"] == "Build"]
    log = build["output"]["executionResult"]["externalExecutionUrl"]
    assert f"building {pushed}" in Path(log.removeprefix("file://")).read_text()


def test_studio_and_the_console_read_the_project_as_aws_answers(embedded, happy):
    """What Studio's form and the Service Catalog console read, and what a build, its log and a SageMaker pipeline
    execution show, answered from what really happened."""
    summary, _ = happy
    project = embedded.client("sagemaker").describe_project(ProjectName=summary["project"]["ProjectName"])
    catalog = embedded.client("servicecatalog")
    details = project["ServiceCatalogProvisioningDetails"]
    form = catalog.describe_provisioning_parameters(
        ProductId=details["ProductId"], ProvisioningArtifactId=details["ProvisioningArtifactId"]
    )
    fields = {p["ParameterKey"]: p for p in form["ProvisioningArtifactParameters"]}
    assert fields["SageMakerProjectName"]["ParameterConstraints"]["MaxLength"] == "32"
    assert fields["MonitoringBackend"]["ParameterConstraints"]["AllowedValues"] == [
        "project",
        "model-monitor",
        "off",
    ]
    assert [c["Type"] for c in form["ConstraintSummaries"]] == ["LAUNCH"]
    provisioned = project["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"]
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in catalog.get_provisioned_product_outputs(ProvisionedProductId=provisioned)["Outputs"]
    }
    prefix = f"sagemaker-happy-path-{summary['project']['ProjectId']}"
    repository = embedded.client("codecommit").get_repository(repositoryName=f"{prefix}-modelbuild")
    assert outputs["ModelBuildRepositoryCloneUrl"] == repository["repositoryMetadata"]["cloneUrlHttp"]
    history = catalog.list_record_history(SearchFilter={"Key": "provisionedproduct", "Value": provisioned})
    assert [r["RecordType"] for r in history["RecordDetails"]][-1] == "PROVISION_PRODUCT"

    codepipeline = embedded.client("codepipeline")
    (first,) = codepipeline.list_pipeline_executions(pipelineName=f"{prefix}-modelbuild")[
        "pipelineExecutionSummaries"
    ][-1:]
    actions = codepipeline.list_action_executions(
        pipelineName=f"{prefix}-modelbuild", filter={"pipelineExecutionId": first["pipelineExecutionId"]}
    )["actionExecutionDetails"]
    (action,) = [a for a in actions if a["stageName"] == "Build"]
    build_id = action["output"]["executionResult"]["externalExecutionId"]
    codebuild = embedded.client("codebuild")
    (build,) = codebuild.batch_get_builds(ids=[build_id])["builds"]
    assert build["buildStatus"] == "SUCCEEDED" and build["buildComplete"]
    assert build["resolvedSourceVersion"] == first["sourceRevisions"][0]["revisionId"]
    phases = {p["phaseType"]: p for p in build["phases"]}
    assert phases["BUILD"]["phaseStatus"] == "SUCCEEDED" and phases["BUILD"]["durationInSeconds"] >= 0
    assert codebuild.batch_get_builds(ids=[build_id])["builds"][0]["endTime"] == build["endTime"]
    lines = embedded.client("logs").get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"], startFromHead=True
    )["events"]
    assert any("Running command run-pipeline" in e["message"] for e in lines)

    sagemaker = embedded.client("sagemaker")
    (pipeline,) = [
        p["PipelineName"]
        for p in sagemaker.list_pipelines(PipelineNamePrefix="happy-path")["PipelineSummaries"]
        if not p["PipelineName"].endswith("-data-quality")
    ]
    executions = sagemaker.list_pipeline_executions(PipelineName=pipeline)["PipelineExecutionSummaries"]
    assert [e["StartTime"] for e in executions] == sorted((e["StartTime"] for e in executions), reverse=True)
    assert all(
        "PipelineExecutionFailureReason" not in e
        for e in executions
        if e["PipelineExecutionStatus"] == "Succeeded"
    )
    described = sagemaker.describe_pipeline_execution(
        PipelineExecutionArn=executions[-1]["PipelineExecutionArn"]
    )
    creator = described["CreatedBy"]["IamIdentity"]
    assert creator["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/")
    assert creator["PrincipalId"].startswith("AROA")
