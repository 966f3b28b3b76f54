"""Bucket names checked as S3 checks them: moto only checks the length, so ``Bad_Bucket`` would be created here
while AWS answers InvalidBucketName."""

from __future__ import annotations

from moto.s3.exceptions import InvalidBucketName
from moto.s3.models import S3Backend

from smbundle.validation import bucket_name_problem

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    original = S3Backend.create_bucket

    def create_bucket(self, bucket_name: str, *args, **kwargs):
        if bucket_name_problem(bucket_name):
            raise InvalidBucketName()
        return original(self, bucket_name, *args, **kwargs)

    S3Backend.create_bucket = create_bucket
    _applied = True
