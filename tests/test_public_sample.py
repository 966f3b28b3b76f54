"""AWS's public sample object that the build seed reads by default is there, as on AWS (plain moto has no such
bucket, so the seed's default InputDataUrl fails with NoSuchBucket against it)."""

from __future__ import annotations

import boto3

from smbundle.local import server
from smbundle.local.sample_data import PUBLIC_SAMPLE_OWNER, PUBLIC_SAMPLE_URL


def test_the_seed_s_default_input_is_served_from_aws_s_own_account(aws):
    server.prepare_account()
    bucket, _, key = PUBLIC_SAMPLE_URL[len("s3://") :].partition("/")
    assert (bucket, key) == ("sagemaker-sample-files", "datasets/tabular/uci_abalone/abalone.csv")
    s3 = boto3.client("s3")
    lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    assert len(lines) == 4177 and {len(line.split(",")) for line in lines} == {9}  # as published: no header
    assert lines[0].split(",")[0] in ("M", "F", "I")
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]  # not the project account's bucket
    assert PUBLIC_SAMPLE_OWNER != server.ACCOUNT_ID
