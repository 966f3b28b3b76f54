"""Evaluate the trained XGBoost model on the held-out test split; write evaluation.json.

Runs in the SageMaker XGBoost container (as a processing job) and, unchanged, on a laptop:
    python evaluate.py --model-dir model/ --test-dir out/test --output-dir out/evaluation

evaluation.json: {"regression_metrics": {"mse": {"value": <mean squared error>, "standard_deviation": <std of
the squared errors>}}}, the model-quality statistics attached to the registered model package.
"""

from __future__ import annotations

import argparse
import json
import logging
import tarfile
from pathlib import Path

import numpy as np
import xgboost

log = logging.getLogger("evaluate")


def load_model(model_dir: Path) -> xgboost.Booster:
    archive = model_dir / "model.tar.gz"
    target = model_dir / "xgboost-model"
    if archive.exists():
        with tarfile.open(archive) as tar:  # only the one file we need: no path traversal
            target.write_bytes(tar.extractfile("xgboost-model").read())
    booster = xgboost.Booster()
    booster.load_model(bytearray(target.read_bytes()))  # raw bytes: XGBoost detects the format itself
    return booster


def evaluate(booster: xgboost.Booster, test: np.ndarray) -> dict:
    labels, features = test[:, 0], test[:, 1:]
    predictions = booster.predict(xgboost.DMatrix(features))
    squared_errors = (labels - predictions) ** 2
    return {
        "regression_metrics": {
            "mse": {
                "value": float(np.mean(squared_errors)),
                "standard_deviation": float(np.std(squared_errors)),
            }
        }
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    booster = load_model(args.model_dir)
    test = np.loadtxt(args.test_dir / "test.csv", delimiter=",", ndmin=2)
    report = evaluate(booster, test)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "evaluation.json").write_text(json.dumps(report))
    log.info("test MSE %.4f on %d rows", report["regression_metrics"]["mse"]["value"], len(test))


if __name__ == "__main__":
    main()
