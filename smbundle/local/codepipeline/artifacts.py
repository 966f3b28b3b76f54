"""A pipeline's artifact store, as CodePipeline keeps it: one zip per artifact in the pipeline's S3 bucket.

The principal that produces an artifact uploads it (the pipeline role for a source action, the build project's
role for a build's output) and the one that consumes it downloads it (the build project's role for a build's
input, the pipeline role for a CloudFormation action's), each with its own credentials, so the embedded IAM
decides as AWS would. With an ``EncryptionKey`` the objects are SSE-KMS encrypted, and the uploader needs
``kms:GenerateDataKey`` and the downloader ``kms:Decrypt`` on the key.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ArtifactStore:
    bucket: str
    pipeline_name: str
    kms_key: str | None = None

    def key_for(self, artifact_name: str) -> str:
        return f"{self.pipeline_name[:20]}/{artifact_name[:20]}/{uuid.uuid4().hex[:7]}"

    def put(self, role_session, artifact_name: str, directory: Path) -> str:
        """Zip ``directory`` and upload it as ``role_session``; returns the object key."""
        key = self.key_for(artifact_name)
        kwargs = {"Bucket": self.bucket, "Key": key, "Body": _zip(directory)}
        if self.kms_key:
            role_session.authorize("kms:GenerateDataKey", self.kms_key)
            kwargs.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key)
        role_session.client("s3").put_object(**kwargs)
        return key

    def get(self, role_session, key: str, target: Path) -> Path:
        """Download and unzip an artifact as ``role_session`` into ``target``."""
        if self.kms_key:
            role_session.authorize("kms:Decrypt", self.kms_key)
        body = role_session.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            for info in archive.infolist():
                path = target / info.filename
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(archive.read(info))
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    path.chmod(mode)
        return target


def _zip(directory: Path) -> bytes:
    """Every file under ``directory``, with its mode (CodePipeline zips the whole artifact)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix())
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (path.stat().st_mode & 0xFFFF) << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()
