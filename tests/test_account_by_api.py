"""The embedded AWS is an account: a whole project driven with boto3 alone, as a user drives AWS.

Once scripts/local_aws.py serves and scripts/publish_product.py has published the product (the commands a platform
engineer runs), nothing of ours helps: the project is created, its model approved and production approved with
the SageMaker, Service Catalog and CodePipeline APIs, and the services' own events do the rest.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.test_scripts_local import REPO, environment

REGION = "us-east-1"


def until(what: str, probe, timeout: float = 120.0, every: float = 0.2):
    """Poll ``probe`` until it answers something truthy (as a user re-runs a CLI command)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = probe()
        if answer:
            return answer
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    server = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "local_aws.py"), "--region", REGION],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment(),
    )
    try:
        url = server.stdout.readline().strip().split("=", 1)[1]
        studio_role = server.stdout.readline().split()[-1]
        published = subprocess.run(
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
            cwd=tmp_path_factory.mktemp("publish"),
            check=True,
        )
        yield url, json.loads(published.stdout)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def test_a_project_reaches_prod_through_the_apis_and_the_services_own_events(account):
    url, published = account
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
