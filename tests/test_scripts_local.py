"""scripts/local_aws.py serves the embedded AWS, an account: scripts/run_local.py runs the lifecycle against it,
unchanged, and a whole project is driven with boto3 alone, as a user drives AWS.

One server serves the module (as one serves a user's session): each test works in a project of its own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from smbundle.local.sample_data import generate_csv
from smbundle.publish import DEFAULT_PRODUCT_NAME
from tests._in_process import run_script
from tests.test_docs import demo_labels

REPO = Path(__file__).resolve().parents[1]
REGION = "eu-west-1"  # the run's Region (the embedded AWS serves every Region)


def environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            **extra,
        }
    )
    return env


@pytest.fixture(scope="module")
def local_aws(tmp_path_factory):
    """scripts/local_aws.py, started as docs/local.md starts it: (its URL, the lines it printed first); it must end
    with status 0 on SIGTERM. An AWS_PROFILE that does not exist here (a left-over "admin") cannot stop it: it reads
    no profile."""
    log = tmp_path_factory.mktemp("local-aws") / "stderr.log"
    with open(log, "w") as stderr:
        server = subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "local_aws.py"), "--region", REGION],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=environment(AWS_PROFILE="admin"),
        )
    try:
        lines = [server.stdout.readline().strip() for _ in range(3)]
        assert lines[0].startswith("AWS_ENDPOINT_URL=http://127.0.0.1:"), log.read_text()[-2000:]
        yield lines[0].split("=", 1)[1], lines
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=20)
    assert code == 0, log.read_text()[-2000:]


def test_local_aws_serves_and_run_local_uses_it(local_aws, tmp_path):
    session = boto3.session.Session(region_name=REGION)
    url, lines = local_aws
    assert "AmazonSageMaker-ExecutionRole-studio" in lines[1]
    domain = lines[2]  # "# Studio domain: d-... (SageMaker projects enabled)"
    assert domain.startswith("# Studio domain: d-") and domain.endswith("(SageMaker projects enabled)")
    sagemaker = session.client("sagemaker", endpoint_url=url)
    assert [d["DomainId"] for d in sagemaker.list_domains()["Domains"]] == [domain.split()[3]]
    iam = session.client("iam", endpoint_url=url)
    assert (
        iam.get_role(RoleName="AmazonSageMakerServiceCatalogProductsLaunchRole")["Role"]["Path"]
        == "/service-role/"
    )

    # A stand-in for the UCI file as published (the real one cannot be fetched here): 4,177 rows, 9 columns,
    # no header.
    data = tmp_path / "abalone.data"
    data.write_bytes(generate_csv(seed=11))
    lines = data.read_text().splitlines()
    assert len(lines) == 4177 and {len(line.split(",")) for line in lines} == {9}
    assert lines[0].split(",")[0] in ("M", "F", "I")  # a record, not a header
    summary = tmp_path / ".local-run" / "summary.json"
    # In a Region that needs a LocationConstraint, with docs/local.md's relative --workdir, run from elsewhere.
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "run_local.py"),
            "--input-data",
            str(data),
            "--project-name",
            "cli-demo",
            "--workdir",
            ".local-run",
            "--summary",
            ".local-run/summary.json",
            "--drift",  # implies --monitor: prod traffic with one feature scaled, then a monitoring execution
            "shell_weight=1.5",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment(AWS_ENDPOINT_URL=url, AWS_REGION=REGION),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ModelDeploy / DeployProd / DeployResourcesProd" in run.stdout
    assert "summary:        .local-run/summary.json" in run.stdout
    assert summary.is_file()  # relative to where it ran
    assert "cost:           not estimated: no prices for region eu-west-1" in run.stdout
    labels = [re.match(r"^([a-z][a-z ]*:) ", line) for line in run.stdout.splitlines()]
    skipped = ("work directory:", "monitoring:")  # kept with --workdir; printed with --monitor / --drift
    printed = [m.group(1) for m in labels if m and m.group(1) not in skipped]
    assert printed == demo_labels()  # README's example output, line by line
    assert "monitoring:     628 held-out records sent to prod (shell_weight x1.5)" in run.stdout
    assert "checked by the project's data-quality check: CompletedWithViolations" in run.stdout
    assert "violation: shell_weight baseline_drift_check: Numerical distance: " in run.stdout
    result = json.loads(summary.read_text())
    assert set(result) >= {
        "project",
        "model_package",
        "staging",
        "prod",
        "test_results",
        "stages",
        "cost_estimate",
    }
    sagemaker = session.client("sagemaker", endpoint_url=url)
    endpoint = sagemaker.describe_endpoint(EndpointName="cli-demo-staging")  # still there: the server runs on
    assert endpoint["ProductionVariants"][0]["CurrentServerlessConfig"]["MaxConcurrency"] == 20
    # What `aws sagemaker list-pipeline-executions --pipeline-name cli-demo-<id>-data-quality`,
    # `aws sagemaker list-pipeline-execution-steps` and `aws cloudwatch list-metrics` ask for, over HTTP.
    check = f"cli-demo-{result['project']['ProjectId']}-data-quality"
    (execution,) = sagemaker.list_pipeline_executions(PipelineName=check)["PipelineExecutionSummaries"]
    assert execution["PipelineExecutionStatus"] == "Failed"  # the violation ends it in its fail step
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=execution["PipelineExecutionArn"])
    failed = {s["StepName"]: s for s in steps["PipelineExecutionSteps"]}["DataQualityViolations"]
    assert failed["StepStatus"] == "Failed" and "shell_weight baseline_drift_check" in failed["FailureReason"]
    assert not sagemaker.list_monitoring_schedules()["MonitoringScheduleSummaries"]  # a new account's
    cloudwatch = session.client("cloudwatch", endpoint_url=url)
    metrics = cloudwatch.list_metrics(Namespace="SageMakerProjects/DataQuality")["Metrics"]
    assert "feature_baseline_drift_shell_weight" in {m["MetricName"] for m in metrics}
    assert result["monitoring"]["violations"][0]["feature_name"] == "shell_weight"
    assert (
        result["project"]["input_data"]
        == f"{data} (s3://sagemaker-eu-west-1-123456789012/cli-demo/input/abalone.csv)"
    )
    assert result["project"]["ProjectArn"].startswith(f"arn:aws:sagemaker:{REGION}:")
    package = session.client("sagemaker", endpoint_url=url).describe_model_package(
        ModelPackageName=result["model_package"]["ModelPackageArn"]
    )
    image = package["InferenceSpecification"]["Containers"][0]["Image"]
    assert f".dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:" in image  # the Region's own image
    bucket = f"sagemaker-project-{result['project']['ProjectId']}"
    assert (
        session.client("s3", endpoint_url=url).get_bucket_location(Bucket=bucket)["LocationConstraint"]
        == REGION
    )
    catalog = session.client("servicecatalog", endpoint_url=url)
    names = [
        p["ProductViewSummary"]["Name"] for p in catalog.search_products_as_admin()["ProductViewDetails"]
    ]
    assert names == [DEFAULT_PRODUCT_NAME]  # the same default as publish_product.py
    assert result["model_package"]["metrics"]["regression_metrics"]["mse"]["value"] < 6.0  # the default gate
    assert result["test_results"]["replay"]["status"] == "passed"
    # What `aws sagemaker-runtime invoke-endpoint --content-type text/csv --body 'M,0.455,...'` sends.
    runtime = session.client("sagemaker-runtime", endpoint_url=url)
    answer = runtime.invoke_endpoint(
        EndpointName="cli-demo-staging",
        ContentType="text/csv",
        Body=b"M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15",
    )
    assert 2 < float(answer["Body"].read()) < 25
    again = run_script(  # the same project name on the same server: refused before anything starts
        "run_local.py", "--project-name", "cli-demo", env=environment(AWS_ENDPOINT_URL=url, AWS_REGION=REGION)
    )
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip() == (
        f"error: project cli-demo already exists on the embedded AWS at {url}: pass another --project-name, "
        "or delete it first with scripts/delete_project.py --project-name cli-demo"
    )


def test_run_local_rejects_a_missing_input_file(tmp_path):
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "run_local.py"), "--input-data", str(tmp_path / "none.csv")],
        capture_output=True,
        text=True,
        env=environment(),
    )
    assert run.returncode == 2
    assert (
        run.stderr.strip()
        == f"error: --input-data {tmp_path / 'none.csv'} does not exist; give a CSV in the abalone schema"
    )


# -- the account driven with boto3 alone ----------------------------------------------------------------------------
def until(what: str, probe, timeout: float = 120.0, every: float = 0.2):
    """Poll ``probe`` until it answers something truthy (as a user re-runs a CLI command)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = probe()
        if answer:
            return answer
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what}")


def test_a_project_reaches_prod_through_the_apis_and_the_services_own_events(local_aws, tmp_path):
    """Once local_aws.py serves and publish_product.py has published the product (the commands a platform engineer
    runs), nothing of ours helps: the project is created, its model approved and production approved with the
    SageMaker, Service Catalog and CodePipeline APIs, and the services' own events do the rest."""
    url, lines = local_aws
    studio_role = lines[1].split()[-1]
    published = json.loads(
        subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "publish_product.py"),
                "--principal-arn",
                studio_role,
                "--json",
            ],
            capture_output=True,
            text=True,
            env=environment(AWS_ENDPOINT_URL=url, AWS_REGION=REGION),
            cwd=tmp_path,
            check=True,
        ).stdout
    )
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    sagemaker, catalog, codepipeline = (
        session.client(name, endpoint_url=url) for name in ("sagemaker", "servicecatalog", "codepipeline")
    )

    # Create the project as Studio does, and read what it made from the provisioned product's outputs.
    sagemaker.create_project(
        ProjectName="api-demo",
        ServiceCatalogProvisioningDetails={
            "ProductId": published["product_id"],
            "ProvisioningArtifactId": published["provisioning_artifact_id"],
        },
    )
    project = until(
        "the project",
        lambda: (p := sagemaker.describe_project(ProjectName="api-demo"))["ProjectStatus"] != "Pending" and p,
    )
    assert project["ProjectStatus"] == "CreateCompleted"
    provisioned = project["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"]
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in catalog.get_provisioned_product_outputs(ProvisionedProductId=provisioned)["Outputs"]
    }
    build, deploy = outputs["ModelBuildPipelineName"], outputs["ModelDeployPipelineName"]

    def executions(pipeline: str) -> list[dict]:
        return codepipeline.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"]

    # The build pipeline's first run (started by its creation) trains and registers a model.
    first_build = until(
        "the first build",
        lambda: [e for e in executions(build) if e["status"] != "InProgress"],
    )[0]
    assert (first_build["status"], first_build["trigger"]["triggerType"]) == ("Succeeded", "CreatePipeline")
    (package,) = sagemaker.list_model_packages(ModelPackageGroupName=outputs["ModelPackageGroupName"])[
        "ModelPackageSummaryList"
    ]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"

    # A reviewer approves it; SageMaker's event, through the project's rule, starts the deploy pipeline.
    sagemaker.update_model_package(ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus="Approved")
    started = until(
        "the deploy pipeline started by the approval's event",
        lambda: [e for e in executions(deploy) if e["trigger"]["triggerType"] == "CloudWatchEvent"],
    )
    assert started[0]["trigger"]["triggerDetail"].endswith(
        f"rule/sagemaker-api-demo-{project['ProjectId']}-model"
    )

    # EventBridge counts what the rule did, in CloudWatch, as a person checks a rule that "did nothing".
    now = datetime.now(UTC)
    invocations = session.client("cloudwatch", endpoint_url=url).get_metric_statistics(
        Namespace="AWS/Events",
        MetricName="Invocations",
        Dimensions=[{"Name": "RuleName", "Value": f"sagemaker-api-demo-{project['ProjectId']}-model"}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(d["Sum"] for d in invocations) >= 1

    def approval():
        for stage in codepipeline.get_pipeline_state(name=deploy)["stageStates"]:
            for action in stage.get("actionStates", []):
                token = (action.get("latestExecution") or {}).get("token")
                if token and action["latestExecution"]["status"] == "InProgress":
                    return stage["stageName"], action["actionName"], token
        return None

    # Staging is deployed and tested; the pipeline waits for production's approval.
    stage, action, token = until("the production approval", approval, timeout=180)
    staging = sagemaker.describe_endpoint(EndpointName=outputs["StagingEndpointName"])
    assert staging["EndpointStatus"] == "InService"
    assert "CurrentServerlessConfig" in staging["ProductionVariants"][0]
    codepipeline.put_approval_result(
        pipelineName=deploy,
        stageName=stage,
        actionName=action,
        result={"summary": "staging looks good", "status": "Approved"},
        token=token,
    )
    execution_id = started[0]["pipelineExecutionId"]
    finished = until(
        "the deploy pipeline to finish",
        lambda: (
            (
                e := codepipeline.get_pipeline_execution(
                    pipelineName=deploy, pipelineExecutionId=execution_id
                )["pipelineExecution"]
            )["status"]
            != "InProgress"
            and e
        ),
        timeout=180,
    )
    assert finished["status"] == "Succeeded"
    prod = sagemaker.describe_endpoint(EndpointName=outputs["ProdEndpointName"])
    assert prod["EndpointStatus"] == "InService"
    assert prod["ProductionVariants"][0]["CurrentInstanceCount"] >= 1
