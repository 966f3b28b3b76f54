"""Check an input CSV against the build seed's schema before a local run starts anything.

The build seed's preprocessing step (``seed_code/build/pipelines/abalone/preprocess.py``) reads CSV files without a
header row, nine columns: sex (F, I or M), seven measurements, rings (the label). A file of another shape would
fail seconds later deep inside scikit-learn or XGBoost; here it fails at once, naming the line and the column.
Empty sex and measurement cells are allowed (the seed imputes them); an empty rings cell (the label) is not.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from smbundle.validation import UsageError

# The seed's schema (tests/test_seed_contract.py checks it against preprocess.py).
COLUMNS = [
    "sex",
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
    "rings",
]
SEX_CATEGORIES = ["F", "I", "M"]
# The seed splits 70/15/15: fewer rows leave the validation or test split (nearly) empty.
MIN_ROWS = 20


def check(path: Path, flag: str = "--input-data") -> int:
    """Raise UsageError naming the first line and column at fault; return the number of data rows."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give one CSV file in the abalone schema")
    if not path.is_file():
        raise UsageError(f"{flag} {path} does not exist; give a CSV in the abalone schema")
    where = f"{flag} {path}"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{where} is not a UTF-8 text file; give a CSV in the abalone schema") from None
    rows = 0
    for line_number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        _check_row(where, line_number, row)
        rows += 1
    if rows == 0:
        raise UsageError(f"{where} is empty; give at least {MIN_ROWS} rows of {len(COLUMNS)} columns")
    if rows < MIN_ROWS:
        raise UsageError(
            f"{where} has {rows} rows; the pipeline splits 70/15/15 into train, validation and test, "
            f"give at least {MIN_ROWS}"
        )
    return rows


def _check_row(where: str, line: int, row: list[str]) -> None:
    expected = ", ".join(COLUMNS)
    if len(row) != len(COLUMNS):
        raise UsageError(
            f"{where} line {line}: {len(row)} columns, expected {len(COLUMNS)} ({expected}), no header row"
        )
    sex = row[0].strip()
    if sex and sex not in SEX_CATEGORIES:
        if line == 1 and not _is_number(row[1]):
            raise UsageError(
                f"{where} line 1 looks like a header row ({','.join(row[:3])},...): remove it, "
                "the pipeline reads CSV without a header"
            )
        raise UsageError(
            f"{where} line {line} column 1 (sex): {sex!r} is not one of {', '.join(SEX_CATEGORIES)}"
        )
    for column, (name, cell) in enumerate(zip(COLUMNS[1:], row[1:], strict=True), start=2):
        cell = cell.strip()
        if not cell and name != "rings":
            continue  # the seed imputes missing measurements
        if not _is_number(cell) or float(cell) < 0:
            raise UsageError(
                f"{where} line {line} column {column} ({name}): {cell!r} is not a number of zero or more"
            )


def _is_number(cell: str) -> bool:
    try:
        return math.isfinite(float(cell))
    except ValueError:
        return False
