"""The local CodeBuild's Python, started warm: a build's ``python script.py`` and console scripts run in a fork.

A build's commands start fresh interpreters: ``run-pipeline`` imports the SageMaker Python SDK (a second or more),
``python build.py`` and ``python test/test.py`` import boto3, and each tears its interpreter down at exit (half a
second for the SDK). Locally, worker processes import these libraries once; the build's ``PATH`` starts with a
directory of small launchers (``python``, ``python3``, and the console scripts of the packages that require the
SDK, such as ``run-pipeline``) that hand the command to a worker. The worker forks; the fork becomes the command
(``smbundle.local.forked_script``: its standard streams, the build's working directory, environment, arguments,
``PYTHONPATH``, umask and signal dispositions), runs it, and ends as it ends. The worker reports how (its exit code,
or the signal that killed it) to the launcher, which ends the same way: the shell sees the same ``$?`` (128+N for
a signal). Signals sent to the launcher go to the command's process group (the command and what it started), and
a launcher that is killed outright takes its command with it. The shell, the build's output and its exit status
are what they would be with a fresh interpreter.

A launcher runs the real interpreter instead when the worker is not there, for anything but ``python <script>.py
[args]`` and the console scripts (``python -m pip``, ``python -c``, ``python --version``, any option), and whenever
a fork could not start as that interpreter would (``process_state``: an interpreter startup variable other than
``PYTHONPATH``, ``PYTHONIOENCODING`` and ``PYTHONBREAKPOINT``, such as ``PYTHONHASHSEED`` set to a number, another
locale, other resource limits, priority or CPUs, or descriptors beyond the standard streams).
``SMBUNDLE_WARM_BUILD_PYTHON=0`` turns the launchers off (docs/local.md).

What stays the worker's: each fork's hash seed (``str`` hashes and the order of sets of strings) is its worker's,
random per worker rather than per command, since an interpreter fixes it at start and the worker's imported modules
depend on it; its parent process is the worker, and it leads a process group of its own.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.metadata
import inspect
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
#   run-pipeline and get-pipeline-definition);
# - "processing": the scripts of SageMaker processing jobs (``smbundle/local/sagemaker/step_worker.py``), with the
#   numerical libraries the seeds' processing scripts import.
# The seed code itself is never imported ahead of time: each build runs the code it checked out.
WORKERS = {
    "processing": (
        "numpy",
        "pandas",
        "sklearn.compose",
        "sklearn.impute",
        "sklearn.pipeline",
        "sklearn.preprocessing",
        "xgboost",
    ),
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
            path.write_text(launcher(addresses[worker], script))
            path.chmod(0o755)
        processing = self._directory / PROCESSING
        processing.mkdir()  # not on the builds' PATH: the processing jobs' own
        (processing / "python").write_text(launcher(addresses["processing"], None))
        (processing / "python").chmod(0o755)

    def _start_worker(self, worker: str) -> str:
        address = _address(self._directory, worker)
        # The environment the libraries are imported in: no credentials, no Region, no endpoint (whatever a library
        # makes at import cannot call AWS as anyone), single-threaded numerical libraries.
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env.setdefault("LANG", "C.UTF-8")  # the builds' locale (executor._base_environment)
        env.update(forked_script.SINGLE_THREADED)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(address)  # listening before the worker imports: launchers queue until it is ready
            listener.listen(64)
            self._processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", __name__, str(listener.fileno()), *WORKERS[worker]],
                    stdin=subprocess.PIPE,  # closed when this process ends: the worker then ends too (_Worker)
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                    cwd=str(Path(__file__).resolve().parents[3]),
                    pass_fds=(listener.fileno(),),
                    start_new_session=True,  # no terminal's signals: what reaches a command comes from its launcher
                )
            )
        finally:
            listener.close()
        return address

    def _stop(self) -> None:
        # A worker takes no new command once its stdin closes, and ends when the commands it runs have ended; it is
        # not waited for (nothing is waiting on it).
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


# A launcher directory whose workers another process started (and keeps running): this process's builds use it
# instead of starting their own. The test suite starts one set of workers for all its processes (tests/conftest.py).
SHARED = "SMBUNDLE_WARM_BUILD_PYTHON_SHARED"


def launchers() -> Path | None:
    """The launcher directory for this process's builds, or None when warm builds are off."""
    global _warm
    if not enabled():
        return None
    shared = os.environ.get(SHARED)
    if shared and (Path(shared) / "python").is_file():
        return Path(shared)  # a launcher whose worker has gone runs its command cold
    with _warm_lock:
        if _warm is None:
            _warm = WarmPython()
            atexit.register(_warm.stop)
    return _warm.launchers()


PROCESSING = "processing"  # the directory, beside the builds' launchers, of the processing jobs' ``python``


def processing_python() -> Path | None:
    """The launcher that runs ``python <script>`` of a processing job warm, or None when warm Python is off."""
    directory = launchers()
    return None if directory is None else directory.parent / PROCESSING / "python"


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


def process_state() -> dict:
    """What a fresh interpreter takes from the process that starts it and a fork of a worker cannot take on: the
    interpreter startup variables other than those a fork honours (PYTHONHASHSEED set to a number among them), the
    locale and the encodings it implies (of the standard streams too: None for a closed one), resource limits,
    priority and CPUs. A launcher and its worker both compute it (the launcher runs this function's source); a
    command runs in a fork only when they agree."""
    import _locale
    import codecs
    import resource

    def honoured(name: str, value: str) -> bool:
        """forked_script.become sets sys.path and the standard streams; breakpoint() reads its variable when
        called; PYTHONHASHSEED=random is what unset means."""
        if name == "PYTHONHASHSEED":
            return value == "random"
        if name == "PYTHONIOENCODING":  # given a codec that exists (else the interpreter does not start)
            try:
                codecs.lookup(value.partition(":")[0] or "ascii")
            except LookupError:
                return False
        return name in ("PYTHONPATH", "PYTHONIOENCODING", "PYTHONBREAKPOINT")

    streams = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
    return {
        "variables": sorted(
            f"{k}={v}" for k, v in os.environ.items() if k.startswith("PYTHON") and v and not honoured(k, v)
        ),
        "locale": [
            _locale.setlocale(_locale.LC_ALL),
            sys.flags.utf8_mode,
            sys.getfilesystemencoding(),
            sys.getfilesystemencodeerrors(),
            [[s.encoding, s.errors] if s else None for s in streams],
        ],
        "limits": {
            n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith("RLIMIT_")
        },
        "priority": os.getpriority(os.PRIO_PROCESS, 0),
        "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def launcher(address: str, script: str | None) -> str:
    """A launcher's source: for ``python`` (``script`` None) or for the console script ``script``."""
    return LAUNCHER.format(
        python=sys.executable, address=address, script=script, process_state=inspect.getsource(process_state)
    )


# A launcher: the real interpreter's startup without site-packages (-I -S: a few milliseconds), the standard library
# only. It passes its standard streams to the worker with the command, its directory, environment, umask, signal
# dispositions and process_state; then it passes on the signals it receives and ends as the command ends.
LAUNCHER = """#!{python} -IS
\"""Runs this build command in a fork of the local CodeBuild's warm Python (smbundle.local.codebuild.warm_python).\"""
import json, os, signal, socket, struct, sys

PYTHON, ADDRESS, SCRIPT = {python!r}, {address!r}, {script!r}
ARGV = [SCRIPT, *sys.argv[1:]] if SCRIPT else sys.argv[1:]
# What the real interpreter runs: the console script as its #! line runs it, or "python" as the shell found it.
COMMAND = [PYTHON if SCRIPT else os.path.basename(sys.argv[0]), *ARGV]
# The signals this launcher keeps: those it cannot catch, job control that stops it, and faults of its own.
KEPT = {{signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}}
KEPT |= {{signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}}
command = None  # the command's process (and process group), once the worker has forked it
received = []  # signals received before that


def cold():
    \"""Run the real interpreter instead (after the signals received so far, as if they had come before it started).\"""
    for signum in received:
        end(signum)
    env = dict(os.environ)
    if not SCRIPT:  # on a PATH without this directory (where the interpreter finds itself)
        here = os.path.dirname(os.path.abspath(sys.argv[0]))
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != here)
    os.execve(PYTHON, COMMAND, env)


def end(signum):
    \"""End as a process killed by this signal (returns if its default action is to ignore it).\"""
    signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
    os.kill(os.getpid(), signum)


def forward(signum, frame):
    if command is None:
        received.append(signum)
        return
    try:
        os.killpg(command, signum)
    except OSError:  # it has just ended
        pass


def inherited_fds():
    \"""Descriptors beyond stdin, stdout and stderr that the shell passed on (a fork could not take them on).\"""
    fds = []
    for name in os.listdir("/dev/fd"):  # the listing's own descriptor is closed by the time it is checked
        try:
            os.fstat(int(name))
            fds.append(int(name))
        except OSError:
            pass
    return [fd for fd in fds if fd > 2]


{process_state}

def request():
    \"""The command for the worker, or None: the real interpreter handles (and reports) options, -m, -c, stdin,
    a directory or zip file, a missing script, and descriptors beyond the standard streams.\"""
    script = ARGV[0] if ARGV else ""
    if not SCRIPT and not (script.endswith(".py") and os.path.isfile(script) and os.access(script, os.R_OK)):
        return None
    try:
        cwd = os.getcwd()
    except OSError:
        return None
    if inherited_fds():
        return None
    umask = os.umask(0)
    os.umask(umask)
    signals = {{
        "ignored": sorted(int(s) for s in signal.valid_signals() if signal.getsignal(s) == signal.SIG_IGN),
        "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    }}
    return {{
        "argv": ARGV,
        "orig_argv": COMMAND,
        "cwd": cwd,
        "env": dict(os.environ),
        "umask": umask,
        "signals": signals,
        "state": process_state(),
    }}


command_request = request()
if command_request is None:
    cold()
for signum in signal.valid_signals() - KEPT:
    if signal.getsignal(signum) != signal.SIG_IGN:  # what the command ignores too
        signal.signal(signum, forward)
worker = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    worker.connect(ADDRESS)
except OSError:
    cold()
body = json.dumps(command_request).encode()
message = struct.pack("!I", len(body)) + body
answers = worker.makefile("rb")
try:
    sent = socket.send_fds(worker, [message], [0, 1, 2])
    if sent < len(message):
        worker.sendall(message[sent:])
    answer = answers.readline().split()
except OSError:
    answer = []
if answer[:1] != [b"pid"]:
    cold()  # "cold": its interpreter would not start as the worker's did (process_state); nothing: no worker
command = int(answer[1])
for signum in received:
    forward(signum, None)
try:
    answer = answers.readline().split()
except OSError:
    answer = []
if answer[:1] != [b"exit"]:
    print(f"error: the local build's Python ended without an exit status: {{ARGV[0]}}", file=sys.stderr)
    sys.exit(1)
code = int(answer[1])
if code < 0:  # killed by signal -code: so is this launcher (a shell reports 128+N for either)
    end(-code)
    sys.exit(128 - code)
sys.exit(code)
"""


# -- inside the worker process ----------------------------------------------------------------------------------
def _receive(connection: socket.socket) -> tuple[dict, tuple[int, int, int]]:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 16, 3)
    if len(fds) != 3 or len(data) < _LENGTH.size:
        for fd in fds:
            os.close(fd)
        raise ValueError("a launcher sent no command")
    (length,) = _LENGTH.unpack_from(data)
    body = data[_LENGTH.size :]
    while len(body) < length:
        chunk = connection.recv(length - len(body))
        if not chunk:
            for fd in fds:
                os.close(fd)
            raise ValueError("a launcher's command was cut short")
        body += chunk
    return json.loads(body), tuple(fds)


class _Worker:
    """Forks a command for each launcher that connects, reports how each fork ended to its launcher, and kills a
    fork (with its process group) whose launcher has gone."""

    def __init__(self, listener: socket.socket, state: dict):
        self.listener = listener
        self.state = state  # what a launcher's process_state must be for its command to run here
        self.forks: dict[int, socket.socket | None] = {}  # pid -> its launcher's connection (None: gone)
        # SIGCHLD wakes the loop (through this socket pair) to collect the forks that ended.
        self.wakeup, self.wakeup_in = socket.socketpair()
        self.wakeup.setblocking(False)
        self.wakeup_in.setblocking(False)
        signal.set_wakeup_fd(self.wakeup_in.fileno())
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ)
        self.selector.register(sys.stdin, selectors.EVENT_READ)
        self.selector.register(self.wakeup, selectors.EVENT_READ)

    def serve(self) -> None:
        serving = True
        while serving or self.forks:
            for key, _ in self.selector.select():
                if key.fileobj is sys.stdin:  # the process that started the worker has ended (or stopped it)
                    serving = False
                    self.selector.unregister(sys.stdin)
                    self.selector.unregister(self.listener)
                    self.listener.close()  # launchers from now on run their commands cold
                elif key.fileobj is self.listener and serving:
                    self._accept()
                elif key.fileobj is self.wakeup:
                    with contextlib.suppress(OSError):
                        self.wakeup.recv(4096)
                    self._collect()
                elif key.fileobj is not self.listener:
                    self._launcher_gone(key.fileobj, key.data)

    def _accept(self) -> None:
        connection, _ = self.listener.accept()
        try:
            request, fds = _receive(connection)
        except (OSError, ValueError):
            connection.close()
            return
        if request.get("state") != self.state:
            for fd in fds:
                os.close(fd)
            with contextlib.suppress(OSError):
                connection.sendall(b"cold\n")
            connection.close()
            return
        pid = os.fork()
        if pid == 0:
            self._become(connection, request, fds)
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):  # the fork does this too: whichever comes first
            os.setpgid(pid, pid)
        self.forks[pid] = connection
        self.selector.register(connection, selectors.EVENT_READ, pid)
        with contextlib.suppress(OSError):
            connection.sendall(f"pid {pid}\n".encode())

    def _become(self, connection: socket.socket, request: dict, fds: tuple[int, int, int]) -> None:
        """In the fork: become the command, run it, end as it ends; never return."""
        code = 1
        try:
            os.setpgid(0, 0)
            signal.set_wakeup_fd(-1)
            self.selector.close()
            for own in [self.listener, self.wakeup, self.wakeup_in, connection, *self.forks.values()]:
                if own is not None:
                    own.close()
            forked_script.become(
                request["cwd"],
                request["env"],
                request["argv"],
                fds,
                orig_argv=request["orig_argv"],
                umask=request["umask"],
                signals=request["signals"],
            )
            code = forked_script.run(request["argv"])
        finally:
            forked_script.finish(code)

    def _collect(self) -> None:
        """Tell the launchers of the forks that ended how they ended (an exit code, or minus a signal's number)."""
        while self.forks:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            connection = self.forks.pop(pid, None)
            if connection is not None:
                self.selector.unregister(connection)
                with contextlib.suppress(OSError):
                    connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                connection.close()

    def _launcher_gone(self, connection: socket.socket, pid: int) -> None:
        """A launcher sends nothing after its command: its connection turns readable when the launcher has ended
        without an answer (killed outright). Its command ends too, as the interpreter in its place would have."""
        self.selector.unregister(connection)
        connection.close()
        self.forks[pid] = None
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


# The AWS services the seeds' build commands call (run-pipeline through the SageMaker SDK, build.py, test/test.py,
# verify_prod.py): their service data is read in the worker, ahead of the commands.
SERVICES = ("sagemaker", "sagemaker-runtime", "s3", "sts", "codepipeline", "cloudwatch", "logs")


def _read_service_data_once() -> None:
    """botocore reads and parses its JSON data files (service models, endpoint rules, Regions) again for every
    session a command makes, and lists its data directories again for every loader: a quarter of a second of a short
    command's time. The files are the installed botocore's and never change, so the worker keeps each file it parsed,
    and the sessions of its forks share one loader (smbundle.local.boto_sessions; a session given its own data path
    keeps its own) that has listed the services and read the models of those above. What a command gets is what
    botocore's loader would give it (the same content; botocore does not change it)."""
    if "botocore.loaders" not in sys.modules:
        return
    import botocore.exceptions
    import botocore.loaders

    read = botocore.loaders.JSONFileLoader.load_file
    parsed: dict[str, object] = {}

    def load_file(self, file_path):
        if file_path not in parsed:
            parsed[file_path] = read(self, file_path)
        return parsed[file_path]

    botocore.loaders.JSONFileLoader.load_file = load_file
    from smbundle.local import boto_sessions

    loader = boto_sessions._LOADER  # no session: no configuration or credentials are read here
    for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        with contextlib.suppress(botocore.exceptions.DataNotFoundError):
            loader.load_data(name)
    for service in SERVICES:
        for kind in ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"):
            with contextlib.suppress(botocore.exceptions.DataNotFoundError):
                loader.load_service_model(service, kind)


def main(listener_fd: int, preload: list[str]) -> None:
    listener = socket.socket(fileno=listener_fd)
    with gc_tuning.collecting_less_often():  # the commands themselves run with the interpreter's defaults
        for name in preload:  # a library that cannot be imported here is simply not preloaded
            with contextlib.suppress(Exception):
                importlib.import_module(name)
        _read_service_data_once()
    state = json.loads(json.dumps(process_state()))  # as a launcher's arrives
    worker = _Worker(listener, state)
    gc.freeze()  # what was imported stays out of the forks' collections (and their pages stay shared)
    worker.serve()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:])
    os._exit(0)  # nothing to tear down for anyone: the forks have their own copies
