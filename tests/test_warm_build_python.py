"""The local CodeBuild's warm Python: a build command run in a fork of a worker behaves as with a fresh interpreter
(arguments, directory, environment, PYTHONPATH, streams, exit codes, exit-time effects, signals, umask), and
whatever the launchers do not take, or a fork could not start as its interpreter would, runs cold."""

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


# How a command started: in a fork of a worker (its parent is the worker) or fresh; and what it can see of that.
HOW = r"""
import json, os, signal, sys
forked = b"warm_python" in open(f"/proc/{os.getppid()}/cmdline", "rb").read()
def disposition(signum):
    handler = signal.getsignal(signum)
    return handler.__name__ if callable(handler) else int(handler)
print("forked" if forked else "fresh", json.dumps({
    "flags": list(sys.flags),
    "streams": [[s.encoding, s.errors] for s in (sys.stdin, sys.stdout, sys.stderr)],
    "hash": None if os.environ.get("PYTHONHASHSEED", "random") == "random" else hash("seed"),
    "signals": {s.name: disposition(s) for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGTERM)},
    "blocked": sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "umask": os.umask(0),
}))
"""

SIGNALS_BUILDSPEC = """
version: 0.2
phases:
  build:
    commands:
      - pid=  # the background command's, below
      - started() { for i in $(seq 200); do [ -s "$1" ] && return; sleep 0.05; done; }
      - running() { for i in $(seq 100); do kill -0 "$(cat "$1")" 2>/dev/null || return 1; sleep 0.05; done; }
      - timeout 0.5 python tools/sleeps.py timeout.pid || echo "timeout $?" >> statuses.txt
      - running timeout.pid || echo "timeout stopped" >> statuses.txt
      - python tools/sleeps.py term.pid & pid=$!; started term.pid; kill -TERM $pid; wait $pid || echo "term $?" >> statuses.txt
      - running term.pid || echo "term stopped" >> statuses.txt
      - python tools/sleeps.py kill.pid & pid=$!; started kill.pid; kill -KILL $pid; wait $pid || echo "kill $?" >> statuses.txt
      - running kill.pid || echo "kill stopped" >> statuses.txt
      - python tools/interrupted.py > interrupted.txt 2>&1 || echo "interrupted $?" >> statuses.txt
      - (umask 027 && python tools/modes.py > modes.txt)
      - python tools/how.py > how.txt
      - (umask 077; trap '' USR1; python tools/how.py) >> how.txt
      - python tools/how.py >> how.txt & wait
      - PYTHONHASHSEED=random PYTHONIOENCODING=latin-1:replace python tools/how.py >> how.txt
      - PYTHONHASHSEED=0 python tools/how.py >> how.txt
      - PYTHONDONTWRITEBYTECODE=1 python tools/how.py >> how.txt
      - PYTHONUNBUFFERED=1 python tools/how.py >> how.txt
      - PYTHONWARNINGS=error python tools/how.py >> how.txt
      - PYTHONSAFEPATH=1 python tools/how.py >> how.txt
      - PYTHONOPTIMIZE=1 python tools/how.py >> how.txt
      - PYTHONUTF8=1 python tools/how.py >> how.txt
      - LC_ALL=C python tools/how.py >> how.txt
      - python -X dev tools/how.py >> how.txt
      - nice -n 1 python tools/how.py >> how.txt
      - (ulimit -n 512 && python tools/how.py >> how.txt)
      - python tools/how.py >> how.txt 3> /dev/null
artifacts:
  files:
    - "*.txt"
"""


def _signals_build(tmp_path: Path, monkeypatch, warm: str) -> dict[str, str]:
    monkeypatch.setenv(warm_python.SWITCH, warm)
    src = tmp_path / warm / "src"
    (src / "tools").mkdir(parents=True)
    (src / "buildspec.yml").write_text(SIGNALS_BUILDSPEC)
    (src / "tools" / "sleeps.py").write_text(
        "import os, sys, time\nopen(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(30)\n"
    )
    (src / "tools" / "interrupted.py").write_text(
        "import atexit\natexit.register(lambda: print('atexit ran'))\nraise KeyboardInterrupt\n"
    )
    (src / "tools" / "modes.py").write_text(
        "import os\nopen('file', 'w').close()\nos.mkdir('directory')\n"
        "print(oct(os.stat('file').st_mode & 0o777), oct(os.stat('directory').st_mode & 0o777))\n"
    )
    (src / "tools" / "how.py").write_text(HOW)
    out = tmp_path / warm / "out"
    result = run_build(_project(), src, out, region="us-east-1", endpoint_url=None)
    assert result.succeeded, result.log_tail
    return {p.name: p.read_text().replace(str(src), "<src>") for p in out.iterdir()}


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads a process's command line in /proc")
def test_signals_umask_and_startup_variables_as_with_a_fresh_interpreter(tmp_path, monkeypatch):
    """Signals reach the fork and its end is the shell's $? (128+N), the fork takes the umask and signal dispositions
    it is started with, and a command whose interpreter a fork cannot be (startup variables, options, locale,
    limits, priority, descriptors) runs cold."""
    cold = _signals_build(tmp_path, monkeypatch, "0")
    warm = _signals_build(tmp_path, monkeypatch, "1")

    statuses = ["timeout 124", "timeout stopped", "term 143", "term stopped", "kill 137", "kill stopped"]
    assert warm["statuses.txt"] == cold["statuses.txt"] == "\n".join([*statuses, "interrupted 130"]) + "\n"
    assert warm["interrupted.txt"] == cold["interrupted.txt"]
    assert warm["interrupted.txt"].endswith("KeyboardInterrupt\natexit ran\n")
    assert warm["modes.txt"] == cold["modes.txt"] == "0o640 0o750\n"

    how_warm = [line.split(" ", 1) for line in warm["how.txt"].splitlines()]
    how_cold = [line.split(" ", 1) for line in cold["how.txt"].splitlines()]
    assert [seen for _, seen in how_warm] == [seen for _, seen in how_cold]  # what each command could see
    assert {started for started, _ in how_cold} == {"fresh"}
    # Forked: plain, umask and an ignored signal, in the background (SIGINT and SIGQUIT ignored), with the
    # variables a fork honours; every other command started fresh.
    assert [started for started, _ in how_warm] == ["forked"] * 4 + ["fresh"] * 12
    background = json.loads(how_warm[2][1])
    assert (
        background["signals"]["SIGINT"] == background["signals"]["SIGQUIT"] == 1
    )  # SIG_IGN, as bash left them
    assert json.loads(how_warm[1][1])["umask"] == 0o077
    assert json.loads(how_warm[3][1])["streams"][1] == ["iso8859-1", "replace"]


def test_the_console_scripts_of_packages_that_need_the_sdk_run_in_its_worker():
    launched = warm_python._launched()
    assert launched["run-pipeline"] == ("sagemaker", str(Path(sys.executable).with_name("run-pipeline")))
    assert launched["python"] == launched["python3"] == ("python", None)
    assert "pip" not in launched and "cfn-lint" not in launched  # anything else runs cold


def test_a_launcher_whose_worker_is_gone_runs_the_command_cold(tmp_path):
    launcher = tmp_path / "python"
    launcher.write_text(warm_python.launcher(str(tmp_path / "gone.sock"), None))
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


def test_the_local_build_knobs_keep_build_commands_warm():
    """A startup variable the knobs set would make every build command run cold (process_state differs)."""
    from smbundle.local.codepipeline.executions import DEFAULT_BUILD_OVERRIDES

    assert [k for k in DEFAULT_BUILD_OVERRIDES if k.startswith("PYTHON")] == []
