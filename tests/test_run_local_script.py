"""scripts/run_local.py as documented: --json, --serve, --stop-before-prod (then prod approved through the API),
and no litter in /tmp (a relative --workdir in another Region: tests/test_scripts_local.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import boto3

from tests.test_bad_input_local import environment

REPO = Path(__file__).resolve().parents[1]


def test_json_serve_until_sigterm_then_no_work_directory_left(tmp_path):
    """--json: the summary alone on stdout, progress on stderr; --serve: the prepared account (with its Studio
    domain) stays up until SIGTERM; then the temporary work directory is gone."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    run = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "scripts" / "run_local.py"),
            "--json",
            "--stop-before-prod",
            "--serve",
            "--project-name",
            "quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(TMPDIR=str(scratch)),
    )
    progress = []
    try:
        for line in run.stderr:
            progress.append(line)
            if line.startswith("AWS_ENDPOINT_URL="):
                break
        assert progress and progress[-1].startswith("AWS_ENDPOINT_URL="), "".join(progress[-30:])
        url = progress[-1].strip().split("=", 1)[1]
        assert "ModelDeploy / DeployStaging / TestStaging" in "".join(progress)  # progress as it went
        export = run.stderr.readline()
        assert f"export AWS_ENDPOINT_URL={url} AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1" in export
        session = boto3.session.Session(region_name="us-east-1")
        sagemaker = session.client("sagemaker", endpoint_url=url)
        (domain,) = sagemaker.list_domains()["Domains"]
        assert domain["DomainName"] == "studio" and domain["DomainId"].startswith("d-")
        assert sagemaker.get_sagemaker_servicecatalog_portfolio_status()["Status"] == "Enabled"
        assert sagemaker.describe_endpoint(EndpointName="quiet-staging")["EndpointStatus"] == "InService"
        assert list(scratch.iterdir())  # the work directory exists while serving
        approve_production_through_the_api(session.client("codepipeline", endpoint_url=url))
        assert sagemaker.describe_endpoint(EndpointName="quiet-prod")["EndpointStatus"] == "InService"
    finally:
        run.terminate()
        stdout, _ = run.communicate(timeout=60)
    assert run.returncode == 0
    summary = json.loads(stdout)  # stdout is the summary and nothing else
    assert summary["stages"]["Publish"]["status"] == "Succeeded"
    assert summary["staging"] is not None and summary["prod"] is None  # as it was when the run stopped
    assert summary["stages"]["ModelDeploy.DeployStaging"]["status"] == "InProgress"  # waiting for approval
    cost = summary["cost_estimate"]
    assert (cost["instance_type"], cost["instance_count"]) == (
        "ml.m5.large",
        1,
    )  # prod's own, from its config
    assert list(scratch.iterdir()) == []  # the temporary work directory is gone


def approve_production_through_the_api(codepipeline) -> None:
    """As on AWS: the paused deploy pipeline is visible, and put-approval-result resumes it to prod; the approval's
    event started it through the project's rule, as the console shows it."""
    (pipeline,) = [
        p["name"] for p in codepipeline.list_pipelines()["pipelines"] if p["name"].endswith("-modeldeploy")
    ]
    state = codepipeline.get_pipeline_state(name=pipeline)
    staging = next(s for s in state["stageStates"] if s["stageName"] == "DeployStaging")
    approval = next(a for a in staging["actionStates"] if a["actionName"] == "ApproveDeployment")
    assert approval["latestExecution"]["status"] == "InProgress"
    execution_id = staging["latestExecution"]["pipelineExecutionId"]
    codepipeline.put_approval_result(
        pipelineName=pipeline,
        stageName="DeployStaging",
        actionName="ApproveDeployment",
        result={"summary": "looks good", "status": "Approved"},
        token=approval["latestExecution"]["token"],
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        execution = codepipeline.get_pipeline_execution(
            pipelineName=pipeline, pipelineExecutionId=execution_id
        )
        if execution["pipelineExecution"]["status"] != "InProgress":
            break
        time.sleep(0.1)
    assert execution["pipelineExecution"]["status"] == "Succeeded"
    summaries = codepipeline.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"]
    assert [s["trigger"]["triggerType"] for s in summaries] == ["CloudWatchEvent", "CreatePipeline"]
    assert summaries[0]["trigger"]["triggerDetail"].endswith(
        ":rule/" + pipeline.replace("-modeldeploy", "-model")
    )
