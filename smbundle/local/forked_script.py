"""Run a Python script in a fork of a process that has already imported its libraries, as a fresh interpreter would.

The local processing steps and the local CodeBuild's Python both start warm: a worker process imports the heavy
libraries once, and each script runs in a fork of it. In the fork, ``become`` gives the script what a fresh
``python script.py args`` would have (its standard streams, working directory, environment, ``sys.argv`` and
``sys.path`` with ``PYTHONPATH``); ``run`` runs it and turns its end into an exit code as the interpreter does;
``shutdown`` does what the interpreter's shutdown does that a script can see; ``finish`` ends the process after
that, without tearing the imported modules down (which costs more than the script itself in a fork):

- non-daemon threads are joined and ``atexit`` functions run;
- files the script left open are flushed, as their finalizers would flush them;
- numpy's global random state is reseeded (the ``random`` module reseeds itself in a fork; numpy does not), so
  forks do not share a random sequence.

What a fork cannot give a script: the libraries imported ahead of time read their import-time environment in the
worker, not in the script's environment (docs/local.md lists what is imported ahead of time).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import io
import os
import runpy
import signal
import sys
import threading
import traceback

# The environment a warm worker imports its libraries in: single-threaded numerical libraries (their threads would
# not survive a fork, and a script runs in one).
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def become(cwd: str, env: dict[str, str], argv: list[str], fds: tuple[int, int, int] | None = None) -> None:
    """Take on the identity of a fresh ``python argv[0] argv[1:]`` started with ``fds`` as stdin/stdout/stderr."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a worker may ignore it; a script's subprocesses need it
    if fds is not None:
        for target, fd in enumerate(fds):
            if fd != target:
                os.dup2(fd, target)
        for fd in set(fds) - {0, 1, 2}:
            os.close(fd)
    base = _interpreter_path()  # read before the worker's environment (its PYTHONPATH) is replaced
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    script = os.path.abspath(argv[0])
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [os.path.dirname(os.path.realpath(script)), *extra, *base]
    sys.argv = [argv[0], *argv[1:]]
    importlib.invalidate_caches()
    _fresh_standard_streams(env)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()


def run(argv: list[str]) -> int:
    """Run the script as ``__main__``; its exit code, as the interpreter would report it."""
    try:
        runpy.run_path(argv[0], run_name="__main__")
        return 0
    except SystemExit as exit_:
        return _exit_code(exit_.code)
    except BaseException:
        traceback.print_exc()
        return 1


def shutdown(code: int) -> int:
    """What the interpreter's shutdown does that a script can see; the exit code (1 if that fails)."""
    try:
        threading._shutdown()  # what the interpreter calls first at exit: join non-daemon threads
        atexit._run_exitfuncs()
        for generation in range(3):  # the script's own objects (the worker froze its own: gc.freeze)
            for obj in gc.get_objects(generation):
                if isinstance(obj, io.IOBase) and not obj.closed and obj.writable():
                    obj.flush()
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None and not stream.closed:
                stream.flush()
    except BaseException:
        traceback.print_exc()
        return code or 1
    return code


def finish(code: int) -> None:
    """End the process as the interpreter would, without tearing the imported modules down."""
    os._exit(shutdown(code))


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _interpreter_path() -> list[str]:
    """The worker's path without its own first entry (its script's directory) and its own PYTHONPATH."""
    own = {os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    return [p for p in sys.path[1:] if os.path.abspath(p) not in own]


def _fresh_standard_streams(env: dict[str, str]) -> None:
    """stdin/stdout/stderr on fds 0-2 with a fresh interpreter's buffering (PYTHONUNBUFFERED honoured)."""
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    encoding = env.get("PYTHONIOENCODING", "").split(":")[0] or sys.__stdout__.encoding
    sys.stdin = _text_stream(0, encoding)
    sys.stdout = _text_stream(1, encoding, line_buffering=os.isatty(1), write_through=unbuffered)
    sys.stderr = _text_stream(
        2, encoding, errors="backslashreplace", line_buffering=True, write_through=unbuffered
    )
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def _text_stream(fd: int, encoding: str, **options) -> io.TextIOWrapper:
    raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
    buffered = io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw)
    return io.TextIOWrapper(buffered, encoding=encoding, **options)
