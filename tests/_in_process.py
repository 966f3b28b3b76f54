"""Run one of our scripts in this interpreter, as ``python scripts/<name> <args>`` would run it.

A fresh interpreter per careless command line costs a second of imports each time, for a test whose point is the
one line the script prints and its exit status. ``run_script`` runs the script with ``runpy`` instead: its own
``sys.argv``, environment (``os.environ`` is replaced for the run, then restored), working directory, standard
streams and the interpreter's exit rules (``SystemExit``'s code, or its text on stderr and 1, or a traceback and
1). What a script changes in the process is put back afterwards: ``sys.path``, the root logger's handlers, the
SIGINT/SIGTERM handlers, and ``cli.exit_at_once`` (which would end this process) answers as a ``SystemExit``.

tests/test_in_process.py keeps it honest: the same command lines through a real interpreter answer the same.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import runpy
import signal
import subprocess
import sys
import traceback
from pathlib import Path

from smbundle import cli

REPO = Path(__file__).resolve().parents[1]


def _exit_at_once(code: int) -> None:
    raise SystemExit(code)


def run_script(
    name: str, *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess:
    path = REPO / "scripts" / name
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_path, saved_cwd = sys.argv, list(sys.path), os.getcwd()
    saved_environ = dict(os.environ)
    saved_signals = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_exit = cli.exit_at_once
    code = 0
    try:
        sys.argv = [str(path), *args]
        os.environ.clear()
        os.environ.update(env)
        cli.exit_at_once = _exit_at_once
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_path(str(path), run_name="__main__")
            except SystemExit as exit_:
                if exit_.code is None or isinstance(exit_.code, int):
                    code = exit_.code or 0
                else:
                    print(exit_.code, file=sys.stderr)
                    code = 1
            except Exception:  # as the interpreter reports an uncaught exception
                traceback.print_exc()
                code = 1
    finally:
        cli.exit_at_once = saved_exit
        sys.argv, sys.path[:] = saved_argv, saved_path
        os.environ.clear()
        os.environ.update(saved_environ)
        os.chdir(saved_cwd)
        for signum, handler in saved_signals.items():
            signal.signal(signum, handler)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    return subprocess.CompletedProcess(
        [sys.executable, str(path), *args], code, out.getvalue(), err.getvalue()
    )


def run_interpreter(
    name: str, *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,  # a hang is a failure, not a stuck suite
        check=False,
    )
