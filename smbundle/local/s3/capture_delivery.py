"""Data capture delivered before anyone lists its bucket.

The embedded runtime buffers captured records and writes them every few seconds (``sagemaker/capture.py``); on AWS
they arrive within minutes. A data-quality check that runs right after traffic would see a race here that AWS's
schedules avoid by running well after the hour. So listing a bucket first writes what is buffered for it: whoever
looks (a check's job, ``aws s3 ls``) finds every record captured so far. docs/local.md lists this difference.
"""

from __future__ import annotations

from moto.s3.models import S3Backend

from smbundle.local.sagemaker import capture

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    original_v1, original_v2 = S3Backend.list_objects, S3Backend.list_objects_v2

    def list_objects(self, bucket, *args, **kwargs):
        capture.flush_bucket(bucket.name)
        return original_v1(self, bucket, *args, **kwargs)

    def list_objects_v2(self, bucket, *args, **kwargs):
        capture.flush_bucket(bucket.name)
        return original_v2(self, bucket, *args, **kwargs)

    S3Backend.list_objects = list_objects
    S3Backend.list_objects_v2 = list_objects_v2
    _applied = True
