"""Where cfn-lint keeps its data files (resource schemas, IAM's action data), found without importing cfn-lint."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def data_directory() -> Path:
    package = importlib.util.find_spec(
        "cfnlint"
    )  # importing cfnlint takes half a second; only its files are read
    return Path(package.origin).parent / "data"
