"""Preprocess the abalone dataset: split train/validation/test, fit the preprocessing on the training split only.

Runs in the SageMaker scikit-learn processing container and, unchanged, on a laptop:
    python preprocess.py --input-dir data/ --output-dir out/

Input: the files in --input-dir (default /opt/ml/processing/input/data, the data input's own directory: the
container mounts this script under /opt/ml/processing/input/code, which is never read), CSV without header,
9 columns (sex, 7 measurements, rings) as the UCI abalone dataset. Rows without a numeric label are dropped, and
so are rows whose sex is neither empty nor one of F, I, M; a measurement that is not a number counts as missing.

The rows are split 70/15/15 first; the imputer (medians, most frequent sex), the scaler (means and scales) and the
one-hot encoder are fitted on the training rows only, so validation and test scores are honest.

Output (<output-dir>/...):
    train/train.csv, validation/validation.csv   label (rings) first, then the 10 model features: the 7 measurements
                                                  imputed and standard-scaled, then sex one-hot F, I, M; no header
    test/test.csv                                 the held-out records as they were read (sex, 7 measurements, rings
                                                  last; an empty field stays empty): what a client sends, plus the label
    preprocessing/preprocessing.json              the fitted parameters, which travel with the model (inference.py)
    baseline/baseline.csv                         the training records as the endpoint receives them (sex and the 7
                                                  measurements, no label) with a header row naming the features: the
                                                  dataset of the data-quality baseline (Model Monitor)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

log = logging.getLogger("preprocess")

NUMERIC_FEATURES = [
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
]
SEX_CATEGORIES = ["F", "I", "M"]
LABEL = "rings"
COLUMNS = ["sex", *NUMERIC_FEATURES, LABEL]
SPLITS = {"train": 0.70, "validation": 0.15, "test": 0.15}
PREPROCESSING_SCHEMA = "abalone-preprocessing/1"  # what inference.py reads


def fail(message: str) -> NoReturn:
    """One line on stderr, exit code 1, no traceback (a SystemExit carrying text)."""
    raise SystemExit("error: " + " ".join(message.split()))


HOW_TO_GIVE_INPUT = (
    "give --input-dir a directory holding the abalone CSV, no header, 9 columns, e.g. from aws s3 cp "
    "s3://sagemaker-example-files-prod-<region>/datasets/tabular/uci_abalone/abalone.csv data/"
)


def read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, header=None, names=COLUMNS, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError:  # an empty file: no records
        return pd.DataFrame(columns=COLUMNS, dtype=str)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        fail(
            f"cannot read {path} as CSV: {exc} (the input is CSV without header, 9 columns: {', '.join(COLUMNS)})"
        )


def read_input(input_dir: Path) -> pd.DataFrame:
    if not input_dir.is_dir():
        fail(f"input directory {input_dir} does not exist ({HOW_TO_GIVE_INPUT})")
    files = sorted(p for p in input_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        fail(f"no input files in {input_dir} ({HOW_TO_GIVE_INPUT})")
    frames = [frame for frame in (read_csv(path) for path in files) if not frame.empty]
    if not frames:
        fail(f"the input files in {input_dir} hold no records ({HOW_TO_GIVE_INPUT})")
    data = pd.concat(frames, ignore_index=True)
    data["sex"] = data["sex"].str.strip()
    data[NUMERIC_FEATURES + [LABEL]] = data[NUMERIC_FEATURES + [LABEL]].apply(pd.to_numeric, errors="coerce")
    read = len(data)
    data = data.dropna(subset=[LABEL])
    unknown_sex = data["sex"].notna() & ~data["sex"].isin(SEX_CATEGORIES)
    if unknown_sex.any():
        codes = sorted(set(data.loc[unknown_sex, "sex"]))[:5]
        log.warning(
            "dropping %d rows whose sex is not one of %s: %s", unknown_sex.sum(), SEX_CATEGORIES, codes
        )
    data = data[~unknown_sex].reset_index(drop=True)
    log.info("read %d rows from %d file(s); %d usable", read, len(files), len(data))
    if len(data) < 10:
        fail(
            f"only {len(data)} usable rows in {input_dir}: not enough to train and evaluate (at least 10 records "
            f"with a numeric rings label and sex F, I, M or empty; {HOW_TO_GIVE_INPUT})"
        )
    return data


def feature_transformer() -> ColumnTransformer:
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(categories=[SEX_CATEGORIES], handle_unknown="error", sparse_output=False),
    )
    return ColumnTransformer([("numeric", numeric, NUMERIC_FEATURES), ("sex", categorical, ["sex"])])


def split(data: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    rows = np.random.default_rng(seed).permutation(len(data))
    first = int(SPLITS["train"] * len(data))
    second = first + int(SPLITS["validation"] * len(data))
    return {
        "train": data.iloc[rows[:first]],
        "validation": data.iloc[rows[first:second]],
        "test": data.iloc[rows[second:]],
    }


def preprocessing_parameters(transformer: ColumnTransformer, rows: int) -> dict:
    """The fitted parameters as plain JSON (no pickle: the serving container's library versions differ)."""
    numeric = transformer.named_transformers_["numeric"].named_steps
    imputer, scaler = numeric["simpleimputer"], numeric["standardscaler"]
    sex = transformer.named_transformers_["sex"].named_steps
    sex_imputer, encoder = sex["simpleimputer"], sex["onehotencoder"]
    return {
        "schema": PREPROCESSING_SCHEMA,
        "columns": ["sex", *NUMERIC_FEATURES],
        "label": LABEL,
        "numeric": {
            "features": NUMERIC_FEATURES,
            "median": [float(v) for v in imputer.statistics_],
            "mean": [float(v) for v in scaler.mean_],
            "scale": [float(v) for v in scaler.scale_],
        },
        "sex": {
            "categories": [str(c) for c in encoder.categories_[0]],
            "most_frequent": str(sex_imputer.statistics_[0]),
        },
        "features": [*NUMERIC_FEATURES, *(f"sex_{c}" for c in encoder.categories_[0])],
        "fitted_on": {"split": "train", "rows": rows},
    }


def write_raw(part: pd.DataFrame, path: Path) -> None:
    """Records as a client has them (label last); a missing value stays an empty field."""
    part[COLUMNS].to_csv(path, header=False, index=False, float_format="%.10g")


def write_baseline(part: pd.DataFrame, path: Path) -> None:
    """The records as the endpoint receives them (no label), with a header naming the features."""
    part[["sex", *NUMERIC_FEATURES]].to_csv(path, header=True, index=False, float_format="%.10g")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def main(argv=None) -> None:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input/data"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    data = read_input(args.input_dir)
    parts = split(data, args.seed)
    transformer = feature_transformer().fit(parts["train"][["sex", *NUMERIC_FEATURES]])
    for name in ("train", "validation"):
        part = parts[name]
        features = transformer.transform(part[["sex", *NUMERIC_FEATURES]])
        matrix = np.column_stack([part[LABEL].to_numpy(dtype=float), features])
        directory = args.output_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        np.savetxt(directory / f"{name}.csv", matrix, delimiter=",", fmt="%.9g")
        log.info("wrote %d rows to %s", len(matrix), directory / f"{name}.csv")
    (args.output_dir / "test").mkdir(parents=True, exist_ok=True)
    write_raw(parts["test"], args.output_dir / "test" / "test.csv")
    log.info("wrote %d raw records to %s", len(parts["test"]), args.output_dir / "test" / "test.csv")
    (args.output_dir / "baseline").mkdir(parents=True, exist_ok=True)
    write_baseline(parts["train"], args.output_dir / "baseline" / "baseline.csv")
    log.info("wrote the data-quality baseline dataset (%d training records, no label)", len(parts["train"]))
    (args.output_dir / "preprocessing").mkdir(parents=True, exist_ok=True)
    parameters = preprocessing_parameters(transformer, len(parts["train"]))
    (args.output_dir / "preprocessing" / "preprocessing.json").write_text(json.dumps(parameters, indent=2))
    log.info("fitted the preprocessing on %d training rows", len(parts["train"]))


if __name__ == "__main__":
    main()
