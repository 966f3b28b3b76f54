"""Read and write objects of the embedded S3 directly through moto's backend (no HTTP, works in any mode)."""

from __future__ import annotations

from moto.s3.models import s3_backends


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _backend(account_id: str):
    return s3_backends[account_id]["aws"]


def get_bytes(uri: str, account_id: str) -> bytes:
    bucket, key = split_uri(uri)
    obj = _backend(account_id).get_object(bucket, key)
    if obj is None:
        raise FileNotFoundError(f"{uri} does not exist")
    return obj.value


def put_bytes(uri: str, data: bytes, account_id: str) -> None:
    bucket, key = split_uri(uri)
    _backend(account_id).put_object(bucket, key, data)


def list_keys(uri_prefix: str, account_id: str) -> list[str]:
    """Keys under ``uri_prefix`` (an object key itself, or a prefix), sorted."""
    bucket_name, prefix = split_uri(uri_prefix)
    bucket = _backend(account_id).get_bucket(bucket_name)
    return sorted(k for k in list(bucket.keys.keys()) if k.startswith(prefix))


def bucket_region(bucket_name: str, account_id: str) -> str | None:
    """The Region a bucket is in (any account's bucket, as S3 knows it), or None when there is no such bucket."""
    from moto.s3.exceptions import MissingBucket

    try:
        return _backend(account_id).get_bucket(bucket_name).region_name
    except MissingBucket:
        return None
