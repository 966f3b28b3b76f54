"""The local CodeBuild's Python, started warm: a build's ``python script.py`` and console scripts run in a fork.

A build's commands start fresh interpreters: ``run-pipeline`` imports the SageMaker Python SDK (a second or more),
``python build.py`` and ``python test/test.py`` import boto3, and each tears its interpreter down at exit (half a
second for the SDK). Locally, worker processes import these libraries once; the build's ``PATH`` starts with a
directory of small launchers (``python``, ``python3``, and the console scripts of the packages that require the
SDK, such as ``run-pipeline``) that hand the command to a worker. The worker forks; the fork becomes the command
(``smbundle.local.forked_script``: its standard streams, the build's working directory, environment, arguments and
``PYTHONPATH``), runs it and reports its exit code to the launcher, which exits with it. The shell, the build's
output and its exit status are what they would be with a fresh interpreter.

A launcher runs the real interpreter instead when the worker is not there, and for anything but ``python
<script> [args]`` (``python -m pip``, ``python -c``, ``python --version``). ``SMBUNDLE_WARM_BUILD_PYTHON=0`` turns
the launchers off (docs/local.md).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.metadata
import json
import logging
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from smbundle import gc_tuning
from smbundle.local import forked_script

log = logging.getLogger(__name__)

SWITCH = "SMBUNDLE_WARM_BUILD_PYTHON"
# The workers, by what they import ahead of time. Each import can have effects a script sees (the SDK, for one,
# configures the root logger at INFO), so a command runs in a worker that imports only what the command itself
# would import:
# - "python": ``python <script>`` (the deploy seed's build.py and test/test.py import boto3);
# - "sagemaker": the console scripts of the packages that require the SageMaker Python SDK (the build seed's
#   run-pipeline and get-pipeline-definition).
# The seed code itself is never imported ahead of time: each build runs the code it checked out.
WORKERS = {
    "python": ("boto3", "botocore.session"),
    "sagemaker": (
        "boto3",
        "botocore.session",
        "sagemaker",
        "sagemaker.workflow.pipeline",
        "sagemaker.workflow.pipeline_context",
        "sagemaker.workflow.steps",
        "sagemaker.processing",
        "sagemaker.model_monitor",
    ),
}
_LENGTH = struct.Struct("!I")


def switch_problem(environ=os.environ) -> str | None:
    """Why the switch's value cannot be used (None: unset, empty, 0 or 1)."""
    value = environ.get(SWITCH, "1")
    return None if value in ("0", "1", "") else f"{SWITCH}={value!r} is not 0 or 1"


_warned: set[str] = set()


def enabled(environ=os.environ) -> bool:
    """Whether builds start their Python warm. The scripts refuse a bad value before they start (validation.py);
    for anyone else it is warned about once and treated as on."""
    problem = switch_problem(environ)
    if problem and problem not in _warned:
        _warned.add(problem)
        log.warning("%s; the local builds start their Python warm", problem)
    return environ.get(SWITCH, "1") != "0"


class WarmPython:
    """The workers and their launchers, made on first use; all gone when this process exits."""

    def __init__(self):
        self._lock = threading.Lock()
        self._directory: Path | None = None
        self._processes: list[subprocess.Popen] = []

    def launchers(self) -> Path | None:
        """The directory to put first on a build's PATH (None when the workers cannot run here)."""
        with self._lock:
            if self._processes and all(p.poll() is None for p in self._processes):
                return self._directory / "bin"
            self._stop()
            try:
                self._start()
            except OSError as exc:
                log.warning("local builds start their Python cold: %s", exc)
                self._stop()
                return None
            return self._directory / "bin"

    def _start(self) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix="smbundle-python-"))
        addresses = {worker: self._start_worker(worker) for worker in WORKERS}
        bin_dir = self._directory / "bin"
        bin_dir.mkdir()
        for name, (worker, script) in _launched().items():
            path = bin_dir / name
            path.write_text(LAUNCHER.format(python=sys.executable, address=addresses[worker], script=script))
            path.chmod(0o755)

    def _start_worker(self, worker: str) -> str:
        address = _address(self._directory, worker)
        # The environment the libraries are imported in: no credentials, no Region, no endpoint (whatever a library
        # makes at import cannot call AWS as anyone), single-threaded numerical libraries.
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env.update(forked_script.SINGLE_THREADED)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(address)  # listening before the worker imports: launchers queue until it is ready
            listener.listen(64)
            self._processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", __name__, str(listener.fileno()), *WORKERS[worker]],
                    stdin=subprocess.PIPE,  # closed when this process ends: the worker then ends too
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                    cwd=str(Path(__file__).resolve().parents[3]),
                    pass_fds=(listener.fileno(),),
                )
            )
        finally:
            listener.close()
        return address

    def _stop(self) -> None:
        # A worker ends when its stdin closes; it is not waited for (nothing is waiting on it).
        for process in self._processes:
            with contextlib.suppress(OSError):
                process.stdin.close()
        self._processes = []
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def stop(self) -> None:
        with self._lock:
            self._stop()


def _address(directory: Path, worker: str) -> str:
    """Where a worker listens: on Linux a name in the abstract namespace (no file, and no length limit from a long
    TMPDIR); elsewhere a socket file in the launchers' directory."""
    if sys.platform == "linux":
        return f"\0{directory.name}-{worker}"
    return str(directory / f"{worker}.sock")


_warm: WarmPython | None = None
_warm_lock = threading.Lock()


def launchers() -> Path | None:
    """The launcher directory for this process's builds, or None when warm builds are off."""
    global _warm
    if not enabled():
        return None
    with _warm_lock:
        if _warm is None:
            _warm = WarmPython()
            atexit.register(_warm.stop)
    return _warm.launchers()


def _launched() -> dict[str, tuple[str, str | None]]:
    """Launcher name -> (its worker, the script it runs; None: ``python``, which takes the script as argument)."""
    launched: dict[str, tuple[str, str | None]] = {
        name: ("python", None) for name in ("python", "python3", f"python3.{sys.version_info[1]}")
    }
    bin_dir = Path(sys.executable).parent
    for distribution in importlib.metadata.distributions():
        if not any(_requirement_name(r) == "sagemaker" for r in distribution.requires or []):
            continue
        for entry in distribution.entry_points.select(group="console_scripts"):
            if (bin_dir / entry.name).is_file():
                launched[entry.name] = ("sagemaker", str(bin_dir / entry.name))
    return launched


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower()


# A launcher: the real interpreter's startup without site-packages (-I -S: a few milliseconds), the standard library
# only. It passes its standard streams to the worker with the command, its directory and environment.
LAUNCHER = '''#!{python} -IS
"""Runs this build command in a fork of the local CodeBuild's warm Python (smbundle.local.codebuild.warm_python)."""
import json, os, socket, struct, sys

PYTHON, ADDRESS, SCRIPT = {python!r}, {address!r}, {script!r}


def cold():
    if SCRIPT:  # what the console script's #! line runs
        os.execv(PYTHON, [PYTHON, SCRIPT, *sys.argv[1:]])
    # "python" as the shell found it, on a PATH without this directory (where the interpreter finds itself)
    here = os.path.dirname(os.path.abspath(sys.argv[0]))
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != here)
    os.execve(PYTHON, [os.path.basename(sys.argv[0]), *sys.argv[1:]], {{**os.environ, "PATH": path}})


argv = [SCRIPT, *sys.argv[1:]] if SCRIPT else sys.argv[1:]
if not argv or argv[0].startswith("-") or not os.path.isfile(argv[0]):
    cold()  # options, -m, -c, stdin, a missing script: the real interpreter handles (and reports) them
worker = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    worker.connect(ADDRESS)
except OSError:
    cold()
request = json.dumps({{"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
socket.send_fds(worker, [struct.pack("!I", len(request)) + request], [0, 1, 2])
answer = b""
while chunk := worker.recv(16):
    answer += chunk
if not answer:
    print(f"error: the local build's Python ended without an exit status: {{argv[0]}}", file=sys.stderr)
    sys.exit(1)
sys.exit(int(answer))
'''


# -- inside the worker process ----------------------------------------------------------------------------------
def _receive(connection: socket.socket) -> tuple[dict, tuple[int, int, int]]:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 16, 3)
    if len(fds) != 3 or len(data) < _LENGTH.size:
        raise ValueError("a launcher sent no command")
    (length,) = _LENGTH.unpack_from(data)
    body = data[_LENGTH.size :]
    while len(body) < length:
        chunk = connection.recv(length - len(body))
        if not chunk:
            raise ValueError("a launcher's command was cut short")
        body += chunk
    return json.loads(body), tuple(fds)


def _serve(connection: socket.socket) -> None:
    """In a fork: become the command, run it, answer its exit code; never return."""
    code = 1
    try:
        request, fds = _receive(connection)
        forked_script.become(request["cwd"], request["env"], request["argv"], fds)
        code = forked_script.shutdown(forked_script.run(request["argv"]))
    finally:
        with contextlib.suppress(OSError):
            connection.sendall(str(code).encode())
        os._exit(code)


def main(listener_fd: int, preload: list[str]) -> None:
    listener = socket.socket(fileno=listener_fd)
    with gc_tuning.collecting_less_often():  # the commands themselves run with the interpreter's defaults
        for name in preload:  # a library that cannot be imported here is simply not preloaded
            with contextlib.suppress(Exception):
                importlib.import_module(name)
    signal.signal(
        signal.SIGCHLD, signal.SIG_IGN
    )  # forks are reaped by the system; their launchers wait on them
    gc.freeze()  # what was imported stays out of the forks' collections (and their pages stay shared)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is sys.stdin:
                return  # the process that started the worker has ended (or stopped it)
            connection, _ = listener.accept()
            if os.fork() == 0:
                selector.close()
                listener.close()
                _serve(connection)
            connection.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:])
    os._exit(0)  # nothing to tear down for anyone: the forks have their own copies
