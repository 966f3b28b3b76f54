"""A synthetic stand-in for the UCI abalone dataset (the real file cannot be shipped or fetched here).

Same layout as the public file the pipeline reads by default: no header, nine columns
(sex, length, diameter, height, whole_weight, shucked_weight, viscera_weight, shell_weight, rings), 4,177 rows,
lengths in steps of 0.005 and weights in steps of 0.0005 as published, integer rings (at most 29).

It is built to be as hard as the real data, so the MSE gate means something: sex shares as in the real file
(M 1528, F 1307, I 1342); rings right-skewed (mean about 9.9, standard deviation about 3.1; real 9.93 and 3.22);
size grows with age along a saturating curve with individual growth rates, so old abalones of the same size
differ by many rings; weights grow with the cube of length. Measurement means land within 10 % of the real ones,
their correlations with rings between 0.47 and 0.60 (real 0.42 to 0.63), and the pipeline's XGBoost model
scores a test MSE of about 4.6 to 5 (published results on the real data are about 4.5 to 5).
This data is SYNTHETIC: every place that uses it says so.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import random

DEFAULT_ROWS = 4177  # as many rows as the real dataset
SYNTHETIC_LABEL = "synthetic abalone-schema sample (generated; not the UCI dataset)"


def _step(value: float, step: float) -> float:
    return round(round(value / step) * step, 4)


def generate_rows(rows: int = DEFAULT_ROWS, seed: int = 7) -> list[list]:
    rng = random.Random(seed)
    data = []
    for _ in range(rows):
        sex = rng.choices(["M", "F", "I"], weights=[1528, 1307, 1342])[0]
        age = 2.0 + rng.gammavariate(6.0, 1.0) if sex == "I" else 4.0 + rng.gammavariate(5.0, 1.35)
        rings = max(1, min(29, round(age)))
        growth = 1.0 - math.exp(-0.17 * rng.lognormvariate(0.0, 0.35) * rings)  # individual growth rate
        length = max(0.075, min(0.815, 0.68 * growth + rng.gauss(0, 0.045)))
        diameter = max(0.055, length * 0.80 + rng.gauss(0, 0.012))
        height = max(0.01, diameter * 0.34 + rng.gauss(0, 0.012))
        whole = max(0.002, 5.2 * length**3 * rng.lognormvariate(0, 0.1))
        older = 0.014 * (rings - 10)  # older shells are a little heavier, the meat a little lighter
        shucked = max(0.001, whole * 0.43 * rng.lognormvariate(-older, 0.08))
        viscera = max(0.0005, whole * 0.22 * rng.lognormvariate(0, 0.1))
        shell = max(0.0015, whole * 0.29 * rng.lognormvariate(older, 0.08))
        sizes = [_step(v, 0.005) for v in (length, diameter, height)]
        weights = [_step(v, 0.0005) for v in (whole, shucked, viscera, shell)]
        data.append([sex, *sizes, *weights, rings])
    return data


@functools.lru_cache(maxsize=4)
def generate_csv(rows: int = DEFAULT_ROWS, seed: int = 7) -> bytes:
    """The rows as the public file's CSV; the same for the same arguments, so a process generates it once (0.15 s)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(generate_rows(rows, seed))
    return buffer.getvalue().encode()


# AWS's public copies of the abalone data: one bucket per Region (what the build seed reads by default, as AWS's
# SageMaker Pipelines examples do: SageMaker jobs cannot read S3 input from another Region), and the older
# us-east-1 bucket that earlier examples read.
REGIONAL_SAMPLE_URL = "s3://sagemaker-example-files-prod-{region}/datasets/tabular/uci_abalone/abalone.csv"
PUBLIC_SAMPLE_URL = "s3://sagemaker-sample-files/datasets/tabular/uci_abalone/abalone.csv"
# The public buckets belong to AWS, not to the project's account: they are readable there but not listed.
PUBLIC_SAMPLE_OWNER = "111111111111"


def sample_url(region: str) -> str:
    return REGIONAL_SAMPLE_URL.format(region=region)


@functools.lru_cache(maxsize=1)
def sagemaker_regions() -> tuple[str, ...]:
    """The commercial Regions where SageMaker is, from botocore's endpoint data."""
    from smbundle.local import boto_sessions

    return tuple(boto_sessions.session("us-east-1").get_available_regions("sagemaker"))


def regional_sample_region(bucket: str) -> str | None:
    """The Region of a regional sample bucket name (``sagemaker-example-files-prod-<region>``), else None."""
    prefix = "sagemaker-example-files-prod-"
    region = bucket[len(prefix) :] if bucket.startswith(prefix) else None
    return region if region in sagemaker_regions() else None


def serve(url: str, region: str) -> None:
    """Put the sample at ``url`` in a bucket of AWS's account located in ``region`` (kept if already there)."""
    from moto.s3.models import s3_backends

    backend = s3_backends[PUBLIC_SAMPLE_OWNER]["aws"]
    bucket, _, key = url[len("s3://") :].partition("/")
    if bucket not in backend.buckets:
        backend.create_bucket(bucket, region)
        backend.put_bucket_policy(bucket, json.dumps(_public_read(bucket)).encode())
    if backend.get_object(bucket, key) is None:
        backend.put_object(bucket, key, generate_csv())


def _public_read(bucket: str) -> dict:
    """Anyone may list and read AWS's public sample buckets, nobody else may write them (the embedded IAM denies
    another account what the bucket policy does not grant)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def serve_public_sample() -> None:
    """Serve the older us-east-1 sample at once; the Regional copies appear when a bucket name asks for them
    (``s3/public_samples.py``: 34 copies would cost every server start a quarter of a second)."""
    serve(PUBLIC_SAMPLE_URL, "us-east-1")
