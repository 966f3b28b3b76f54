"""The deploy seed's sample requests match what the build seed's preprocessing feeds the model."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import xgboost

from smbundle.local.sample_data import generate_csv

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "seed_code" / "deploy" / "test" / "sample-payload.csv"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_rows_have_the_preprocessing_feature_layout(tmp_path):
    preprocess = load(
        REPO / "seed_code" / "build" / "pipelines" / "abalone" / "preprocess.py", "preprocess_contract"
    )
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "abalone.csv").write_bytes(generate_csv(2000))
    preprocess.main(["--input-dir", str(tmp_path / "input"), "--output-dir", str(tmp_path / "out")])
    train = np.loadtxt(tmp_path / "out" / "train" / "train.csv", delimiter=",")
    rows = np.array([[float(v) for v in row] for row in csv.reader(SAMPLE.open()) if row])
    assert rows.shape[1] == train.shape[1] - 1 == 10  # features only: no label in a request
    assert len(preprocess.NUMERIC_FEATURES) == 7 and preprocess.SEX_CATEGORIES == ["F", "I", "M"]
    one_hot = rows[:, 7:]
    assert set(np.unique(one_hot)) <= {0.0, 1.0} and (one_hot.sum(axis=1) == 1).all()
    assert (np.abs(rows[:, :7]) < 5).all()  # standard-scaled measurements
    booster = xgboost.train(
        {"objective": "reg:squarederror"}, xgboost.DMatrix(train[:, 1:], label=train[:, 0]), 50
    )
    predictions = booster.predict(xgboost.DMatrix(rows))
    assert np.isfinite(predictions).all() and ((predictions > 0) & (predictions < 30)).all()
