#!/usr/bin/env python3
"""Benchmark: roll a new version of the product out to 10 local projects at once (printed figures, no pass/fail).

On the embedded AWS: publish the product with an older CodeBuild image (standard:4.0), create 10 projects from it
(their first pipeline runs are stopped, as a person would with stop-pipeline-execution, and waited for, so that the
update is timed on an idle account), publish the current product (standard:5.0), then run
``scripts/update_projects.py`` as a platform engineer would, once with ``--dry-run`` and once for real, and print its
wall time (target: the real run under 30 s) with every project's line as the script printed it. The projects'
state is then read back through the API: each must be UpdateCompleted on the new version.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_S = 30.0
OLD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:4.0"
IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"


def older_product(root: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache")
    shutil.copytree(REPO / "service_catalog", root / "service_catalog")
    shutil.copytree(REPO / "seed_code", root / "seed_code", ignore=ignore)
    template = root / "service_catalog" / "product.yaml"
    template.write_text(template.read_text().replace(IMAGE, OLD_IMAGE))
    return root


def quiet_first_runs(codepipeline, names: list[str]) -> None:
    """Stop the executions CodePipeline started on creation and wait until none is in progress."""
    for name in names:
        for summary in codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]:
            if summary["status"] == "InProgress":
                with contextlib.suppress(codepipeline.exceptions.ClientError):  # it may have ended meanwhile
                    codepipeline.stop_pipeline_execution(
                        pipelineName=name, pipelineExecutionId=summary["pipelineExecutionId"], abandon=True
                    )
    while any(
        s["status"] == "InProgress"
        for name in names
        for s in codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
    ):
        time.sleep(0.5)


def run_script(url: str, *args: str) -> tuple[float, int, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
    )
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "update_projects.py"), *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    for line in process.stdout:  # as the script prints it
        lines.append(line.rstrip("\n"))
        print(f"    | {lines[-1]}", flush=True)
    code = process.wait()
    return time.monotonic() - started, code, lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=10)
    args = parser.parse_args()

    from smbundle.local import server
    from smbundle.publish import PublishOptions, publish

    with tempfile.TemporaryDirectory(prefix="smbundle-bench-updates-") as tmp, server.start() as aws:
        studio = aws.roles[server.STUDIO_EXECUTION_ROLE_NAME]

        def publish_from(root: Path) -> dict:
            return publish(
                PublishOptions(
                    repo_root=root, principal_arns=[studio], region=aws.region, endpoint_url=aws.url
                )
            )

        old = publish_from(older_product(Path(tmp) / "old"))
        sagemaker, codepipeline = aws.client("sagemaker"), aws.client("codepipeline")
        started = time.monotonic()
        pipelines = []
        for n in range(args.projects):
            name = f"bench-{n:02d}"
            sagemaker.create_project(
                ProjectName=name,
                ServiceCatalogProvisioningDetails={
                    "ProductId": old["product_id"],
                    "ProvisioningArtifactId": old["provisioning_artifact_id"],
                },
            )
            project_id = sagemaker.describe_project(ProjectName=name)["ProjectId"]
            pipelines += [
                f"sagemaker-{name}-{project_id}-modelbuild",
                f"sagemaker-{name}-{project_id}-modeldeploy",
            ]
        quiet_first_runs(codepipeline, pipelines)
        print(
            f"setup: {args.projects} projects on {old['version']} (CodeBuild {OLD_IMAGE.split('/')[-1]}) in "
            f"{time.monotonic() - started:.1f} s",
            flush=True,
        )
        new = publish_from(REPO)
        print(f"setup: published {new['version']} (CodeBuild {IMAGE.split('/')[-1]})", flush=True)

        print("update_projects.py --dry-run:", flush=True)
        preview_s, preview_code, _ = run_script(aws.url, "--dry-run")
        print("update_projects.py:", flush=True)
        update_s, update_code, lines = run_script(aws.url)

        statuses = {
            p["ProjectName"]: (
                p["ProjectStatus"],
                sagemaker.describe_project(ProjectName=p["ProjectName"])["ServiceCatalogProvisioningDetails"][
                    "ProvisioningArtifactId"
                ],
            )
            for p in sagemaker.list_projects()["ProjectSummaryList"]
        }
        updated = sum(
            1 for s in statuses.values() if s == ("UpdateCompleted", new["provisioning_artifact_id"])
        )
        reported = sum(1 for line in lines if " updated to " in line)
        print(f"dry run: {args.projects} projects previewed in {preview_s:.2f} s wall (exit {preview_code})")
        flag = "  <-- BELOW TARGET" if update_s >= TARGET_S or update_code != 0 else ""
        print(
            f"update: {args.projects} projects updated at once in {update_s:.2f} s wall, exit {update_code}; "
            f"{reported} reported updated, {updated} UpdateCompleted on {new['version']} per DescribeProject "
            f"(target < {TARGET_S:.0f} s){flag}"
        )
        return 0 if updated == args.projects else 1


if __name__ == "__main__":
    sys.exit(main())
