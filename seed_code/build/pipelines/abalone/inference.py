"""Serving code of the abalone model: raw records in, predicted rings out.

The SageMaker XGBoost framework container runs this file in script mode (the registered model's container sets
SAGEMAKER_PROGRAM=inference.py and SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code). It implements the container's
inference contract:

    model = model_fn(model_dir)                     # once per worker, model_dir = the extracted model.tar.gz
    data = input_fn(request_body, content_type)     # per request
    prediction = predict_fn(data, model)
    body = output_fn(prediction, accept)

model.tar.gz holds ``xgboost-model`` (the built-in algorithm's output), ``preprocessing.json`` (the imputation,
scaling and one-hot parameters fitted on the training split by preprocess.py) and ``code/inference.py`` (this
file). The evaluation step scores the test split through these same four functions, so the registered test MSE
is what the endpoint measures.

Request (``text/csv``): one record per line, the columns of the public abalone dataset without the label:
    sex,length,diameter,height,whole_weight,shucked_weight,viscera_weight,shell_weight
    M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15
An empty field is imputed as in training (median of the measurement, most frequent sex). A sex code the model
was not trained with, a value that is not a number, or a line with another number of fields is rejected with an
error naming the line and the column. Response: ``text/csv`` (one predicted ring count per line; the default) or
``application/json`` (``{"predictions": [...]}``).

Only numpy and xgboost are used (both are in the container); no pickle, so no scikit-learn version coupling.
Written for the container's Python (3.8 and later).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

MODEL_FILE = "xgboost-model"
PREPROCESSING_FILE = "preprocessing.json"
PREPROCESSING_SCHEMA = "abalone-preprocessing/1"
COLUMNS = [
    "sex",
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
]
CSV = "text/csv"
JSON = "application/json"


class RecordError(ValueError):
    """A request the model cannot answer; the message says which line and column, and what to send."""


class Records:
    """Parsed request records: sex codes (None when empty) and the measurements (NaN when empty)."""

    def __init__(self, sex: list, measurements: np.ndarray):
        self.sex = sex
        self.measurements = measurements

    def __len__(self) -> int:
        return len(self.sex)


class AbaloneModel:
    """The booster and the preprocessing fitted with it."""

    def __init__(self, booster, preprocessing: dict):
        if preprocessing.get("schema") != PREPROCESSING_SCHEMA:
            raise ValueError(
                f"{PREPROCESSING_FILE} has schema {preprocessing.get('schema')!r}, expected {PREPROCESSING_SCHEMA}"
            )
        if preprocessing["columns"] != COLUMNS:
            raise ValueError(
                f"{PREPROCESSING_FILE} describes columns {preprocessing['columns']}, not {COLUMNS}"
            )
        numeric = preprocessing["numeric"]
        self.booster = booster
        self.median = np.asarray(numeric["median"], dtype=np.float64)
        self.mean = np.asarray(numeric["mean"], dtype=np.float64)
        self.scale = np.asarray(numeric["scale"], dtype=np.float64)
        self.categories = list(preprocessing["sex"]["categories"])
        self.most_frequent = preprocessing["sex"]["most_frequent"]
        self.index = {code: i for i, code in enumerate(self.categories)}

    def features(self, records: Records) -> np.ndarray:
        """The model's feature matrix: the measurements imputed and standard-scaled, then sex one-hot."""
        measurements = np.where(np.isnan(records.measurements), self.median, records.measurements)
        scaled = (measurements - self.mean) / self.scale
        one_hot = np.zeros((len(records), len(self.categories)))
        for row, code in enumerate(records.sex):
            column = self.index.get(self.most_frequent if code is None else code)
            if column is None:
                known = ", ".join(self.categories)
                raise RecordError(
                    f"line {row + 1}, column sex: {code!r} is not a code the model knows ({known}); "
                    "leave the field empty when the sex is unknown"
                )
            one_hot[row, column] = 1.0
        return np.hstack([scaled, one_hot]).astype(np.float32)

    def predict(self, records: Records) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(self.features(records)), dtype=np.float64)


def model_fn(model_dir: str) -> AbaloneModel:
    import xgboost

    booster = xgboost.Booster()
    with open(os.path.join(model_dir, MODEL_FILE), "rb") as handle:
        booster.load_model(bytearray(handle.read()))  # raw bytes: XGBoost detects the format itself
    # One thread per prediction: the container already runs one model server worker per vCPU, and requests are
    # small; OpenMP threads across workers would only contend (a single record is ~10x slower under load).
    booster.set_param({"nthread": 1})
    with open(os.path.join(model_dir, PREPROCESSING_FILE)) as handle:
        preprocessing = json.load(handle)
    return AbaloneModel(booster, preprocessing)


def _media_type(value) -> str:
    return str(value or "").split(";")[0].strip().lower()


def _number(field: str, line: int, column: str) -> float:
    if not field:
        return math.nan
    try:
        value = float(field)
    except ValueError:
        raise RecordError(f"line {line}, column {column}: {field!r} is not a number") from None
    if not math.isfinite(value):
        raise RecordError(f"line {line}, column {column}: {field!r} is not a finite number")
    return value


def input_fn(request_body, request_content_type) -> Records:
    if _media_type(request_content_type) != CSV:
        raise RecordError(
            f"content type {request_content_type!r} is not supported: send text/csv, one record per line "
            f"({','.join(COLUMNS)})"
        )
    text = request_body.decode("utf-8") if isinstance(request_body, (bytes, bytearray)) else str(request_body)
    sex, measurements = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != len(COLUMNS):
            raise RecordError(
                f"line {number}: {len(fields)} values, expected {len(COLUMNS)} ({','.join(COLUMNS)}), "
                "without the label"
            )
        sex.append(fields[0] or None)
        measurements.append([_number(fields[i], number, COLUMNS[i]) for i in range(1, len(COLUMNS))])
    if not sex:
        raise RecordError(f"empty request: send one record per line ({','.join(COLUMNS)})")
    return Records(sex, np.asarray(measurements, dtype=np.float64))


def predict_fn(input_data: Records, model: AbaloneModel) -> np.ndarray:
    return model.predict(input_data)


def output_fn(prediction, accept) -> str:
    values = [float(v) for v in np.ravel(prediction)]
    media_type = _media_type(accept)
    if media_type in (CSV, "*/*", ""):
        return "".join(f"{v:.6g}\n" for v in values)
    if media_type == JSON:
        return json.dumps({"predictions": values})
    raise RecordError(f"accept {accept!r} is not supported: text/csv or application/json")
