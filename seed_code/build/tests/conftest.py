"""Fixtures of the model build repository's own tests (no AWS account: moto stands in where one is needed)."""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    monkeypatch.setenv("SAGEMAKER_TELEMETRY_OPT_OUT", "true")


def abalone_like_rows(count: int, seed: int = 1) -> list[list]:
    """Rows in the UCI abalone layout (sex, 7 measurements, rings) with the real data's shape."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        sex = rng.choice("MFI")
        age = rng.gammavariate(5.0, 1.5) + (0 if sex == "I" else 2)
        length = min(0.8, max(0.08, 0.78 * (1 - 0.92 ** (age + 1)) + rng.gauss(0, 0.03)))
        whole = max(0.002, 2.9 * length**3 + rng.gauss(0, 0.03))
        rows.append(
            [
                sex,
                round(length, 3),
                round(length * 0.79, 3),
                round(length * 0.27, 3),
                round(whole, 4),
                round(whole * 0.43, 4),
                round(whole * 0.22, 4),
                round(whole * 0.29, 4),
                max(1, round(age + 1 + rng.gauss(0, 1.2))),
            ]
        )
    return rows


@pytest.fixture
def abalone_csv(tmp_path) -> Path:
    path = tmp_path / "input" / "abalone.csv"
    path.parent.mkdir()
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(abalone_like_rows(1200))
    return path
