"""The built-in XGBoost algorithm's training job, run locally with xgboost-cpu (used by the pipeline executor).

What it honours, as the algorithm does:

- ``HyperParameters`` (strings, as CreateTrainingJob carries them): ``num_round`` is required (an integer >= 1) and
  is the number of boosting rounds; ``early_stopping_rounds`` stops on the last evaluation channel (validation);
  every other algorithm hyperparameter in the table below goes to ``xgboost.train`` with its type. A name the
  algorithm does not know is rejected ("Extraneous hyperparameter"), as the algorithm's validation does.
- Channels ``train`` (required) and ``validation`` (optional, evaluated each round; its last metric and train's are
  the job's final metrics), ``text/csv`` with the label in the first column, every file under the channel's prefix.
- ``ResourceConfig``: one instance of any ``ml.*`` instance type (the type changes nothing locally).

What it rejects rather than silently doing something else: another image, ``Pipe`` input mode, a channel name the
algorithm does not read, a channel without ContentType (the algorithm would read it as ``text/libsvm``) or with a
content type other than CSV, more than one instance (distributed training is not emulated), hyperparameters of
features that are not emulated (``csv_weights=1``, cross-validation ``_kfold``).
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

INTEGER = {
    "num_round",
    "early_stopping_rounds",
    "csv_weights",
    "verbosity",
    "nthread",
    "max_depth",
    "max_leaves",
    "max_bin",
    "num_class",
    "seed",
    "num_parallel_tree",
    "one_drop",
    "refresh_leaf",
}
FLOAT = {
    "eta",
    "gamma",
    "min_child_weight",
    "max_delta_step",
    "subsample",
    "colsample_bytree",
    "colsample_bylevel",
    "colsample_bynode",
    "lambda",
    "alpha",
    "sketch_eps",
    "scale_pos_weight",
    "rate_drop",
    "skip_drop",
    "tweedie_variance_power",
    "base_score",
}
STRING = {
    "booster",
    "objective",
    "eval_metric",
    "tree_method",
    "grow_policy",
    "sample_type",
    "normalize_type",
    "process_type",
    "updater",
    "predictor",
}
NOT_EMULATED = {"_kfold", "_num_cv_round", "_tuning_objective_metric", "save_model_on_termination"}
CHANNELS = ("train", "validation")
CSV_TYPES = ("text/csv", "csv")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")


class TrainingError(Exception):
    """The training job fails; the message is its FailureReason."""


@dataclass
class TrainingResult:
    model_tar_gz: bytes
    metrics: list[dict]
    rounds: int


def hyperparameters(raw: dict) -> tuple[int, int | None, dict]:
    """(num_round, early_stopping_rounds, the xgboost.train params) from CreateTrainingJob's string values."""
    values = {}
    for name, value in raw.items():
        text = str(value)
        if name in NOT_EMULATED:
            raise TrainingError(f"ClientError: hyperparameter {name} is not emulated by the local training")
        try:
            if name in INTEGER:
                number = float(text)
                if not number.is_integer():
                    raise ValueError(text)
                values[name] = int(number)
            elif name in FLOAT:
                values[name] = float(text)
            elif name in STRING:
                values[name] = text
            else:
                raise TrainingError(f"ClientError: Extraneous hyperparameter found: {name}")
        except ValueError:
            kind = "an integer" if name in INTEGER else "a number"
            raise TrainingError(f"ClientError: hyperparameter {name}: {text!r} is not {kind}") from None
    if "num_round" not in values:
        raise TrainingError("ClientError: Missing required hyperparameter: num_round")
    rounds = values.pop("num_round")
    if rounds < 1:
        raise TrainingError(f"ClientError: hyperparameter num_round: {rounds} is below 1")
    if values.pop("csv_weights", 0):
        raise TrainingError("ClientError: hyperparameter csv_weights=1 is not emulated by the local training")
    return rounds, values.pop("early_stopping_rounds", None), values


def check_job(arguments: dict) -> None:
    """What the job asks for that the local training cannot do as asked."""
    algorithm = arguments.get("AlgorithmSpecification", {})
    image = algorithm.get("TrainingImage", "")
    if "sagemaker-xgboost" not in image:
        raise TrainingError(
            f"training image {image} cannot run locally (only the built-in XGBoost algorithm can)"
        )
    mode = algorithm.get("TrainingInputMode", "File")
    if mode not in ("File", "FastFile"):
        raise TrainingError(
            f"ClientError: TrainingInputMode {mode} is not emulated by the local training (use File)"
        )
    resources = arguments.get("ResourceConfig", {})
    instance_type = str(resources.get("InstanceType", ""))
    if not INSTANCE_TYPE.match(instance_type):
        raise TrainingError(f"ValidationException: {instance_type!r} is not a SageMaker instance type (ml.*)")
    count = int(resources.get("InstanceCount", 1))
    if count != 1:
        raise TrainingError(
            f"ClientError: InstanceCount {count}: distributed training is not emulated locally (use 1 instance)"
        )
    names = [c["ChannelName"] for c in arguments.get("InputDataConfig", [])]
    for channel in arguments.get("InputDataConfig", []):
        name = channel["ChannelName"]
        if name not in CHANNELS:
            raise TrainingError(
                f"ClientError: channel {name!r} is not one the XGBoost algorithm reads ({', '.join(CHANNELS)})"
            )
        content_type = channel.get("ContentType")
        if not content_type:
            raise TrainingError(
                f"ClientError: channel {name} has no ContentType, which the algorithm reads as text/libsvm; "
                "set text/csv"
            )
        if content_type.split(";")[0].strip().lower() not in CSV_TYPES:
            raise TrainingError(
                f"ClientError: channel {name} content type {content_type} is not emulated locally (use text/csv)"
            )
    if "train" not in names:
        raise TrainingError("ClientError: the XGBoost algorithm needs a 'train' channel")


def train(arguments: dict, channel_dirs: dict[str, Path]) -> TrainingResult:
    """Run the job: ``channel_dirs`` holds each channel's downloaded files (CSV, label first)."""
    import numpy as np
    import xgboost

    check_job(arguments)
    rounds, early_stopping, params = hyperparameters(arguments.get("HyperParameters") or {})
    matrices = {}
    for name in CHANNELS:
        if name not in channel_dirs:
            continue
        files = sorted(p for p in channel_dirs[name].rglob("*") if p.is_file())
        if not files:
            raise TrainingError(f"ClientError: channel {name} holds no files")
        try:
            data = np.vstack([np.loadtxt(p, delimiter=",", ndmin=2) for p in files])
        except ValueError as exc:
            raise TrainingError(f"ClientError: channel {name} is not numeric CSV: {exc}") from None
        matrices[name] = xgboost.DMatrix(data[:, 1:], label=data[:, 0])
    history: dict = {}
    booster = xgboost.train(
        params,
        matrices["train"],
        num_boost_round=rounds,
        evals=[(matrix, name) for name, matrix in matrices.items()],
        evals_result=history,
        early_stopping_rounds=early_stopping if "validation" in matrices else None,
        verbose_eval=False,
    )
    raw = bytes(booster.save_raw("ubj"))  # XGBoost's binary format, as the container saves it
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    metrics = [
        {"MetricName": f"{channel}:{metric}", "Value": float(values[-1])}
        for channel, by_metric in history.items()
        for metric, values in by_metric.items()
    ]
    return TrainingResult(archive.getvalue(), metrics, booster.num_boosted_rounds())
