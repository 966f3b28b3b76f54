"""The buildspec's build commands work with exactly the environment the product template gives the project."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# What the model build CodeBuild project of the product template sets (service_catalog/product.yaml).
PROJECT_ENVIRONMENT = {
    "SAGEMAKER_PROJECT_NAME": "demo",
    "SAGEMAKER_PROJECT_ID": "p-abc",
    "SAGEMAKER_PROJECT_ARN": "arn:aws:sagemaker:us-east-1:123456789012:project/demo",
    "ARTIFACT_BUCKET": "sagemaker-project-p-abc",
    "SAGEMAKER_PIPELINE_ROLE_ARN": "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
    "AWS_REGION": "us-east-1",
}


def buildspec():
    return yaml.safe_load((REPO / "codebuild-buildspec.yml").read_text())


def test_build_commands_read_only_what_the_project_and_buildspec_set():
    spec = buildspec()
    commands = " ".join(spec["phases"]["build"]["commands"])
    read = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", commands))
    assert read <= set(PROJECT_ENVIRONMENT) | set(spec["env"]["variables"]) | {"CODEBUILD_SRC_DIR"}
    assert spec["phases"]["install"]["runtime-versions"]["python"] in (3.11, 3.12, "3.11", "3.12")


def test_build_commands_run_with_that_environment(tmp_path):
    """Run the build phase as CodeBuild would, with run-pipeline pointed at a stub that records its arguments."""
    spec = buildspec()
    stub = tmp_path / "bin" / "run-pipeline"
    stub.parent.mkdir()
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD"\n')
    stub.chmod(0o755)
    env = {
        "PATH": f"{stub.parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "CODEBUILD_SRC_DIR": str(REPO),
        "RECORD": str(tmp_path / "args"),
        **PROJECT_ENVIRONMENT,
        **spec["env"]["variables"],
    }
    script = "set -eu\n" + "\n".join(spec["phases"]["build"]["commands"])
    completed = subprocess.run(
        [shutil.which("bash"), "-c", script], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    args = (tmp_path / "args").read_text().split("\n")
    assert args[args.index("--project-name") + 1] == "demo"
    assert args[args.index("--role-arn") + 1] == PROJECT_ENVIRONMENT["SAGEMAKER_PIPELINE_ROLE_ARN"]
    assert args[args.index("--default-bucket") + 1] == "sagemaker-project-p-abc"
