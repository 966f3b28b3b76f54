"""README's example outputs are what the commands print."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def block_after(marker: str) -> list[str]:
    """The lines of the first fenced block that follows ``marker`` in README.md."""
    rest = README[README.index(marker) :]
    body = rest[rest.index("```") + 3 :]
    return body[body.index("\n") + 1 : body.index("```")].rstrip("\n").splitlines()


def demo_labels() -> list[str]:
    """The labels of the demo's closing lines as README shows them ("staging:", "cost:", ...)."""
    lines = block_after("It prints one line per stage and action")
    return [m.group(1) for m in (re.match(r"^([a-z][a-z ]*:) ", line) for line in lines) if m]


def test_readme_estimate_example_is_the_output():
    lines = block_after("The blog's case (1 GB):")
    assert lines[0] == "$ .venv/bin/python scripts/estimate_cost.py --memory-mb 1024"
    output = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "estimate_cost.py"), "--memory-mb", "1024"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert lines[1:] == output.rstrip("\n").splitlines()


def test_readme_demo_example_has_the_digest_labels():
    assert demo_labels() == [
        "model package:",
        "staging:",
        "prod:",
        "staging test:",
        "replay:",
        "cost:",
        "first runs:",
        "summary:",
    ]


def test_monitoring_cost_example_is_the_output():
    text = (REPO / "docs" / "monitoring.md").read_text()
    rest = text[text.index("adds it when asked:") :]
    body = rest[rest.index("```") + 3 :]
    command, shown = body[body.index("\n") + 1 : body.index("```")].rstrip("\n").splitlines()
    assert command == (
        "$ .venv/bin/python scripts/estimate_cost.py --monitoring-schedule 'cron(0 * ? * * *)' | tail -1"
    )
    output = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "estimate_cost.py"),
            "--monitoring-schedule",
            "cron(0 * ? * * *)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert output.rstrip("\n").splitlines()[-1] == shown
