"""Preprocess the abalone dataset: impute, scale, one-hot the sex column, split train/validation/test.

Runs in the SageMaker scikit-learn processing container and, unchanged, on a laptop:
    python preprocess.py --input-dir data/ --output-dir out/

Input: CSV files without header, 9 columns (sex, 7 measurements, rings), as the UCI abalone dataset.
Output: <output-dir>/{train,validation,test}/<split>.csv without header; the label (rings) is the first column,
then the 10 features in this order: the 7 measurements standard-scaled, then sex one-hot F, I, M.
That feature order is what the deployed endpoint expects in each request row.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

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


def read_input(input_dir: Path) -> pd.DataFrame:
    files = sorted(p for p in input_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SystemExit(f"no input files in {input_dir}")
    frames = [pd.read_csv(path, header=None, names=COLUMNS) for path in files]
    data = pd.concat(frames, ignore_index=True)
    data[NUMERIC_FEATURES + [LABEL]] = data[NUMERIC_FEATURES + [LABEL]].apply(pd.to_numeric, errors="coerce")
    data = data.dropna(subset=[LABEL])
    log.info("read %d rows from %d file(s)", len(data), len(files))
    return data


def feature_transformer() -> ColumnTransformer:
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(categories=[SEX_CATEGORIES], handle_unknown="ignore", sparse_output=False),
    )
    return ColumnTransformer([("numeric", numeric, NUMERIC_FEATURES), ("sex", categorical, ["sex"])])


def split(matrix: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    rows = np.random.default_rng(seed).permutation(len(matrix))
    first = int(SPLITS["train"] * len(matrix))
    second = first + int(SPLITS["validation"] * len(matrix))
    return {
        "train": matrix[rows[:first]],
        "validation": matrix[rows[first:second]],
        "test": matrix[rows[second:]],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    data = read_input(args.input_dir)
    features = feature_transformer().fit_transform(data[["sex", *NUMERIC_FEATURES]])
    matrix = np.column_stack([data[LABEL].to_numpy(dtype=float), features])
    for name, part in split(matrix, args.seed).items():
        directory = args.output_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        np.savetxt(directory / f"{name}.csv", part, delimiter=",", fmt="%.6g")
        log.info("wrote %d rows to %s", len(part), directory / f"{name}.csv")


if __name__ == "__main__":
    main()
