"""A processing job's script, run in its own process without paying the imports of a container's Python each time.

A processing container starts a fresh interpreter that imports numpy, pandas, scikit-learn or XGBoost, about a second
or two each time. Locally, ``python <script.py> ...`` runs through the processing launcher of the warm Python workers
(``smbundle/local/codebuild/warm_python.py``, worker "processing"): a fork of a worker that imported them once, with
the job's own process, working directory, environment, arguments and output, as a container would, but started
warm. Other commands, and every command when warm Python is off (``SMBUNDLE_WARM_BUILD_PYTHON=0``), run as they are.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from smbundle.local.codebuild import warm_python


def run(command: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> int:
    """Run ``command`` as a job; its output goes to ``log_path``; its exit code (minus a signal's number)."""
    if _is_python_script(command):
        launcher = warm_python.processing_python()
        if launcher is not None:
            command = [str(launcher), *command[1:]]
    with open(log_path, "w") as log:
        return subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode


def _is_python_script(command: list[str]) -> bool:
    return len(command) >= 2 and Path(command[0]).name.startswith("python") and command[1].endswith(".py")
