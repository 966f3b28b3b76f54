"""tests/_in_process.py runs our scripts in the test's interpreter; here a real interpreter answers the same."""

from __future__ import annotations

import os

import pytest

from tests._in_process import run_interpreter, run_script
from tests.test_bad_input_aws_scripts import bare
from tests.test_bad_input_local import environment

CASES = [
    ("estimate_cost.py", ["--memory-mb", "1000"], {}),  # a usage error (exit 2)
    ("estimate_cost.py", ["--runs-per-day", "2", "--json"], {}),  # a result on stdout
    ("publish_product.py", [], "bare"),  # no Region: exit 2, read from the environment it was given
    ("publish_product.py", ["--region", "us-east-1"], "bare"),  # no credentials: exit 1
    ("delete_project.py", ["--project-name", "demo", "--profile", "nope"], {}),
    ("delete_project.py", ["--project-name", "demo", "--endpoint-url", "http://127.0.0.1:1"], {}),
]


@pytest.mark.parametrize(("name", "args", "env"), CASES, ids=[f"{c[0]} {' '.join(c[1])}" for c in CASES])
def test_a_real_interpreter_answers_as_run_script_says(name, args, env, tmp_path):
    env = bare() if env == "bare" else environment(**env)
    before = dict(os.environ)
    in_process = run_script(name, *args, env=env, cwd=tmp_path)
    assert dict(os.environ) == before and os.getcwd() != str(tmp_path)  # the test's own process is untouched
    real = run_interpreter(name, *args, env=env, cwd=tmp_path)
    assert (in_process.returncode, in_process.stdout, in_process.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )
