"""Fixtures of the model build repository's own tests (no AWS account: moto stands in where one is needed)."""

from __future__ import annotations

import csv
import io
import random
import sys
import tarfile
from pathlib import Path

import numpy as np
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


@pytest.fixture(scope="session")
def make_abalone_rows():
    return abalone_like_rows


@pytest.fixture
def abalone_csv(tmp_path) -> Path:
    path = tmp_path / "input" / "abalone.csv"
    path.parent.mkdir()
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(abalone_like_rows(1200))
    return path


def _train_like_the_pipeline(train: np.ndarray, model_dir: Path) -> Path:
    import xgboost
    from pipelines.abalone.pipeline import HYPERPARAMETERS

    params = {k: v for k, v in HYPERPARAMETERS.items() if k != "num_round"}
    booster = xgboost.train(
        params, xgboost.DMatrix(train[:, 1:], label=train[:, 0]), num_boost_round=HYPERPARAMETERS["num_round"]
    )
    model_dir.mkdir(parents=True)
    raw = bytes(booster.save_raw("ubj"))
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as tar:  # as the training job writes it
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return model_dir


@pytest.fixture
def build_model():
    """preprocess -> train -> package, as the pipeline runs them; returns (output dir, packaged model dir)."""
    from pipelines.abalone import package, preprocess

    def build(abalone_csv: Path, tmp_path: Path, code_dir: Path | None = None, shuffle_labels: bool = False):
        out = tmp_path / "out"
        preprocess.main(["--input-dir", str(abalone_csv.parent), "--output-dir", str(out)])
        train = np.loadtxt(out / "train" / "train.csv", delimiter=",")
        if shuffle_labels:
            np.random.default_rng(0).shuffle(train[:, 0])  # labels no longer match the features
        model_dir = _train_like_the_pipeline(train, tmp_path / "model")
        packaged = tmp_path / "packaged"
        code_dir = code_dir or Path(package.__file__).parent
        package.main(
            [
                "--model-dir",
                str(model_dir),
                "--preprocessing-dir",
                str(out / "preprocessing"),
                "--code-dir",
                str(code_dir),
                "--output-dir",
                str(packaged),
            ]
        )
        return out, packaged

    return build
