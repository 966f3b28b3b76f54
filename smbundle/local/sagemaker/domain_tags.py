"""Tags on SageMaker domains (moto stores none): S3 project templates are found through the domain tag
``sagemaker:projectS3TemplatesLocation``."""

from __future__ import annotations

from moto.sagemaker import models

_applied = False


def _is_domain(arn: str) -> bool:
    return ":domain/" in arn


def apply() -> None:
    global _applied
    if _applied:
        return
    backend_class = models.SageMakerModelBackend
    original_add, original_list = backend_class.add_tags, backend_class.list_tags

    def store(backend) -> dict:
        if not hasattr(backend, "domain_tags"):
            backend.domain_tags = {}
        return backend.domain_tags

    def add_tags(self, arn, tags):
        if _is_domain(arn):
            current = store(self).setdefault(arn, {})
            current.update({t["Key"]: t["Value"] for t in tags})
            return [{"Key": k, "Value": v} for k, v in current.items()]
        return original_add(self, arn, tags)

    def list_tags(self, arn, *args, **kwargs):
        if _is_domain(arn):
            return [{"Key": k, "Value": v} for k, v in store(self).get(arn, {}).items()], None
        return original_list(self, arn, *args, **kwargs)

    backend_class.add_tags, backend_class.list_tags = add_tags, list_tags
    _applied = True
