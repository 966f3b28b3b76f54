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
import sys
import tarfile
from pathlib import Path, PurePosixPath
from typing import NoReturn

log = logging.getLogger("package")

MODEL_FILE = "xgboost-model"
PREPROCESSING_FILE = "preprocessing.json"
PROGRAM = "inference.py"
MAKE_MODEL = (
    "a training job writes it: aws s3 cp the job's model.tar.gz (ModelArtifacts.S3ModelArtifacts) into a "
    "directory and give that directory as --model-dir"
)
MAKE_PREPROCESSING = (
    "preprocess.py writes it in <its --output-dir>/preprocessing; give that directory as --preprocessing-dir"
)


def fail(message: str) -> NoReturn:
    """One line on stderr, exit code 1, no traceback (a SystemExit carrying text)."""
    raise SystemExit("error: " + " ".join(message.split()))


def training_model(model_dir: Path) -> bytes:
    if not model_dir.is_dir():
        fail(f"model directory {model_dir} does not exist ({MAKE_MODEL})")
    archive = model_dir / "model.tar.gz"
    if archive.is_file():
        try:
            with tarfile.open(archive) as tar:
                member = next((m for m in tar.getmembers() if m.name.lstrip("./") == MODEL_FILE), None)
                if member is None or not member.isfile():
                    fail(
                        f"{archive} holds no {MODEL_FILE} file (the built-in XGBoost algorithm's; {MAKE_MODEL})"
                    )
                return tar.extractfile(member).read()
        except tarfile.TarError as exc:
            fail(f"{archive} is not a training job's model archive: {exc} ({MAKE_MODEL})")
    if (model_dir / MODEL_FILE).is_file():
        return (model_dir / MODEL_FILE).read_bytes()
    fail(f"no model.tar.gz or {MODEL_FILE} in {model_dir} ({MAKE_MODEL})")


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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def main(argv=None) -> None:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--preprocessing-dir", type=Path, default=Path("/opt/ml/processing/preprocessing"))
    parser.add_argument("--code-dir", type=Path, default=Path("/opt/ml/processing/serving-code"))
    parser.add_argument(
        "--program", default=PROGRAM, help="the serving script in --code-dir (SAGEMAKER_PROGRAM)"
    )
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/packaged"))
    args = parser.parse_args(argv)
    if PurePosixPath(args.program).name != args.program or args.program in ("", ".", ".."):
        parser.error(
            f"--program {args.program!r} is not a file name: give the serving script's, e.g. inference.py"
        )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    model = training_model(args.model_dir)
    preprocessing_path = args.preprocessing_dir / PREPROCESSING_FILE
    if not preprocessing_path.is_file():
        fail(f"no {PREPROCESSING_FILE} in {args.preprocessing_dir} ({MAKE_PREPROCESSING})")
    program_path = args.code_dir / args.program
    if not program_path.is_file():
        fail(
            f"no {args.program} in {args.code_dir} (give --code-dir the directory of the serving script, "
            "pipelines/abalone in this repository)"
        )
    preprocessing = preprocessing_path.read_bytes()
    try:
        json.loads(preprocessing)  # fail here, not at the endpoint, when it is not JSON
    except ValueError as exc:
        fail(f"{preprocessing_path} is not JSON: {exc} ({MAKE_PREPROCESSING})")
    archive = package(model, preprocessing, program_path.read_bytes(), args.program)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "model.tar.gz").write_bytes(archive)
    log.info("wrote %s (%d bytes)", args.output_dir / "model.tar.gz", len(archive))


if __name__ == "__main__":
    main()
