"""Our real build commands run warm and cold: the same output and exit status.

The build seed's console scripts (``get-pipeline-definition``, and ``run-pipeline`` up to its first AWS call) and the
deploy seed's ``build.py`` and ``test/test.py`` (their help, usage errors, missing inputs and a missing credential),
run by the local CodeBuild with its launchers (warm) and without (cold). The only difference allowed is documented
in docs/local.md: what the SageMaker SDK logs while it is imported ("sagemaker.config INFO - Not applying SDK
defaults ...") is not in a warm command's output, since the worker imported it before the command started.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from smbundle.local.codebuild import warm_python
from smbundle.local.codebuild.executor import run_build
from tests.test_local_executors import _project

REPO = Path(__file__).resolve().parents[1]
BUILDSPEC = "local-warm-test-buildspec.yml"
# Values that pass the commands' own checks; nothing is created (there are no credentials).
PROJECT = (
    "--project-name demo --project-id p-1 --role-arn arn:aws:iam::111111111111:role/r"
    " --default-bucket bucket-1 --region us-east-1"
)
COMMANDS = {
    "build": [
        f"get-pipeline-definition {PROJECT}",
        f"run-pipeline {PROJECT}",
        "run-pipeline --project-name demo",
    ],
    "deploy": [
        "python build.py --help",
        "python build.py",
        "python build.py --model-execution-role arn:aws:iam::111111111111:role/r --model-package-group-name g"
        " --sagemaker-project-id p-1 --sagemaker-project-name demo --s3-bucket bucket-1",
        "python test/test.py --wait-timeout-s -1",
        "python test/test.py",
    ],
}
# Logged by the SDK while it is imported: a warm command's worker imported it before the command started.
IMPORT_TIME = "sagemaker.config INFO - Not applying SDK defaults from location:"


def _buildspec(commands: list[str]) -> str:
    lines = []
    for number, command in enumerate(commands):
        lines.append(f"      - {command} > {number}.out 2> {number}.err || echo $? > {number}.status")
    return (
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        + "\n".join(lines)
        + '\nartifacts:\n  files: ["*.out", "*.err", "*.status"]\n'
    )


def _run(tmp_path: Path, monkeypatch, seed: str, warm: str) -> dict[str, str]:
    monkeypatch.setenv(warm_python.SWITCH, warm)
    src = tmp_path / seed  # the same path both times: the definition names a hash of the code's path
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(
        REPO / "seed_code" / seed, src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    (src / BUILDSPEC).write_text(_buildspec(COMMANDS[seed]))
    out = tmp_path / f"{seed}-out-{warm}"
    variables = {  # no credentials anywhere: the first AWS call fails at once, as it would without a role
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAGEMAKER_TELEMETRY_OPT_OUT": "true",
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }
    result = run_build(
        _project(variables=variables, buildspec=BUILDSPEC), src, out, region="us-east-1", endpoint_url=None
    )
    assert result.succeeded, result.log_tail
    return {p.name: p.read_text() for p in out.iterdir()}


@pytest.mark.parametrize("seed", ["build", "deploy"])
def test_the_seeds_build_commands_warm_and_cold(tmp_path, monkeypatch, seed):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no profile of this machine's user either
    cold = _run(tmp_path, monkeypatch, seed, "0")
    warm = _run(tmp_path, monkeypatch, seed, "1")

    for number, command in enumerate(COMMANDS[seed]):
        status = warm.get(f"{number}.status", "0\n")
        assert status == cold.get(f"{number}.status", "0\n"), command
        assert warm[f"{number}.out"] == cold[f"{number}.out"], command
        expected = [line for line in cold[f"{number}.err"].splitlines() if not line.startswith(IMPORT_TIME)]
        assert warm[f"{number}.err"].splitlines() == expected, command
    statuses = [warm.get(f"{number}.status", "0\n").strip() for number in range(len(COMMANDS[seed]))]
    # Each command ran its real code path: a definition, and no credentials; help, usage errors, missing inputs.
    assert statuses == {"build": ["0", "1", "2"], "deploy": ["0", "2", "1", "2", "1"]}[seed]
    if seed == "build":
        # The SDK was imported before the warm command started: its worker's import logged these lines.
        assert IMPORT_TIME in cold["0.err"] and IMPORT_TIME not in warm["0.err"]
        assert json.loads(warm["0.out"])["Version"] == "2020-12-01"
    assert "Unable to locate credentials" in warm[{"build": "1.err", "deploy": "2.err"}[seed]]
