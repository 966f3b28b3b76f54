"""Run a Python script in a fork of a process that has already imported its libraries, as a fresh interpreter would.

The local processing steps and the local CodeBuild's Python both start warm: a worker process imports the heavy
libraries once, and each script runs in a fork of it. In the fork, ``become`` gives the script what a fresh
``python script.py args`` would have (its standard streams as the interpreter makes them, working directory,
environment, ``sys.argv``, ``sys.orig_argv``, ``sys.path`` with ``PYTHONPATH``, and when given, the umask and signal
dispositions of the process that starts it); ``run`` runs it in a new ``__main__`` module, reports an exception it
does not catch as the interpreter does (``sys.excepthook``, without the runner's own frame) and turns its end into an
exit code; ``shutdown`` does what the interpreter's shutdown does that a script can see; ``finish`` ends the process
after that, without tearing the imported modules down (which costs more than the script itself in a fork), and ends
it by SIGINT after an uncaught KeyboardInterrupt, as the interpreter does:

- non-daemon threads are joined and ``atexit`` functions run;
- files the script left open are flushed, as their finalizers would flush them;
- numpy's global random state is reseeded (the ``random`` module reseeds itself in a fork; numpy does not), so
  forks do not share a random sequence.

What a fork cannot give a script: the libraries imported ahead of time read their import-time environment in the
worker, not in the script's environment (docs/local.md lists what is imported ahead of time), and its string hashes
use the worker's hash seed (fixed when an interpreter starts).
"""

from __future__ import annotations

import atexit
import builtins
import codecs
import gc
import importlib
import importlib.machinery
import io
import itertools
import os
import signal
import sys
import threading
import traceback
import types

# The environment a warm worker imports its libraries in: single-threaded numerical libraries (their threads would
# not survive a fork, and a script runs in one).
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def become(
    cwd: str,
    env: dict[str, str],
    argv: list[str],
    fds: tuple[int, int, int] | None = None,
    *,
    orig_argv: list[str] | None = None,
    umask: int | None = None,
    signals: dict[str, list[int]] | None = None,
) -> None:
    """Take on the identity of a fresh ``python argv[0] argv[1:]`` started with ``fds`` as stdin/stdout/stderr.

    ``orig_argv`` is its command line (``sys.orig_argv``); ``umask`` and ``signals`` (the numbers of the signals
    ``ignored`` and ``blocked`` by the process that starts it) are what it inherits at its start."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a worker may handle it; a script's subprocesses need it
    if signals is not None:
        _fresh_signals(signals["ignored"], signals["blocked"])
    if umask is not None:
        os.umask(umask)
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
    sys.path[:] = [os.path.dirname(os.path.realpath(script)), *_unique([*_python_path(env), *base])]
    sys.argv = [argv[0], *argv[1:]]
    if orig_argv is not None:
        sys.orig_argv = list(orig_argv)
    importlib.invalidate_caches()
    _fresh_standard_streams(env)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "tempfile" in sys.modules:  # its directory is looked up once and kept: look it up in this environment
        sys.modules["tempfile"].tempdir = None


def run(argv: list[str]) -> int:
    """Run the script as ``__main__``; its exit code, as the interpreter would report it (``-SIGINT``: end by SIGINT,
    after an uncaught KeyboardInterrupt)."""
    script = os.path.abspath(argv[0])
    main = types.ModuleType("__main__")
    main.__dict__.update(
        __annotations__={},
        __builtins__=builtins,
        __cached__=None,
        __file__=script,
        __loader__=importlib.machinery.SourceFileLoader("__main__", script),
    )
    sys.modules["__main__"] = main
    try:
        with open(script, "rb") as file:
            code = compile(file.read(), script, "exec", dont_inherit=True)
        exec(code, main.__dict__)
        return 0
    except SystemExit as exit_:
        return _exit_code(exit_.code)
    except BaseException as error:
        _report(error)
        return -signal.SIGINT if isinstance(error, KeyboardInterrupt) else 1


def shutdown(code: int) -> int:
    """What the interpreter's shutdown does that a script can see; the exit code (1 if that fails)."""
    try:
        threading._shutdown()  # what the interpreter calls first at exit: join non-daemon threads
        atexit._run_exitfuncs()
        _flush_open_files()
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None and not stream.closed:
                stream.flush()
    except BaseException:
        traceback.print_exc()
        return code or 1
    return code


# _io._IOBase: what the io module's classes and io.IOBase's subclasses derive from.
FILE_BASE = io.IOBase.__bases__[0]


def _flush_open_files() -> None:
    """Flush the files the script left open, as their finalizers would at exit. The script's own objects only (the
    worker froze its own: gc.freeze); a fork of the SDK's worker holds hundreds of thousands of them, so they are
    sorted by type without a Python loop over them, and whether a type is a file is asked once per type, of the
    C base of every file class (``io.IOBase`` is an ABC: its check walks its subclasses for each other type)."""
    objects = gc.get_objects()
    files = {kind for kind in set(map(type, objects)) if issubclass(kind, FILE_BASE)}
    for obj in itertools.compress(objects, map(files.__contains__, map(type, objects))):
        if not obj.closed and obj.writable():
            obj.flush()


def finish(code: int) -> None:
    """End the process as the interpreter would, without tearing the imported modules down."""
    code = shutdown(code)
    if code < 0:  # as the interpreter ends after an uncaught KeyboardInterrupt: killed by the signal
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code  # what the interpreter returns when the signal is blocked
    os._exit(code)


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _report(error: BaseException) -> None:
    """What the interpreter does with an exception its script did not catch: ``sys.excepthook`` with the traceback
    from the script's own code on (this module's frame is not the script's)."""
    tb = error.__traceback__.tb_next if error.__traceback__ else None
    error.__traceback__ = tb
    sys.last_type, sys.last_value, sys.last_traceback = type(error), error, tb
    try:
        sys.excepthook(type(error), error, tb)
    except BaseException as hook_error:
        print("Error in sys.excepthook:", file=sys.stderr)
        sys.__excepthook__(type(hook_error), hook_error, hook_error.__traceback__)
        print("\nOriginal exception was:", file=sys.stderr)
        sys.__excepthook__(type(error), error, tb)


def _fresh_signals(ignored: list[int], blocked: list[int]) -> None:
    """A fresh interpreter's signal dispositions: what its starter ignored stays ignored (Python itself ignores
    SIGPIPE and SIGXFSZ), SIGINT raises KeyboardInterrupt, every other signal has its default action; and the
    starter's blocked signals."""
    for signum in signal.valid_signals():
        if signum in ignored:
            handler = signal.SIG_IGN
        elif signum == signal.SIGINT:
            handler = signal.default_int_handler
        else:
            handler = signal.SIG_DFL
        if signal.getsignal(signum) != handler:
            signal.signal(signum, handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _interpreter_path() -> list[str]:
    """The worker's path without its own first entry (its script's directory) and its own PYTHONPATH."""
    own = {os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    return [p for p in sys.path[1:] if os.path.abspath(p) not in own]


def _python_path(env: dict[str, str]) -> list[str]:
    """PYTHONPATH's entries as the interpreter adds them: absolute, an empty entry being the working directory."""
    value = env.get("PYTHONPATH", "")
    return [os.path.abspath(p) for p in value.split(os.pathsep)] if value else []


def _unique(paths: list[str]) -> list[str]:
    """Each entry once, where it first appears (what the site module does to sys.path at startup)."""
    return list(dict.fromkeys(paths))


def _fresh_standard_streams(env: dict[str, str]) -> None:
    """sys.stdin, stdout and stderr on fds 0-2 as a fresh interpreter makes them (``create_stdio`` in CPython's
    pylifecycle.c): the locale's encoding and error handler (the worker's: it started in the same locale) unless
    PYTHONIOENCODING names others, stderr's errors always backslashreplace, PYTHONUNBUFFERED honoured. Log
    handlers that the worker's libraries made at import on its stdout or stderr move to the new streams."""
    encoding, errors = sys.__stdout__.encoding, sys.__stdout__.errors
    io_encoding, _, io_errors = env.get("PYTHONIOENCODING", "").partition(":")
    if io_encoding:
        encoding, errors = codecs.lookup(io_encoding).name, io_errors or "strict"
    elif io_errors:
        errors = io_errors
    buffered = not env.get("PYTHONUNBUFFERED")
    worker_out, worker_err = (sys.stdout, sys.__stdout__), (sys.stderr, sys.__stderr__)
    sys.stdin = _standard_stream(0, "<stdin>", encoding, errors, buffered)
    sys.stdout = _standard_stream(1, "<stdout>", encoding, errors, buffered)
    sys.stderr = _standard_stream(2, "<stderr>", encoding, "backslashreplace", buffered)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    if "logging" in sys.modules:  # the log handlers made at import write to the script's streams instead
        logging = sys.modules["logging"]
        script = {id(s): sys.stdout for s in worker_out} | {id(s): sys.stderr for s in worker_err}
        for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
            for handler in getattr(logger, "handlers", []):
                if id(getattr(handler, "stream", None)) in script:
                    handler.setStream(script[id(handler.stream)])


def _standard_stream(fd: int, name: str, encoding: str, errors: str, buffered: bool) -> io.TextIOWrapper:
    write = fd != 0
    unbuffered = write and not buffered  # stdin is always buffered
    binary = open(fd, "wb" if write else "rb", buffering=0 if unbuffered else -1, closefd=False)  # noqa: SIM115
    raw = binary if unbuffered else binary.raw
    raw.name = name
    line_buffering = buffered and (raw.isatty() or fd == 2)
    stream = io.TextIOWrapper(binary, encoding, errors, "\n", line_buffering, not buffered)
    stream.mode = "w" if write else "r"
    return stream
