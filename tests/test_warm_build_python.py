"""The local CodeBuild's warm Python: a build command run in a fork of a worker behaves as with a fresh interpreter
(arguments, directory, environment, PYTHONPATH, streams, exit codes, exit-time effects), and whatever the
launchers do not take runs cold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smbundle.local.codebuild import warm_python
from smbundle.local.codebuild.executor import run_build
from tests.test_local_executors import _project

PROBE = r"""
import atexit, gc, json, logging, os, sys, threading, time
import boto3  # what the deploy seed's scripts import
import fromsrc  # from the checked-out source (PYTHONPATH)
import beside  # from the script's own directory (sys.path[0])

from pathlib import Path

root = logging.getLogger()
print(json.dumps({
    "argv": sys.argv[1:],
    "cwd": os.getcwd() == os.environ["CODEBUILD_SRC_DIR"],
    "variable": os.environ.get("ARTIFACT_BUCKET"),
    "host_only": os.environ.get("HOST_ONLY"),
    "modules": [fromsrc.NAME, beside.NAME],
    "path0": sys.path[0].endswith("tools"),
    "root_logger": [logging.getLevelName(root.level), len(root.handlers)],
    "main": __name__,
    "stdin_tty": sys.stdin.isatty(),
    "gc_thresholds": gc.get_threshold(),
}, sort_keys=True))
print("to stderr", file=sys.stderr)
unclosed = open("unclosed.txt", "w")
unclosed.write("written, never closed")  # a fresh interpreter flushes it at exit
def late():
    time.sleep(0.2)
    Path("thread.txt").write_text("joined")
threading.Thread(target=late).start()  # a non-daemon thread: the interpreter waits for it
atexit.register(lambda: print("atexit ran"))
"""

BUILDSPEC = """
version: 0.2
phases:
  build:
    commands:
      - python -c 'import sys; print("boto3" in sys.modules)' > preloaded.txt
      - python tools/probe.py one "two words" > probe.txt 2> probe.err
      - cat thread.txt > joined.txt && tail -n 1 probe.txt >> joined.txt  # done before the next command starts
      - python tools/exits.py 3 || echo "exit=$?" > exits.txt
      - python tools/exits.py text || echo "exit=$?" >> exits.txt
      - python tools/raises.py 2> raises.err || echo "exit=$?" >> exits.txt
      - echo hello | python tools/echo.py > echo.txt
      - python tools/forked.py > forked.txt
      - python --version > version.txt 2>&1
      - python tools/missing.py 2> missing.err || echo "exit=$?" >> exits.txt
artifacts:
  files:
    - "*.txt"
    - "*.err"
"""


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "tools").mkdir(parents=True)
    (src / "buildspec.yml").write_text(BUILDSPEC)
    (src / "fromsrc.py").write_text("NAME = 'fromsrc'\n")
    (src / "tools" / "beside.py").write_text("NAME = 'beside'\n")
    (src / "tools" / "probe.py").write_text(PROBE)
    (src / "tools" / "exits.py").write_text(
        "import sys\nsys.exit(int(sys.argv[1]) if sys.argv[1].isdigit() else sys.argv[1])\n"
    )
    (src / "tools" / "raises.py").write_text("raise ValueError('as a script would')\n")
    (src / "tools" / "echo.py").write_text("import sys\nprint(sys.stdin.read().strip().upper())\n")
    # Whether this command ran in a fork of a worker: its parent is not the shell that started it.
    (src / "tools" / "forked.py").write_text(
        "import os\nprint(open(f'/proc/{os.getppid()}/cmdline', 'rb').read().split(b'\\0')[1:3])\n"
    )
    return src


def _build(tmp_path: Path, name: str, monkeypatch, warm: str) -> dict[str, str]:
    monkeypatch.setenv("HOST_ONLY", "leaked")
    monkeypatch.setenv(warm_python.SWITCH, warm)
    src = _source(tmp_path / name)
    out = tmp_path / name / "out"
    result = run_build(
        _project(variables={"ARTIFACT_BUCKET": "b1"}), src, out, region="us-east-1", endpoint_url=None
    )
    assert result.succeeded, result.log_tail
    assert (src / "unclosed.txt").read_text() == "written, never closed"
    assert (src / "thread.txt").read_text() == "joined"
    return {p.name: p.read_text().replace(str(src), "<src>") for p in out.iterdir()}


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads a process's command line in /proc")
def test_a_build_command_in_a_fork_behaves_as_with_a_fresh_interpreter(tmp_path, monkeypatch):
    cold = _build(tmp_path, "cold", monkeypatch, "0")
    warm = _build(tmp_path, "warm", monkeypatch, "1")

    assert cold["forked.txt"].startswith("[b'-c', b'set -e")  # the build's shell started it
    assert warm["forked.txt"] == "[b'-m', b'smbundle.local.codebuild.warm_python']\n"  # the worker's fork
    assert cold["preloaded.txt"] == warm["preloaded.txt"] == "False\n"  # python -c runs cold, as it is
    for name in ("probe.txt", "probe.err", "exits.txt", "echo.txt", "version.txt", "missing.err"):
        assert warm[name] == cold[name], name
    probe, *rest = warm["probe.txt"].splitlines()
    # What a fresh interpreter starts with (this one raised its own: conftest.py).
    fresh = [sys.executable, "-c", "import gc, json; print(json.dumps(gc.get_threshold()))"]
    fresh_gc_thresholds = json.loads(subprocess.check_output(fresh))
    assert json.loads(probe) == {
        "argv": ["one", "two words"],
        "cwd": True,
        "variable": "b1",
        "host_only": None,
        "modules": ["fromsrc", "beside"],
        "path0": True,
        "root_logger": ["WARNING", 0],  # what boto3's import leaves; the SDK's worker is not used for python
        "main": "__main__",
        "stdin_tty": False,
        "gc_thresholds": fresh_gc_thresholds,  # not the worker's raised ones (smbundle.gc_tuning)
    }
    assert rest == ["atexit ran"]
    assert warm["probe.err"] == "to stderr\n"
    assert warm["exits.txt"] == "exit=3\nexit=1\nexit=1\nexit=2\n"
    assert warm["raises.err"].startswith("Traceback (most recent call last):")
    assert warm["raises.err"].strip().endswith("ValueError: as a script would")
    assert warm["raises.err"].splitlines()[-1] == cold["raises.err"].splitlines()[-1]
    assert warm["echo.txt"] == "HELLO\n"
    assert warm["joined.txt"] == cold["joined.txt"] == "joinedatexit ran\n"


def test_the_console_scripts_of_packages_that_need_the_sdk_run_in_its_worker():
    launched = warm_python._launched()
    assert launched["run-pipeline"] == ("sagemaker", str(Path(sys.executable).with_name("run-pipeline")))
    assert launched["python"] == launched["python3"] == ("python", None)
    assert "pip" not in launched and "cfn-lint" not in launched  # anything else runs cold


def test_a_launcher_whose_worker_is_gone_runs_the_command_cold(tmp_path):
    launcher = tmp_path / "python"
    launcher.write_text(
        warm_python.LAUNCHER.format(python=sys.executable, address=str(tmp_path / "gone.sock"), script=None)
    )
    launcher.chmod(0o755)
    (tmp_path / "script.py").write_text("import sys\nprint('cold', sys.argv[1:])\nsys.exit(4)\n")
    run = subprocess.run(
        [str(launcher), "script.py", "x"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert (run.returncode, run.stdout) == (4, "cold ['x']\n")


def test_forks_do_not_share_numpy_random_state(tmp_path):
    """The SDK's worker has numpy imported; each fork reseeds it, as a fresh interpreter would seed it."""
    program = f"""
import os, sys, numpy
from smbundle.local import forked_script
values = []
for _ in range(2):
    read, write = os.pipe()
    if os.fork() == 0:
        forked_script.become({str(tmp_path)!r}, dict(os.environ), ["x.py"], (0, write, 2))
        print(numpy.random.randint(1 << 30), flush=True)
        os._exit(0)
    os.close(write)
    values.append(os.read(read, 64))
    os.wait()
print(values[0] != values[1])
"""
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert run.stdout.strip() == "True", run.stderr


def test_the_switch_is_read_as_documented(caplog):
    assert warm_python.enabled({}) and warm_python.enabled({warm_python.SWITCH: "1"})
    assert not warm_python.enabled({warm_python.SWITCH: "0"})
    for _ in range(2):  # as at two builds
        assert warm_python.enabled({warm_python.SWITCH: "nope"})
    warnings = [
        r.getMessage()
        for r in caplog.records
        if "SMBUNDLE_WARM_BUILD_PYTHON='nope' is not 0 or 1" in r.getMessage()
    ]
    assert len(warnings) == 1  # once, not at every build
