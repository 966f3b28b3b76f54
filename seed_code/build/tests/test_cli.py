"""The console commands as a careless user runs them: the definition is JSON on stdout and writes nothing; a bad
flag or environment variable is one line on stderr with exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ARGS = [
    "--project-name",
    "demo",
    "--project-id",
    "p-abc",
    "--role-arn",
    "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
    "--default-bucket",
    "artifacts",
    "--region",
    "eu-west-1",
]


def command(name: str, *args: str, **env) -> subprocess.CompletedProcess:
    beside = Path(sys.executable).with_name(name)  # the console script of this environment
    executable = str(beside) if beside.exists() else shutil.which(name)
    assert executable, f"{name} is not installed: pip install -e '.[test]'"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Nothing answers at this endpoint: any AWS call (a bucket, an upload) would fail the command.
    environment.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL="http://127.0.0.1:1",
        SAGEMAKER_SUPPRESS_V2_WARNING="1",
    )
    environment.update(env)
    return subprocess.run([executable, *args], capture_output=True, text=True, env=environment, check=False)


# The command's function, run by a Python that counts the botocore loaders made (each parses the JSON endpoint data
# and service models again).
COUNTING_LOADERS = """
import sys, botocore.loaders
made = []
init = botocore.loaders.Loader.__init__
def counting(self, *args, **kwargs):
    made.append(self)
    init(self, *args, **kwargs)
botocore.loaders.Loader.__init__ = counting
from pipelines.cli import get_pipeline_definition
code = get_pipeline_definition(sys.argv[1:])
print(f"loaders: {len(made)}", file=sys.stderr)
sys.exit(code)
"""


def test_definition_is_json_on_stdout_needs_no_aws_and_one_loader_of_the_service_models():
    """The definition alone on stdout, with no AWS call. The command's own session, the Region check and the SDK's
    sessions (the default one its estimators make included) share one loader: the service models are parsed once
    per command. The second loader is the one the SDK's sagemaker.workflow.properties makes for itself when
    imported. (--file-name writes the same JSON to a file: test_pipeline_definition.py.)"""
    run = command("python", "-c", COUNTING_LOADERS, *ARGS)
    assert run.returncode == 0, run.stderr[-2000:]
    definition = json.loads(run.stdout)  # nothing but the JSON on stdout
    assert [s["Name"] for s in definition["Steps"]][0] == "PreprocessAbaloneData"
    assert "sagemaker.config" not in run.stdout
    text = json.dumps(definition)
    assert ".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:" in text  # the Region's own images
    assert "s3://artifacts/demo-p-abc/code/" in text  # where run-pipeline uploads the code
    assert run.stderr.splitlines()[-1] == "loaders: 2"


@pytest.mark.parametrize(
    ("name", "args", "env", "fragment"),
    [
        ("get-pipeline-definition", ["--project-name", "bad_name"], {}, "--project-name 'bad_name' is not"),
        (
            "get-pipeline-definition",
            ["--role-arn", "my-role"],
            {},
            "--role-arn 'my-role' is not an IAM role ARN",
        ),
        ("get-pipeline-definition", ["--default-bucket", "Bad_Bucket"], {}, "is not an S3 bucket name"),
        ("get-pipeline-definition", ["--region", "mars-1"], {}, "--region 'mars-1' is not an AWS Region"),
        ("get-pipeline-definition", ["--file-name", "/nonexistent/d.json"], {}, "not a file in an existing"),
        ("get-pipeline-definition", ["--file-name", "/"], {}, "not a file in an existing directory"),
        ("get-pipeline-definition", ["--region", ""], {"AWS_REGION": ""}, "missing --region"),
        ("run-pipeline", ["--timeout-seconds", "-5"], {}, "--timeout-seconds must be a positive number"),
        ("run-pipeline", ["--poll-seconds", "0"], {}, "--poll-seconds must be a positive number"),
        ("run-pipeline", ["--parameter", "MseThreshold"], {}, "must look like Name=Value"),
        (
            "run-pipeline",
            [],
            {"PIPELINE_TIMEOUT_SECONDS": "2h"},
            "PIPELINE_TIMEOUT_SECONDS='2h' is not a number",
        ),
        (
            "run-pipeline",
            ["--timeout-seconds", "soon"],
            {},
            "argument --timeout-seconds: invalid float value",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(name, args, env, fragment):
    run = command(name, *ARGS, *args, **env)
    assert run.returncode == 2, (run.stdout[-500:], run.stderr[-2000:])
    assert run.stdout == ""
    line = run.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("error: ") and fragment in line, line


def test_input_data_url_becomes_the_execution_s_input_unless_a_parameter_names_it():
    from pipelines.cli import UsageError, execution_parameters

    url = "s3://sagemaker-us-east-1-123456789012/abalone/abalone.csv"
    assert execution_parameters([], url) == [{"Name": "InputDataUrl", "Value": url}]
    assert execution_parameters([], None) == []
    given = ["InputDataUrl=s3://other-bucket/data/"]
    assert execution_parameters(given, url) == [{"Name": "InputDataUrl", "Value": "s3://other-bucket/data/"}]
    with pytest.raises(UsageError, match="is not an S3 URI"):
        execution_parameters([], "https://example.com/abalone.csv")


def test_run_pipeline_with_an_input_data_url_that_is_not_s3_exits_2():
    result = command("run-pipeline", *ARGS, INPUT_DATA_URL="/home/me/abalone.csv")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --input-data-url '/home/me/abalone.csv'")
