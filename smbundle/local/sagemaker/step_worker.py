"""A processing job's script, run in its own process without paying the imports of a container's Python each time.

A processing container starts a fresh interpreter that imports numpy, pandas, scikit-learn or XGBoost, about a second
or two each time. Locally, one worker process imports them once; each job is a fork of that worker, so it still has
its own process, working directory, environment, arguments and output, as a container would, but starts warm.

The worker is started on first use and stopped when this process exits. Jobs are run one at a time. Commands that are
not ``python <script.py> ...`` run as plain subprocesses.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from smbundle import gc_tuning
from smbundle.local import forked_script

# What the processing scripts the seeds run import (a module that fails to import is simply not preloaded).
PRELOAD = (
    "numpy",
    "pandas",
    "sklearn.compose",
    "sklearn.impute",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "xgboost",
)


class StepWorker:
    def __init__(self):
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, **forked_script.SINGLE_THREADED}
        return subprocess.Popen(
            [sys.executable, "-m", "smbundle.local.sagemaker.step_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
            cwd=str(Path(__file__).resolve().parents[3]),
        )

    def run(self, command: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> int:
        """Run ``command`` (``python script.py args...``) as a job; its output goes to ``log_path``."""
        if not _is_python_script(command):
            with open(log_path, "w") as log:
                return subprocess.run(
                    command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
                ).returncode
        request = json.dumps({"argv": command[1:], "cwd": str(cwd), "env": env, "log": str(log_path)})
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            self._process.stdin.write(request + "\n")
            self._process.stdin.flush()
            answer = self._process.stdout.readline()
        if not answer:
            raise RuntimeError("the local step worker stopped unexpectedly")
        return int(json.loads(answer)["code"])

    def stop(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                self._process.stdin.close()  # the worker ends when its stdin closes
            self._process = None


def _is_python_script(command: list[str]) -> bool:
    return len(command) >= 2 and Path(command[0]).name.startswith("python") and command[1].endswith(".py")


_worker: StepWorker | None = None
_worker_lock = threading.Lock()


def worker() -> StepWorker:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = StepWorker()
            atexit.register(_worker.stop)
        return _worker


# -- inside the worker process ----------------------------------------------------------------------------------
def _run_job(request: dict) -> int:
    """In a fork: become the job (its log, directory, environment, arguments), run the script, return its code."""
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    nothing = os.open(os.devnull, os.O_RDONLY)
    forked_script.become(request["cwd"], request["env"], request["argv"], (nothing, log, log))
    return forked_script.run(request["argv"])


def main() -> None:
    with gc_tuning.collecting_less_often():  # the jobs themselves run with the interpreter's defaults
        for name in PRELOAD:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _run_job(request)
            finally:
                forked_script.finish(code)
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
        sys.stdout.flush()
    # Stdin closed: the server is done with us. Nothing is left to flush, and finalizing the preloaded libraries
    # (their thread pools and extension modules) would only keep the server's exit waiting.
    os._exit(0)


if __name__ == "__main__":
    main()
