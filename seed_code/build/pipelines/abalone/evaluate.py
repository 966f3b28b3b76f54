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
from typing import NoReturn

import numpy as np

log = logging.getLogger("evaluate")

BATCH = 1000  # records per request, as a client would batch them
MAKE_MODEL = (
    "package.py writes model.tar.gz into its --output-dir, or aws s3 cp a registered model package's "
    "ModelDataUrl into a directory; give that directory as --model-dir"
)
MAKE_TEST = "preprocess.py writes it in <its --output-dir>/test; give that directory as --test-dir"


def fail(message: str) -> NoReturn:
    """One line on stderr, exit code 1, no traceback (a SystemExit carrying text)."""
    raise SystemExit("error: " + " ".join(message.split()))


def extract(archive: Path, target: Path) -> None:
    """Extract model.tar.gz; refuse members that would land outside ``target`` or are not plain files/dirs."""
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
                    fail(
                        f"{archive}: refusing member {member.name!r} (a model archive holds plain files only)"
                    )
            if hasattr(tarfile, "data_filter"):  # Python 3.8.17+: the safe filter too
                tar.extractall(target, filter="data")
            else:
                tar.extractall(target)  # members checked above
    except tarfile.TarError as exc:
        fail(f"{archive} is not a model archive: {exc} ({MAKE_MODEL})")


def load_serving_module(model_dir: Path, program: str, archive: Path):
    path = model_dir / "code" / program
    if not path.is_file():
        fail(
            f"the model artifact {archive} has no code/{program} (package.py packs the serving script; "
            "or give --program the script it holds)"
        )
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
    path = test_dir / "test.csv"
    if not test_dir.is_dir():
        fail(f"test directory {test_dir} does not exist ({MAKE_TEST})")
    if not path.is_file():
        fail(f"no test.csv in {test_dir} ({MAKE_TEST})")
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        fail(f"{path} holds no records ({MAKE_TEST})")
    labels = []
    for number, row in enumerate(rows, 1):
        try:
            labels.append(float(row[-1]))
        except ValueError:
            fail(f"{path} record {number}: the label (last field) {row[-1]!r} is not a number ({MAKE_TEST})")
    return [",".join(row[:-1]) for row in rows], np.array(labels)


def evaluate(predictions: list[float], labels: np.ndarray) -> dict:
    if len(predictions) != len(labels):
        fail(
            f"{len(predictions)} predictions for {len(labels)} test records (the serving script answers one per record)"
        )
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


def model_archive(model_dir: Path) -> Path:
    if not model_dir.is_dir():
        fail(f"model directory {model_dir} does not exist ({MAKE_MODEL})")
    archive = model_dir / "model.tar.gz"
    if not archive.is_file():
        fail(f"no model.tar.gz in {model_dir} ({MAKE_MODEL})")
    return archive


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def main(argv=None) -> None:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument("--program", default="inference.py", help="the serving script (SAGEMAKER_PROGRAM)")
    args = parser.parse_args(argv)
    if PurePosixPath(args.program).name != args.program or args.program in ("", ".", ".."):
        parser.error(
            f"--program {args.program!r} is not a file name: give the serving script's, e.g. inference.py"
        )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    archive = model_archive(args.model_dir)
    records, labels = read_test(args.test_dir)
    with tempfile.TemporaryDirectory(prefix="model-") as directory:
        model_dir = Path(directory)
        extract(archive, model_dir)
        module = load_serving_module(model_dir, args.program, archive)
        model = module.model_fn(str(model_dir))
        report = evaluate(predict(module, model, records), labels)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "evaluation.json").write_text(json.dumps(report))
    log.info("test MSE %.4f on %d raw records", report["regression_metrics"]["mse"]["value"], len(labels))


if __name__ == "__main__":
    main()
