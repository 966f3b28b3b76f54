"""scripts/run_local.py as documented: a relative --workdir, another Region, --json, and no litter in /tmp."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3

from smbundle.local import server
from smbundle.publish import DEFAULT_PRODUCT_NAME
from tests.test_bad_input_local import environment

REPO = Path(__file__).resolve().parents[1]


def test_relative_workdir_in_eu_west_1(tmp_path):
    """docs/local.md's command, run from another directory, in a Region that needs a LocationConstraint."""
    with server.start(region="eu-west-1") as aws:
        run = subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "run_local.py"),
                "--workdir",
                ".local-run",
                "--summary",
                ".local-run/summary.json",
                "--endpoint-url",
                aws.url,
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=environment(AWS_REGION="eu-west-1"),
            check=False,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        summary = json.loads((tmp_path / ".local-run" / "summary.json").read_text())
        assert summary["project"]["ProjectArn"].startswith("arn:aws:sagemaker:eu-west-1:")
        assert (tmp_path / ".local-run").is_dir()  # relative to where it ran
        sagemaker = boto3.session.Session(region_name="eu-west-1").client("sagemaker", endpoint_url=aws.url)
        package = sagemaker.describe_model_package(
            ModelPackageName=summary["model_package"]["ModelPackageArn"]
        )
        image = package["InferenceSpecification"]["Containers"][0]["Image"]
        assert ".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:" in image  # the Region's own image
        s3 = boto3.session.Session(region_name="eu-west-1").client("s3", endpoint_url=aws.url)
        bucket = f"sagemaker-project-{summary['project']['ProjectId']}"
        assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"
        assert "cost:           not estimated: no prices for region eu-west-1" in run.stdout
        catalog = boto3.session.Session(region_name="eu-west-1").client(
            "servicecatalog", endpoint_url=aws.url
        )
        names = [
            p["ProductViewSummary"]["Name"] for p in catalog.search_products_as_admin()["ProductViewDetails"]
        ]
        assert names == [DEFAULT_PRODUCT_NAME]  # the same default as publish_product.py


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
    finally:
        run.terminate()
        stdout, _ = run.communicate(timeout=60)
    assert run.returncode == 0
    summary = json.loads(stdout)  # stdout is the summary and nothing else
    assert summary["stages"]["Publish"]["status"] == "Succeeded"
    cost = summary["cost_estimate"]
    assert (cost["instance_type"], cost["instance_count"]) == (
        "ml.m5.large",
        1,
    )  # prod's own, from its config
    assert list(scratch.iterdir()) == []  # the temporary work directory is gone
