"""A synthetic sample in the schema of the UCI abalone dataset (the real file cannot be shipped).

Same layout as the public ``abalone.csv`` the pipeline reads by default: no header, nine columns
(sex, length, diameter, height, whole_weight, shucked_weight, viscera_weight, shell_weight, rings).
The relations between columns follow the real data's shape (weights grow with the cube of length, rings grow
with size, with noise), so a regression model learns something and the MSE gate means something.
This data is SYNTHETIC: every place that uses it says so.
"""

from __future__ import annotations

import csv
import io
import random

DEFAULT_ROWS = 4177  # as many rows as the real dataset
SYNTHETIC_LABEL = "synthetic abalone-schema sample (generated; not the UCI dataset)"


def generate_rows(rows: int = DEFAULT_ROWS, seed: int = 7) -> list[list]:
    rng = random.Random(seed)
    data = []
    for _ in range(rows):
        sex = rng.choices(["M", "F", "I"], weights=[0.37, 0.31, 0.32])[0]
        age = rng.gammavariate(5.0, 1.5) + (0.0 if sex == "I" else 2.0)  # age in years
        growth = 1.0 - 0.92 ** (age + 1.0)
        length = max(0.075, min(0.815, 0.78 * growth + rng.gauss(0, 0.03)))
        diameter = max(0.055, length * 0.79 + rng.gauss(0, 0.012))
        height = max(0.01, diameter * 0.34 + rng.gauss(0, 0.01))
        whole = max(0.002, 0.64 * length**3 * 4.6 + rng.gauss(0, 0.03))
        shucked = max(0.001, whole * 0.43 + rng.gauss(0, 0.015))
        viscera = max(0.0005, whole * 0.22 + rng.gauss(0, 0.008))
        shell = max(0.0015, whole * 0.29 + rng.gauss(0, 0.012))
        rings = max(1, min(29, round(age + 1.0 + rng.gauss(0, 1.2))))
        values = [length, diameter, height, whole, shucked, viscera, shell]
        data.append([sex, *[round(v, 4) for v in values], rings])
    return data


def generate_csv(rows: int = DEFAULT_ROWS, seed: int = 7) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(generate_rows(rows, seed))
    return buffer.getvalue().encode()


PUBLIC_SAMPLE_URL = "s3://sagemaker-sample-files/datasets/tabular/uci_abalone/abalone.csv"
# The public bucket belongs to AWS, not to the project's account: it is readable there but not listed.
PUBLIC_SAMPLE_OWNER = "111111111111"


def serve_public_sample() -> None:
    """Put the sample where AWS's public bucket keeps the abalone data (the build seed's default InputDataUrl),
    in a bucket owned by another account, so the seed runs against the embedded AWS as it runs against AWS.
    Kept if it is already there."""
    from moto.s3.models import s3_backends

    backend = s3_backends[PUBLIC_SAMPLE_OWNER]["aws"]
    bucket, _, key = PUBLIC_SAMPLE_URL[len("s3://") :].partition("/")
    if bucket not in backend.buckets:
        backend.create_bucket(bucket, "us-east-1")
    if backend.get_object(bucket, key) is None:
        backend.put_object(bucket, key, generate_csv())
