"""AWS's public sample buckets of the abalone data, one per Region, as they are on AWS: each one exists, in its own
Region and in AWS's account, from the first request that names it (``sample_data.serve``), so a job in any Region
reads its Region's copy and a bucket of that name cannot be created by anyone else."""

from __future__ import annotations

from moto.s3.models import S3Backend, s3_backends

from smbundle.local import sample_data

_applied = False
_serving: set[str] = set()  # serving a bucket creates it through the same methods


def serve_if_sample(bucket_name: str) -> None:
    if bucket_name in s3_backends.bucket_accounts or bucket_name in _serving:
        return
    region = sample_data.regional_sample_region(bucket_name)
    if region is not None:
        _serving.add(bucket_name)
        try:
            sample_data.serve(sample_data.sample_url(region), region)
        finally:
            _serving.discard(bucket_name)


def apply() -> None:
    global _applied
    if _applied:
        return
    original_get, original_create = S3Backend.get_bucket, S3Backend.create_bucket

    def get_bucket(self, bucket_name: str):
        serve_if_sample(bucket_name)
        return original_get(self, bucket_name)

    def create_bucket(self, bucket_name: str, *args, **kwargs):
        serve_if_sample(bucket_name)
        return original_create(self, bucket_name, *args, **kwargs)

    S3Backend.get_bucket = get_bucket
    S3Backend.create_bucket = create_bucket
    _applied = True
