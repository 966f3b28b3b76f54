"""Build the model artifact that is evaluated, registered and served: one model.tar.gz per model version.

Runs in the SageMaker XGBoost container (as a processing job) and, unchanged, on a laptop:
    python package.py --model-dir model/ --preprocessing-dir out/preprocessing --code-dir pipelines/abalone \
        --output-dir out/packaged

Reads the training job's model.tar.gz (``xgboost-model``), preprocess.py's ``preprocessing.json`` and the serving
script; writes <output-dir>/model.tar.gz with

    xgboost-model          the booster, as the built-in algorithm saved it
    preprocessing.json     imputation medians, scaling means and scales, sex categories (fitted on the train split)
    code/inference.py      model_fn / input_fn / predict_fn / output_fn for the XGBoost container's script mode

so the preprocessing travels with the model version: staging, prod and the evaluation all use the same file.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import tarfile
from pathlib import Path

log = logging.getLogger("package")

MODEL_FILE = "xgboost-model"
PREPROCESSING_FILE = "preprocessing.json"
PROGRAM = "inference.py"


def training_model(model_dir: Path) -> bytes:
    archive = model_dir / "model.tar.gz"
    if archive.is_file():
        with tarfile.open(archive) as tar:
            member = next((m for m in tar.getmembers() if m.name.lstrip("./") == MODEL_FILE), None)
            if member is None or not member.isfile():
                raise SystemExit(f"{archive} holds no {MODEL_FILE} file")
            return tar.extractfile(member).read()
    if (model_dir / MODEL_FILE).is_file():
        return (model_dir / MODEL_FILE).read_bytes()
    raise SystemExit(f"no model.tar.gz or {MODEL_FILE} in {model_dir}")


def package(model: bytes, preprocessing: bytes, program: bytes, program_name: str = PROGRAM) -> bytes:
    members = {MODEL_FILE: model, PREPROCESSING_FILE: preprocessing, f"code/{program_name}": program}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--preprocessing-dir", type=Path, default=Path("/opt/ml/processing/preprocessing"))
    parser.add_argument("--code-dir", type=Path, default=Path("/opt/ml/processing/serving-code"))
    parser.add_argument(
        "--program", default=PROGRAM, help="the serving script in --code-dir (SAGEMAKER_PROGRAM)"
    )
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/packaged"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    preprocessing_path = args.preprocessing_dir / PREPROCESSING_FILE
    program_path = args.code_dir / args.program
    for path in (preprocessing_path, program_path):
        if not path.is_file():
            raise SystemExit(f"{path} does not exist")
    preprocessing = preprocessing_path.read_bytes()
    json.loads(preprocessing)  # fail here, not at the endpoint, when it is not JSON
    archive = package(training_model(args.model_dir), preprocessing, program_path.read_bytes(), args.program)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "model.tar.gz").write_bytes(archive)
    log.info("wrote %s (%d bytes)", args.output_dir / "model.tar.gz", len(archive))


if __name__ == "__main__":
    main()
