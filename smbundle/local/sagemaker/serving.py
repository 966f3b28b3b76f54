"""What runs inside the serving container of an endpoint, executed in-process: the SageMaker XGBoost image.

The container picks its mode from its environment, as the XGBoost image's serving entry point does:

- **Algorithm mode** (``SAGEMAKER_PROGRAM`` unset): ``xgboost-model`` from model.tar.gz answers ``text/csv`` rows of
  numeric features, one prediction per row (the built-in algorithm).
- **Script mode** (``SAGEMAKER_PROGRAM`` set, e.g. ``inference.py``): the script is imported from
  ``SAGEMAKER_SUBMIT_DIRECTORY`` (a directory in the extracted model.tar.gz such as ``/opt/ml/model/code``, or an
  ``s3://`` source archive) and serves through the SageMaker inference toolkit's contract:
  ``model = model_fn(model_dir)`` once, then per request ``output_fn(predict_fn(input_fn(body, content_type), model),
  accept)``, or ``transform_fn(model, body, content_type, accept)``. As in the toolkit: a ``text/csv`` or
  ``application/json`` body reaches ``input_fn`` decoded as text, other types as bytes; a request without an Accept
  header (or ``*/*``) gets ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` (default ``application/json``); a function that
  takes one more parameter gets the request context (None here); a missing ``input_fn``/``predict_fn``/``output_fn``
  falls back to the XGBoost image's default (CSV to a DMatrix, ``Booster.predict``, CSV or JSON out), a missing
  ``model_fn`` is an error. An exception raised by the script answers HTTP 500 with its message (or the exception's
  ``status_code``, as the toolkit's own errors carry), which SageMaker returns to the caller as a ``ModelError``.

Each container is loaded once per endpoint config (``load``); ``invoke`` is called concurrently.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import io
import itertools
import json
import logging
import math
import sys
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

MODEL_DIR = "/opt/ml/model"
UTF8_TYPES = ("application/json", "text/csv")  # the toolkit decodes these bodies before input_fn
DEFAULT_ACCEPT = (
    "application/json"  # the toolkit's default when SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT is unset
)
_import_lock = threading.Lock()
_module_counter = itertools.count(1)


class ServingError(Exception):
    """The container answered ``status`` (a 4xx/5xx) with ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Answer:
    body: bytes
    content_type: str


def extract(archive: bytes, target: Path, source: str) -> None:
    """Extract a model or source archive as the platform does; members escaping ``target`` are refused."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
                    raise ServingError(500, f"{source}: refusing archive member {member.name!r}")
            tar.extractall(target, filter="data")  # members checked above, and the data filter
    except tarfile.TarError as exc:
        raise ServingError(500, f"{source} is not a tar.gz archive: {exc}") from None


class AlgorithmModeModel:
    """The built-in XGBoost algorithm: numeric CSV rows (no label) in, one prediction per row out."""

    def __init__(self, model_dir: Path, source: str):
        import xgboost

        path = next((p for p in model_dir.rglob("xgboost-model") if p.is_file()), None)
        if path is None:
            raise ServingError(500, f"{source} holds no xgboost-model file")
        self.booster = xgboost.Booster()
        self.booster.load_model(bytearray(path.read_bytes()))
        # one request's rows: more threads would only spin (the predictions are the same)
        self.booster.set_param({"nthread": 1})
        self.features = self.booster.num_features()

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Answer:
        import numpy as np

        try:
            rows = [
                [float(v) for v in line.split(",")] for line in body.decode().splitlines() if line.strip()
            ]
        except ValueError as exc:
            raise ServingError(400, f"Unable to parse the CSV payload: {exc}") from None
        if not rows:
            raise ServingError(400, "Empty payload: send one CSV row per prediction")
        widths = {len(row) for row in rows}
        if widths != {self.features}:
            raise ServingError(
                400, f"Feature shape mismatch, expected: {self.features}, got {sorted(widths)}"
            )
        predictions = self.booster.inplace_predict(np.asarray(rows, dtype=np.float32))
        text = "".join(f"{v:.6g}\n" if math.isfinite(v) else "nan\n" for v in predictions.tolist())
        return Answer(text.encode(), "text/csv")


def _call(function, *arguments):
    """The toolkit's calling rule: a function with one more parameter also gets the request context."""
    if _takes_context(function, len(arguments)):
        return function(*arguments, None)
    return function(*arguments)


@functools.lru_cache(maxsize=256)
def _takes_context(function, count: int) -> bool:
    try:
        return len(inspect.signature(function).parameters) == count + 1
    except (TypeError, ValueError):
        return False


class _XGBoostDefaults:
    """The XGBoost image's fallbacks for the functions a script does not define."""

    @staticmethod
    def model_fn(model_dir):
        raise NotImplementedError(
            "Please provide a model_fn implementation (the XGBoost container has no default)"
        )

    @staticmethod
    def input_fn(input_data, content_type):
        import numpy as np
        import xgboost

        if str(content_type).split(";")[0].strip() != "text/csv":
            raise ValueError(f"Content type {content_type} is not supported by the default input_fn")
        text = input_data.decode() if isinstance(input_data, bytes) else input_data
        rows = [[float(v) for v in line.split(",")] for line in text.splitlines() if line.strip()]
        return xgboost.DMatrix(np.asarray(rows, dtype=np.float32))

    @staticmethod
    def predict_fn(input_data, model):
        return model.predict(input_data, validate_features=False)

    @staticmethod
    def output_fn(prediction, accept):
        values = [float(v) for v in getattr(prediction, "tolist", lambda: prediction)()]
        if accept == "application/json":
            return json.dumps(values)
        if accept == "text/csv":
            return "\n".join(str(v) for v in values)
        raise ValueError(f"Accept {accept} is not supported by the default output_fn")


class ScriptModeModel:
    """A user script serving through model_fn / input_fn / predict_fn / output_fn (or transform_fn)."""

    def __init__(self, model_dir: Path, code_dir: Path, program: str, environment: dict):
        self.program = program
        self.default_accept = environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or DEFAULT_ACCEPT
        module = self._import(code_dir, program)
        functions = {name: getattr(module, name, None) for name in ("input_fn", "predict_fn", "output_fn")}
        self.transform_fn = getattr(module, "transform_fn", None)
        if self.transform_fn and any(functions.values()):
            raise ServingError(
                500,
                f"{program}: cannot use transform_fn together with input_fn, predict_fn and/or output_fn",
            )
        self.input_fn = functions["input_fn"] or _XGBoostDefaults.input_fn
        self.predict_fn = functions["predict_fn"] or _XGBoostDefaults.predict_fn
        self.output_fn = functions["output_fn"] or _XGBoostDefaults.output_fn
        model_fn = getattr(module, "model_fn", None) or _XGBoostDefaults.model_fn
        try:
            self.model = _call(model_fn, str(model_dir))
        except Exception as exc:
            log.exception("model_fn of %s failed", program)
            raise ServingError(500, f"model_fn failed: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def _import(code_dir: Path, program: str):
        path = code_dir / program
        if not path.is_file():
            raise ServingError(500, f"SAGEMAKER_PROGRAM {program} is not in the submit directory")
        name = f"smbundle_serving_{next(_module_counter)}_{path.stem}"
        with _import_lock:  # the code directory is importable while the script loads, as in the container
            sys.path.insert(0, str(code_dir))
            try:
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module  # as an import does (pickle, dataclasses look the module up)
                spec.loader.exec_module(module)
            except Exception as exc:
                sys.modules.pop(name, None)
                log.exception("importing %s failed", program)
                raise ServingError(500, f"importing {program} failed: {type(exc).__name__}: {exc}") from None
            finally:
                sys.path.remove(str(code_dir))
        return module

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Answer:
        if not accept or accept == "*/*":
            accept = self.default_accept
        try:
            data = body.decode("utf-8") if content_type in UTF8_TYPES else body
            if self.transform_fn:
                result = _call(self.transform_fn, self.model, data, content_type, accept)
            else:
                decoded = _call(self.input_fn, data, content_type)
                prediction = _call(self.predict_fn, decoded, self.model)
                result = _call(self.output_fn, prediction, accept)
        except Exception as exc:  # the script's error is the answer, never the runtime's
            log.info("%s raised %s: %s", self.program, type(exc).__name__, exc)
            status = getattr(exc, "status_code", 500)
            raise ServingError(
                status if isinstance(status, int) else 500, f"{type(exc).__name__}: {exc}"
            ) from None
        response_type = accept
        if isinstance(result, tuple):
            result, response_type = result[0], result[1]
        if isinstance(result, str):
            result = result.encode()
        if not isinstance(result, bytes | bytearray):
            raise ServingError(500, f"{self.program} answered a {type(result).__name__}, not str or bytes")
        return Answer(bytes(result), response_type)


@dataclass
class Container:
    """One loaded serving container: its mode's model and the model directory it was extracted to."""

    model: AlgorithmModeModel | ScriptModeModel
    workdir: tempfile.TemporaryDirectory
    mode: str

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Answer:
        return self.model.invoke(body, content_type, accept)


def load(model_data_url: str, environment: dict, fetch) -> Container:
    """Extract model.tar.gz as ``/opt/ml/model`` and start the container in the mode its environment selects.

    ``fetch(uri) -> bytes`` reads from the embedded S3. Raises ServingError when the container cannot start.
    """
    workdir = tempfile.TemporaryDirectory(prefix="smbundle-serving-")
    model_dir = Path(workdir.name) / "model"
    model_dir.mkdir()
    try:
        archive = fetch(model_data_url)
    except (FileNotFoundError, ValueError) as exc:
        raise ServingError(500, f"cannot read the model data {model_data_url}: {exc}") from None
    extract(archive, model_dir, model_data_url)
    program = (environment.get("SAGEMAKER_PROGRAM") or "").strip()
    if not program:
        try:
            return Container(AlgorithmModeModel(model_dir, model_data_url), workdir, "algorithm")
        except ServingError:
            raise
        except Exception as exc:  # xgboost cannot read the file
            raise ServingError(500, f"cannot load xgboost-model of {model_data_url}: {exc}") from None
    code_dir = _submit_directory(
        environment.get("SAGEMAKER_SUBMIT_DIRECTORY") or "", model_dir, workdir, fetch
    )
    return Container(ScriptModeModel(model_dir, code_dir, program, environment), workdir, "script")


def _submit_directory(value: str, model_dir: Path, workdir: tempfile.TemporaryDirectory, fetch) -> Path:
    if value.startswith("s3://"):
        code_dir = Path(workdir.name) / "code"
        code_dir.mkdir()
        try:
            extract(fetch(value), code_dir, value)
        except (FileNotFoundError, ValueError) as exc:
            raise ServingError(500, f"cannot read SAGEMAKER_SUBMIT_DIRECTORY {value}: {exc}") from None
        return code_dir
    path = PurePosixPath(value.removeprefix("file://"))
    if path == PurePosixPath(MODEL_DIR) or PurePosixPath(MODEL_DIR) in path.parents:
        return model_dir.joinpath(*path.relative_to(MODEL_DIR).parts)
    raise ServingError(
        500,
        f"SAGEMAKER_SUBMIT_DIRECTORY {value!r} is neither under {MODEL_DIR} (code packed in model.tar.gz) nor an "
        "s3:// source archive",
    )
