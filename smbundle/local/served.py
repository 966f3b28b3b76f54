"""Which operations of a service the embedded AWS answers: ``scripts/local_aws.py --served SERVICE``.

An operation is served when moto or one of our extensions handles it: moto dispatches an operation of a JSON or
query protocol service to the method of the service's response class named after it (``CreateProject`` ->
``create_project``), and our extensions add or replace such methods. Any other operation answers at once with the
protocol's unknown-operation error (``moto_server.py``). S3, whose REST operations moto dispatches by method and
URL, is listed from the operations our tests exercise instead (``S3_SERVED``).
"""

from __future__ import annotations

import importlib
import inspect

from moto.core.responses import BaseResponse
from moto.core.utils import camelcase_to_underscores

from smbundle.local import apply_extensions, boto_sessions

# The services the product and its tooling use, by botocore name -> moto package.
SERVICES = {
    "application-autoscaling": "applicationautoscaling",
    "cloudformation": "cloudformation",
    "cloudwatch": "cloudwatch",
    "codebuild": "codebuild",
    "codecommit": "codecommit",
    "codeconnections": "codeconnections",
    "codepipeline": "codepipeline",
    "codestar-connections": "codeconnections",
    "events": "events",
    "iam": "iam",
    "kms": "kms",
    "logs": "logs",
    "s3": "s3",
    "sagemaker": "sagemaker",
    "sagemaker-runtime": "sagemakerruntime",
    "servicecatalog": "servicecatalog",
    "sns": "sns",
    "sts": "sts",
}

# moto serves S3 by HTTP method and URL; these are the operations the product, the lifecycle and our tests use.
S3_SERVED = (
    "CopyObject",
    "CreateBucket",
    "DeleteBucket",
    "DeleteBucketPolicy",
    "DeleteObject",
    "DeleteObjects",
    "GetBucketEncryption",
    "GetBucketLocation",
    "GetBucketPolicy",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetObject",
    "GetObjectTagging",
    "HeadBucket",
    "HeadObject",
    "ListBuckets",
    "ListObjectVersions",
    "ListObjects",
    "ListObjectsV2",
    "PutBucketEncryption",
    "PutBucketPolicy",
    "PutBucketTagging",
    "PutBucketVersioning",
    "PutObject",
    "PutObjectTagging",
    "PutPublicAccessBlock",
)


class UnknownService(ValueError):
    pass


def _handler_names(moto_package: str) -> set[str]:
    try:
        module = importlib.import_module(f"moto.{moto_package}.responses")
    except ModuleNotFoundError:
        module = None
    names: set[str] = set()
    classes = [
        c
        for c in (vars(module).values() if module else [])
        if inspect.isclass(c) and issubclass(c, BaseResponse) and c is not BaseResponse
    ]
    for extension in _extension_response_classes(moto_package):
        classes.append(extension)
    for cls in classes:
        names.update(n for n in dir(cls) if not n.startswith("_"))
    return names


def _extension_response_classes(moto_package: str) -> list[type]:
    """Response classes our extensions define for services moto lacks (``smbundle/local/<service>/responses.py``)."""
    try:
        module = importlib.import_module(f"smbundle.local.{moto_package}.responses")
    except ModuleNotFoundError:
        return []
    return [
        c
        for c in vars(module).values()
        if inspect.isclass(c) and issubclass(c, BaseResponse) and c.__module__ == module.__name__
    ]


def served_operations(service: str) -> list[str]:
    """The operations of ``service`` (botocore's name) the embedded AWS answers, sorted."""
    if service not in SERVICES:
        raise UnknownService(
            f"service {service!r} is not one the product uses; choose one of {', '.join(sorted(SERVICES))}"
        )
    apply_extensions()
    if service == "s3":
        return sorted(S3_SERVED)
    model = boto_sessions.session("us-east-1")._session.get_service_model(service)
    handlers = _handler_names(SERVICES[service])
    return sorted(op for op in model.operation_names if camelcase_to_underscores(op) in handlers)
