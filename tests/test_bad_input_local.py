"""Careless command lines of the local scripts: one line on stderr, exit 2 (usage) or 1 (failure), no traceback,
nothing written, never a hang."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from smbundle.local import input_data
from smbundle.local.sample_data import generate_csv
from smbundle.validation import UsageError

REPO = Path(__file__).resolve().parents[1]


def environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1")
    env.update(extra)
    return env


def script(name: str, *args: str, cwd: Path | None = None, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *args],
        capture_output=True,
        text=True,
        env=environment(**env),
        cwd=cwd,
        timeout=120,  # a hang is a failure, not a stuck suite
        check=False,
    )


def one_line(run: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    assert run.returncode == code, (run.returncode, run.stdout[-500:], run.stderr[-2000:])
    line = run.stderr.strip()
    assert len(line.splitlines()) == 1, run.stderr
    assert line.startswith("error: ") and "Traceback" not in line
    for fragment in fragments:
        assert fragment in line, line
    return line


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- scripts/local_aws.py -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--port", "-1"], 2, "--port must be between 1 and 65535"),
        (["--port", "70000"], 2, "--port must be between 1 and 65535"),
        (["--port", "http"], 2, "invalid int value"),
        (["--region", "mars-1"], 2, "--region mars-1 is not an AWS Region with SageMaker"),
        (["--region", "cn-north-1"], 2, "is not a commercial AWS Region"),
    ],
)
def test_local_aws_bad_flags(args, code, fragment):
    one_line(script("local_aws.py", *args), code, fragment)


def test_local_aws_on_a_taken_port_fails_at_once(taken_port):
    run = script("local_aws.py", "--port", str(taken_port))
    one_line(
        run, 1, f"cannot listen on 127.0.0.1:{taken_port}: Address already in use", "choose another --port"
    )
    assert run.stdout == ""  # never serving on another port


# -- scripts/run_local.py -----------------------------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


GOOD_ROW = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15\n"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("M,0.455,0.365,15\n" * 30, "line 1: 4 columns, expected 9 (sex, length"),
        ("M,0.455,15\n", "line 1: 3 columns, expected 9"),
        (
            "Sex,Length,Diameter,Height,Whole,Shucked,Viscera,Shell,Rings\n" + GOOD_ROW * 30,
            "line 1 looks like a header row",
        ),
        (
            GOOD_ROW * 5 + "X,0.4,0.3,0.1,0.5,0.2,0.1,0.1,9\n",
            "line 6 column 1 (sex): 'X' is not one of F, I, M",
        ),
        (
            GOOD_ROW * 3 + "F,0.4,0.3,0.1,0.5,0.2,0.1,0.1,nine\n",
            "line 4 column 9 (rings): 'nine' is not a number",
        ),
        (GOOD_ROW * 3 + "F,0.4,-0.3,0.1,0.5,0.2,0.1,0.1,9\n", "line 4 column 3 (diameter): '-0.3'"),
        (GOOD_ROW * 3 + "F,0.4,0.3,0.1,0.5,0.2,0.1,0.1,\n", "line 4 column 9 (rings): '' is not a number"),
        (GOOD_ROW * 5, "has 5 rows; the pipeline splits 70/15/15"),
    ],
)
def test_input_data_of_the_wrong_shape_names_line_and_column(tmp_path, content, fragment):
    path = write(tmp_path / "data.csv", content)
    with pytest.raises(UsageError, match="^--input-data ") as failure:
        input_data.check(path)
    assert fragment in str(failure.value)


def test_input_data_accepts_the_schema_with_missing_measurements(tmp_path):
    assert input_data.check(write(tmp_path / "ok.csv", generate_csv(50).decode())) == 50
    assert (
        input_data.check(write(tmp_path / "gaps.csv", GOOD_ROW * 20 + ",,0.3,0.1,0.5,0.2,0.1,0.1,7\n")) == 21
    )


def test_input_data_schema_is_the_build_seeds(tmp_path):
    from tests._local_helpers import load_seed_module

    preprocess = load_seed_module("build/pipelines/abalone/preprocess.py", "schema_check")
    assert input_data.COLUMNS == preprocess.COLUMNS
    assert input_data.SEX_CATEGORIES == preprocess.SEX_CATEGORIES


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--project-name", ""], 2, "--project-name '' is not a valid SageMaker project name"),
        (["--project-name=9lives-"], 2, "starting with a letter or digit"),
        (["--project-name", "a" * 33], 2, "1 to 32 letters"),
        (["--project-name", "bad_name"], 2, "is not a valid SageMaker project name"),
        (["--region", "mars-1"], 2, "--region mars-1 is not an AWS Region"),
        (["--endpoint-url", "127.0.0.1:4566"], 2, "is not an endpoint URL: give http://HOST:PORT"),
        (["--endpoint-url", "http://127.0.0.1:99999"], 2, "is not an endpoint URL"),
        (
            ["--endpoint-url", "http://127.0.0.1:1"],
            1,
            "nothing answers at http://127.0.0.1:1 (from --endpoint-url)",
        ),
        (["--input-data", "."], 2, "--input-data . is a directory"),
        (["--workdir", "README.md"], 2, "--workdir README.md exists and is not a directory"),
        (["--workdir", "README.md/run"], 2, "README.md is not a directory"),
        (["--summary", "README.md/summary.json"], 2, "README.md is not a directory"),
        (["--summary", "docs"], 2, "--summary docs is a directory"),
        (["--auto-approve", "--stop-before-prod"], 2, "not allowed with argument"),
        (["--prod-load", "0"], 2, "--prod-load must be between 0 and 120 requests per minute, got 0"),
        (["--prod-load", "500"], 2, "--prod-load must be between 0 and 120 requests per minute, got 500"),
        (["--prod-load", "many"], 2, "--prod-load: invalid float value: 'many'"),
        (["--prod-load", "60", "--roles", "managed"], 2, "--prod-load needs --roles custom"),
        (["--bad-model", "--stop-before-prod"], 2, "--bad-model needs prod, which --stop-before-prod"),
        (
            ["--target", "s3", "--roles", "managed"],
            2,
            "--target s3 needs --roles custom: the SageMaker-managed",
        ),
        (["--target", "catalog"], 2, "argument --target: invalid choice: 'catalog'"),
    ],
)
def test_run_local_bad_flags(tmp_path, args, code, fragment):
    one_line(script("run_local.py", *args, cwd=REPO, TMPDIR=str(tmp_path)), code, fragment)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a work directory


def test_run_local_rejects_bad_data_before_anything_starts(tmp_path):
    data = write(tmp_path / "three.csv", "M,0.455,15\n" * 40)
    run = script("run_local.py", "--input-data", str(data), "--workdir", str(tmp_path / "work"))
    one_line(run, 2, f"--input-data {data} line 1: 3 columns, expected 9")
    assert run.stdout == "" and not (tmp_path / "work").exists()


def test_a_left_over_endpoint_variable_is_named(free_port):
    run = script("run_local.py", AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port}")
    one_line(
        run,
        1,
        f"nothing answers at http://127.0.0.1:{free_port} (from AWS_ENDPOINT_URL)",
        "unset AWS_ENDPOINT_URL",
    )


def test_an_endpoint_that_is_not_the_embedded_aws_is_refused(free_port):
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(free_port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", free_port)) == 0:
                    break
            server.wait(timeout=0.05) if server.poll() is not None else None
        run = script("run_local.py", "--endpoint-url", f"http://127.0.0.1:{free_port}")
        one_line(run, 1, "is not an embedded AWS")
    finally:
        server.terminate()
        server.wait()


@pytest.mark.parametrize("name", ["run_local.py", "local_aws.py"])
def test_a_bad_cold_start_setting_is_refused_before_anything_starts(tmp_path, name):
    run = script(name, cwd=REPO, TMPDIR=str(tmp_path), SMBUNDLE_COLD_START_BASE_SECONDS="-2")
    one_line(run, 2, "SMBUNDLE_COLD_START_BASE_SECONDS='-2' must be zero or more", "docs/local.md")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("soon", "SMBUNDLE_LOAD_DURATION_SECONDS='soon' is not a number"), ("0", "must be a positive number")],
)
def test_a_bad_load_duration_is_refused_before_anything_starts(tmp_path, value, fragment):
    run = script("run_local.py", cwd=REPO, TMPDIR=str(tmp_path), SMBUNDLE_LOAD_DURATION_SECONDS=value)
    one_line(run, 2, fragment, "docs/local.md")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["run_local.py", "local_aws.py"])
def test_a_bad_warm_python_switch_is_refused_before_anything_starts(tmp_path, name):
    run = script(name, cwd=REPO, TMPDIR=str(tmp_path), SMBUNDLE_WARM_BUILD_PYTHON="off")
    one_line(run, 2, "SMBUNDLE_WARM_BUILD_PYTHON='off' is not 0 or 1", "docs/local.md")
    assert list(tmp_path.iterdir()) == []


def test_the_production_runs_against_a_running_embedded_aws_need_its_clock(tmp_path):
    """--prod-load and --bad-model pace their traffic in AWS minutes: with --endpoint-url the server's clock must be
    given (it is local_aws.py's SMBUNDLE_TIME_SCALE, which this process cannot read)."""
    run = script(
        "run_local.py",
        "--bad-model",
        "--endpoint-url",
        "http://127.0.0.1:4566",
        TMPDIR=str(tmp_path),
        SMBUNDLE_TIME_SCALE="",
    )
    one_line(run, 2, "--bad-model paces its traffic", "start local_aws.py with SMBUNDLE_TIME_SCALE=120")
