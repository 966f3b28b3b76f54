"""What the embedded IAM reads of the account's resources: their tags, object tags, and ARNs it must look up.

Policies can depend on a resource's tags (``aws:ResourceTag/sagemaker``), on an S3 object's tags
(``s3:ExistingObjectTag/servicecatalog:provisioning``), and some ARNs hold parts a request does not carry (a
stack's id, a role's path). These come from moto's backends, in-process. A resource whose tags cannot be read
has none, so a policy that requires a tag denies: never more lenient than AWS.
"""

from __future__ import annotations

import contextlib

from moto.cloudformation.models import cloudformation_backends
from moto.iam.models import iam_backends
from moto.s3.models import s3_backends
from moto.sagemaker.models import sagemaker_backends

PARTITION = "aws"

# Tags given by ARN, ahead of the resource's own (tests give a connection no backend holds its tags this way).
extra_tags: dict[str, dict[str, str]] = {}


def _tag_dict(tags) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value", ""))) for t in tags or []}


def resource_tags(arn: str, region: str) -> dict[str, str] | None:
    if arn in extra_tags:
        return dict(extra_tags[arn])
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    service, arn_region, account = parts[2], parts[3] or region, parts[4]
    with contextlib.suppress(Exception):
        if service == "sagemaker":
            tags, _ = sagemaker_backends[account][arn_region].list_tags(arn)
            return _tag_dict(tags)
        if service == "cloudformation":
            stack = _stack(account, arn_region, arn)
            return dict(stack.tags) if stack else None
        if service == "s3" and "/" not in parts[5]:
            bucket, backend = _bucket(parts[5])
            return _tag_dict(backend.get_bucket_tagging(bucket.name).get("Tags")) if bucket else None
        reader = _TAG_READERS.get(service)
        if reader is not None:
            return reader(account, arn_region, arn, parts[5])
    return None


def _codebuild_tags(account: str, region: str, arn: str, resource: str) -> dict[str, str] | None:
    from moto.codebuild.models import codebuild_backends

    if not resource.startswith("project/"):
        return None
    project = codebuild_backends[account][region].codebuild_projects.get(resource[len("project/") :])
    return _tag_dict(project.project_metadata.get("tags")) if project else None


def _codepipeline_tags(account: str, region: str, arn: str, resource: str) -> dict[str, str] | None:
    from moto.codepipeline.models import codepipeline_backends

    pipeline = codepipeline_backends[account][region].pipelines.get(resource)
    return _tag_dict(pipeline.tags) if pipeline else None


def _events_tags(account: str, region: str, arn: str, resource: str) -> dict[str, str] | None:
    from moto.events.models import events_backends

    return _tag_dict(events_backends[account][region].tagger.list_tags_for_resource(arn)["Tags"])


def _sns_tags(account: str, region: str, arn: str, resource: str) -> dict[str, str] | None:
    from moto.sns.models import sns_backends

    topic = sns_backends[account][region].topics.get(arn)
    return _tag_dict(topic._tags) if topic else None


def _iam_tags(account: str, region: str, arn: str, resource: str) -> dict[str, str] | None:
    if not resource.startswith("role/"):
        return None
    found = next((r for r in iam_backends[account][PARTITION].roles.values() if r.arn == arn), None)
    return _tag_dict(found.tags) if found else None


def _connection_tags(account: str, region: str, arn: str, resource: str) -> dict[str, str] | None:
    """A connection's tags, as CreateConnection and TagResource set them (either of the service's names)."""
    from smbundle.local.codeconnections.models import connection_tags

    return connection_tags(account, region, arn)


# Services whose resources' tags the embedded IAM reads, besides SageMaker, CloudFormation and S3 (above).
_TAG_READERS = {
    "codebuild": _codebuild_tags,
    "codepipeline": _codepipeline_tags,
    "events": _events_tags,
    "sns": _sns_tags,
    "iam": _iam_tags,
    "codeconnections": _connection_tags,
    "codestar-connections": _connection_tags,
}


def _bucket(name: str):
    """A bucket, wherever its account, and the backend of the account that owns it."""
    for account in list(s3_backends.keys()):
        with contextlib.suppress(Exception):
            bucket = s3_backends[account][PARTITION].get_bucket(name)
            return bucket, s3_backends[bucket.account_id][PARTITION]
    return None, None


def object_tags(arn: str) -> dict[str, str] | None:
    """Tags of the S3 object ``arn:aws:s3:::bucket/key``."""
    if not arn.startswith("arn:aws:s3:::") or "/" not in arn:
        return None
    bucket_name, _, key_name = arn[len("arn:aws:s3:::") :].partition("/")
    bucket, backend = _bucket(bucket_name)
    key = bucket.keys.get(key_name) if bucket else None
    if key is None:
        return None
    return _tag_dict(backend.tagger.list_tags_for_resource(key.arn)["Tags"])


def _stack(account: str, region: str, name_or_arn: str):
    backend = cloudformation_backends[account][region]
    for stack in backend.stacks.values():
        if name_or_arn in (stack.stack_id, stack.name):
            return stack
    return None


def _cloudformation(resource_type: str, operation: str, params: dict, region: str, account: str) -> list[str]:
    if resource_type != "stack":
        return []
    name = params.get("StackName")
    if not name:
        return []
    if name.startswith("arn:"):
        return [name]
    stack = _stack(account, region, name)
    return [stack.stack_id] if stack else [f"{name}/*"]


def _iam(resource_type: str, operation: str, params: dict, region: str, account: str) -> list[str]:
    if resource_type != "role" or not params.get("RoleName"):
        return []
    for found in iam_backends[account][PARTITION].roles.values():
        if found.name == params["RoleName"]:
            return [found.arn]
    return [f"{params['RoleName']}"]


STATEFUL_RESOLVERS = {"cloudformation": _cloudformation, "iam": _iam}
