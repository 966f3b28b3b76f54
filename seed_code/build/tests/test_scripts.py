"""The processing scripts run on a laptop on abalone-schema data; the pipeline's own model passes the gate."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import xgboost
from pipelines.abalone import evaluate, preprocess
from pipelines.abalone.pipeline import HYPERPARAMETERS


def run_preprocess(abalone_csv, tmp_path):
    out = tmp_path / "out"
    preprocess.main(["--input-dir", str(abalone_csv.parent), "--output-dir", str(out)])
    return {
        name: np.loadtxt(out / name / f"{name}.csv", delimiter=",")
        for name in ("train", "validation", "test")
    }, out


def test_preprocess_writes_the_three_splits_label_first(abalone_csv, tmp_path):
    splits, _ = run_preprocess(abalone_csv, tmp_path)
    assert [len(splits[n]) for n in ("train", "validation", "test")] == [840, 180, 180]
    train = splits["train"]
    assert train.shape[1] == 11  # rings + 7 scaled measurements + 3 one-hot sex columns
    assert (train[:, 0] >= 1).all()  # the label comes first
    scaled = np.vstack([splits[n] for n in splits])[:, 1:8]
    assert np.allclose(scaled.mean(axis=0), 0, atol=1e-3) and np.allclose(scaled.std(axis=0), 1, atol=1e-2)
    one_hot = train[:, 8:]
    assert set(np.unique(one_hot)) <= {0.0, 1.0} and (one_hot.sum(axis=1) == 1).all()


def test_preprocess_imputes_missing_values(abalone_csv, tmp_path):
    text = abalone_csv.read_text().splitlines()
    text[0] = ",".join(["", "", *text[0].split(",")[2:]])  # no sex, no length
    abalone_csv.write_text("\n".join(text) + "\n")
    splits, _ = run_preprocess(abalone_csv, tmp_path)
    assert not np.isnan(np.vstack(list(splits.values()))).any()


def train_like_the_pipeline(splits, tmp_path):
    params = {k: v for k, v in HYPERPARAMETERS.items() if k != "num_round"}
    booster = xgboost.train(
        params,
        xgboost.DMatrix(splits["train"][:, 1:], label=splits["train"][:, 0]),
        num_boost_round=HYPERPARAMETERS["num_round"],
    )
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    raw = bytes(booster.save_raw("ubj"))
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return model_dir


def test_evaluate_reads_the_training_output_and_the_model_passes_the_gate(abalone_csv, tmp_path):
    splits, out = run_preprocess(abalone_csv, tmp_path)
    model_dir = train_like_the_pipeline(splits, tmp_path)
    evaluate.main(
        [
            "--model-dir",
            str(model_dir),
            "--test-dir",
            str(out / "test"),
            "--output-dir",
            str(out / "evaluation"),
        ]
    )
    report = json.loads((out / "evaluation" / "evaluation.json").read_text())
    mse = report["regression_metrics"]["mse"]
    assert 0 < mse["value"] <= 6.0  # the pipeline's default MseThreshold
    assert mse["standard_deviation"] > 0


def test_evaluate_reports_a_bad_model_honestly(abalone_csv, tmp_path):
    splits, out = run_preprocess(abalone_csv, tmp_path)
    shuffled = dict(splits, train=splits["train"].copy())
    np.random.default_rng(0).shuffle(shuffled["train"][:, 0])  # labels no longer match the features
    model_dir = train_like_the_pipeline(shuffled, tmp_path)
    evaluate.main(
        [
            "--model-dir",
            str(model_dir),
            "--test-dir",
            str(out / "test"),
            "--output-dir",
            str(out / "evaluation"),
        ]
    )
    assert (
        json.loads((out / "evaluation" / "evaluation.json").read_text())["regression_metrics"]["mse"]["value"]
        > 6.0
    )
