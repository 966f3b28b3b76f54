"""Evaluate the packaged model on the held-out raw test records, through the serving code; write evaluation.json.

Runs in the SageMaker XGBoost container (as a processing job) and, unchanged, on a laptop:
    python evaluate.py --model-dir out/packaged --test-dir out/test --output-dir out/evaluation

--model-dir holds the model.tar.gz that package.py built and the pipeline registers. It is extracted as the
serving container extracts it, its ``code/inference.py`` is imported, and the test records (without their label)
go through model_fn / input_fn / predict_fn / output_fn as CSV requests: the MSE registered with the model is the
MSE the endpoint answers with on the same records.

evaluation.json: {"regression_metrics": {"mse": {"value": <mean squared error>, "standard_deviation": <std of
the squared errors>}}, "rows": <test records>}, the model-quality statistics attached to the registered package.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import logging
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

import numpy as np

log = logging.getLogger("evaluate")

BATCH = 1000  # records per request, as a client would batch them


def extract(archive: Path, target: Path) -> None:
    """Extract model.tar.gz; refuse members that would land outside ``target`` or are not plain files/dirs."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
                raise SystemExit(f"{archive}: refusing member {member.name!r}")
        if hasattr(tarfile, "data_filter"):  # Python 3.8.17+: the safe filter too
            tar.extractall(target, filter="data")
        else:
            tar.extractall(target)  # members checked above


def load_serving_module(model_dir: Path, program: str):
    path = model_dir / "code" / program
    if not path.is_file():
        raise SystemExit(f"the model artifact has no code/{program}")
    sys.path.insert(0, str(path.parent))  # as the container: the code directory is importable
    spec = importlib.util.spec_from_file_location(Path(program).stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as the container imports it
    spec.loader.exec_module(module)
    return module


def predict(module, model, records: list[str]) -> list[float]:
    """Every record through the serving contract, BATCH records per text/csv request."""
    predictions: list[float] = []
    for start in range(0, len(records), BATCH):
        payload = "\n".join(records[start : start + BATCH]) + "\n"
        data = module.input_fn(payload, "text/csv")
        answer = module.output_fn(module.predict_fn(data, model), "text/csv")
        text = answer.decode() if isinstance(answer, bytes) else answer
        predictions.extend(float(v) for v in text.split())
    return predictions


def read_test(test_dir: Path) -> tuple[list[str], np.ndarray]:
    """Records (the label removed) and labels of the raw test split: label last, as preprocess.py writes it."""
    with (test_dir / "test.csv").open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        raise SystemExit(f"{test_dir / 'test.csv'} holds no records")
    return [",".join(row[:-1]) for row in rows], np.array([float(row[-1]) for row in rows])


def evaluate(predictions: list[float], labels: np.ndarray) -> dict:
    if len(predictions) != len(labels):
        raise SystemExit(f"{len(predictions)} predictions for {len(labels)} test records")
    squared_errors = (labels - np.asarray(predictions)) ** 2
    return {
        "regression_metrics": {
            "mse": {
                "value": float(np.mean(squared_errors)),
                "standard_deviation": float(np.std(squared_errors)),
            }
        },
        "rows": len(labels),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument("--program", default="inference.py", help="the serving script (SAGEMAKER_PROGRAM)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    records, labels = read_test(args.test_dir)
    with tempfile.TemporaryDirectory(prefix="model-") as directory:
        model_dir = Path(directory)
        extract(args.model_dir / "model.tar.gz", model_dir)
        module = load_serving_module(model_dir, args.program)
        model = module.model_fn(str(model_dir))
        report = evaluate(predict(module, model, records), labels)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "evaluation.json").write_text(json.dumps(report))
    log.info("test MSE %.4f on %d raw records", report["regression_metrics"]["mse"]["value"], len(labels))


if __name__ == "__main__":
    main()
