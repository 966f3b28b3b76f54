"""What an API request must be authorized for: its action on each resource it names, and the roles it passes.

IAM's action data (:mod:`actions`) says which resource types an action is checked against and how their ARNs
start; this module says, per service, which request parameter names the resource (``EndpointName``,
``repositoryName``, ``Bucket``/``Key``...). A request whose resource cannot be told raises
:class:`CannotResolve`: the embedded IAM then denies it and says so, rather than letting it through unchecked.

Besides the action itself, some requests pass a role to a service (``iam:PassRole`` with
``iam:PassedToService``) and some carry tags (``aws:RequestTag/*``, ``aws:TagKeys``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from smbundle.local.iam import actions


class CannotResolve(Exception):
    """The embedded IAM cannot tell which resource a request acts on."""


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: dict = field(default_factory=dict)


# (service prefix, operation) -> [(parameter path, service the role is passed to)]; "[]" walks a list.
PASSED_ROLES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("sagemaker", "CreatePipeline"): [("RoleArn", "sagemaker.amazonaws.com")],
    ("sagemaker", "UpdatePipeline"): [("RoleArn", "sagemaker.amazonaws.com")],
    ("sagemaker", "CreateModel"): [("ExecutionRoleArn", "sagemaker.amazonaws.com")],
    ("sagemaker", "CreateTrainingJob"): [("RoleArn", "sagemaker.amazonaws.com")],
    ("sagemaker", "CreateProcessingJob"): [("RoleArn", "sagemaker.amazonaws.com")],
    ("sagemaker", "CreateDataQualityJobDefinition"): [("RoleArn", "sagemaker.amazonaws.com")],
    ("sagemaker", "CreateMonitoringSchedule"): [
        ("MonitoringScheduleConfig.MonitoringJobDefinition.RoleArn", "sagemaker.amazonaws.com")
    ],
    ("cloudformation", "CreateStack"): [("RoleARN", "cloudformation.amazonaws.com")],
    ("cloudformation", "UpdateStack"): [("RoleARN", "cloudformation.amazonaws.com")],
    ("cloudformation", "DeleteStack"): [("RoleARN", "cloudformation.amazonaws.com")],
    ("cloudformation", "CreateChangeSet"): [("RoleARN", "cloudformation.amazonaws.com")],
    ("codepipeline", "CreatePipeline"): [("pipeline.roleArn", "codepipeline.amazonaws.com")],
    ("codepipeline", "UpdatePipeline"): [("pipeline.roleArn", "codepipeline.amazonaws.com")],
    ("codebuild", "CreateProject"): [("serviceRole", "codebuild.amazonaws.com")],
    ("codebuild", "UpdateProject"): [("serviceRole", "codebuild.amazonaws.com")],
    ("events", "PutTargets"): [("Targets[].RoleArn", "events.amazonaws.com")],
}

# Creating a resource with tags is also authorized as tagging it (tag-on-create), where AWS documents it.
TAG_ON_CREATE = {
    ("cloudformation", "CreateStack"): "cloudformation:TagResource",
    ("cloudformation", "UpdateStack"): "cloudformation:TagResource",
}

# moto's S3 operation names that are not IAM action names -> the IAM action S3 authorizes them as.
S3_ACTION_NAMES = {
    "CompleteMultipartUpload": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "CopyObject": "PutObject",
    "UploadPartCopy": "PutObject",
    "DeleteObjects": "DeleteObject",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "GetBucketInventoryConfiguration": "GetInventoryConfiguration",
    "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "GetBucketReplication": "GetReplicationConfiguration",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "HeadBucket": "ListBucket",
    "ListBuckets": "ListAllMyBuckets",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListObjectVersions": "ListBucketVersions",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListParts": "ListMultipartUploadParts",
    "SelectObject": "GetObject",
    "SelectObjectContent": "GetObject",
}


def values_at(params: Any, path: str) -> list[Any]:
    """Values at a dotted path; ``name[]`` walks every element of a list."""
    current = [params]
    for part in path.split("."):
        walk = part.endswith("[]")
        key = part[:-2] if walk else part
        following = []
        for item in current:
            if not isinstance(item, dict) or item.get(key) is None:
                continue
            value = item[key]
            if walk:
                following.extend(value if isinstance(value, list) else [value])
            else:
                following.append(value)
        current = following
    return [v for v in current if v not in (None, "")]


# -- resource paths per service ------------------------------------------------------------------------------
def _pascal(resource_type: str) -> str:
    return "".join(part.capitalize() for part in resource_type.split("-"))


def _arn_of_type(value: str, service: str, resource_type: str) -> bool:
    if not value.startswith("arn:"):
        return False
    parts = value.split(":", 5)
    return len(parts) == 6 and parts[2] == service and parts[5].startswith(f"{resource_type}/")


def _sagemaker(resource_type: str, operation: str, params: dict) -> list[str]:
    group = params.get("ModelPackageGroupName")
    if resource_type == "model-package" and operation in ("ListModelPackages", "CreateModelPackage"):
        if group:
            name = group.rsplit("/", 1)[-1] if str(group).startswith("arn:") else group
            return [f"{name.lower()}/*"]
        if operation == "ListModelPackages":
            return ["*"]
    if "ResourceArn" in params:  # AddTags, ListTags, DeleteTags
        arn = params["ResourceArn"]
        return [arn] if _arn_of_type(arn, "sagemaker", resource_type) else []
    if resource_type == "pipeline-execution":
        return [params["PipelineExecutionArn"]] if params.get("PipelineExecutionArn") else []
    if resource_type == "model-package":
        value = params.get("ModelPackageName") or params.get("ModelPackageArn")
        if value:
            return [value] if str(value).startswith("arn:") else [str(value).lower()]
    for key in (f"{_pascal(resource_type)}Name", f"{_pascal(resource_type)}Arn"):
        value = params.get(key)
        if value:
            return [value] if str(value).startswith("arn:") else [str(value).lower()]
    return []


def _s3(resource_type: str, operation: str, params: dict) -> list[str]:
    bucket, key = params.get("Bucket"), params.get("Key")
    if resource_type == "bucket" and bucket:
        return [bucket]
    if resource_type == "object" and bucket and key is not None:
        return [f"{bucket}/{key}"]
    return []


def _codecommit(resource_type: str, operation: str, params: dict) -> list[str]:
    return [params["repositoryName"]] if params.get("repositoryName") else []


def _codebuild(resource_type: str, operation: str, params: dict) -> list[str]:
    if resource_type == "project":
        names = params.get("names") or [params.get("projectName") or params.get("name")]
        names += [build_id.split(":", 1)[0] for build_id in params.get("ids") or []]
        return [n for n in names if n]
    return []


def _codepipeline(resource_type: str, operation: str, params: dict) -> list[str]:
    name = params.get("pipelineName") or params.get("name") or (params.get("pipeline") or {}).get("name")
    if not name:
        return []
    if resource_type == "pipeline":
        return [name]
    if resource_type == "stage" and params.get("stageName"):
        return [f"{name}/{params['stageName']}"]
    if resource_type == "action" and params.get("stageName") and params.get("actionName"):
        return [f"{name}/{params['stageName']}/{params['actionName']}"]
    return []


def _events(resource_type: str, operation: str, params: dict) -> list[str]:
    name = params.get("Name") or params.get("Rule")
    bus = params.get("EventBusName") or "default"
    if resource_type == "rule-on-default-event-bus" and name and bus == "default":
        return [name]
    if resource_type == "rule-on-custom-event-bus" and name and bus != "default":
        return [f"{bus}/{name}"]
    return []


def _sns(resource_type: str, operation: str, params: dict) -> list[str]:
    arn = params.get("TopicArn") or params.get("ResourceArn")
    return [arn] if arn else ([params["Name"]] if params.get("Name") else [])


def _sts(resource_type: str, operation: str, params: dict) -> list[str]:
    return [params["RoleArn"]] if params.get("RoleArn") else []


def _cloudwatch(resource_type: str, operation: str, params: dict) -> list[str]:
    if resource_type == "alarm":
        names = [params.get("AlarmName"), *(params.get("AlarmNames") or [])]
        return [name for name in names if name]
    if resource_type == "dataset":
        # Listed for the metric calls in IAM's data but not required by them: a request that names no dataset
        # is authorized against "*", as for every action without a resource type.
        return ["*"]
    return []


def _connections(resource_type: str, operation: str, params: dict) -> list[str]:
    arn = params.get("ConnectionArn") or params.get("ResourceArn")
    if arn:
        return [arn]
    if operation.startswith("List"):
        # ListConnections names no connection: authorized against "*" (a policy must allow it on every resource,
        # never more lenient than AWS).
        return ["*"]
    return []


Resolver = Callable[[str, str, dict], list[str]]
RESOLVERS: dict[str, Resolver] = {
    "sagemaker": _sagemaker,
    "s3": _s3,
    "codecommit": _codecommit,
    "codebuild": _codebuild,
    "codepipeline": _codepipeline,
    "events": _events,
    "sns": _sns,
    "sts": _sts,
    "cloudwatch": _cloudwatch,
    "codeconnections": _connections,
    "codestar-connections": _connections,
}
# Resolvers that need the account's state (stack ids, role paths) are given by the caller.
StatefulResolver = Callable[[str, str, dict, str, str], list[str]]


def resources(
    action: str,
    params: dict,
    *,
    region: str,
    account: str,
    stateful: dict[str, StatefulResolver] | None = None,
) -> list[str]:
    """The resource ARNs ``action`` is authorized against for a request with ``params``."""
    service, _, operation = action.partition(":")
    types = actions.resource_types(action)
    if not types:
        return ["*"]
    resolver = (stateful or {}).get(service)
    found: list[str] = []
    for resource_type in types:
        if resolver is not None:
            paths = resolver(resource_type, operation, params, region, account)
        elif service in RESOLVERS:
            paths = RESOLVERS[service](resource_type, operation, params)
        else:
            raise CannotResolve(f"the embedded IAM cannot tell which resource {action} acts on")
        for path in paths:
            arn = (
                path
                if path.startswith("arn:") or path == "*"
                else actions.arn_prefix(service, resource_type, region, account) + path
            )
            if arn not in found:
                found.append(arn)
    if not found:
        raise CannotResolve(
            f"the embedded IAM cannot tell which resource {action} acts on (resource types {', '.join(types)})"
        )
    return found


# -- request context -----------------------------------------------------------------------------------------
def request_tags(params: dict) -> dict[str, str] | None:
    """Tags a request asks to set, in any of the shapes the APIs use."""
    for key in ("Tags", "tags"):
        value = params.get(key)
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        if isinstance(value, list):
            tags = {}
            for item in value:
                if isinstance(item, dict):
                    name = item.get("Key", item.get("key"))
                    if name is not None:
                        tags[str(name)] = str(item.get("Value", item.get("value", "")))
            return tags
    tagging = params.get("Tagging")
    if isinstance(tagging, str) and tagging:
        return dict(parse_qsl(tagging, keep_blank_values=True))
    return None


def tag_context(tags: dict[str, str] | None) -> dict[str, Any]:
    if tags is None:
        return {}
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context["aws:TagKeys"] = sorted(tags)
    return context


def _created(operation: str, targets: list[str]) -> list[str]:
    """Of a Create* request's resources, the one it creates (CreateEndpoint: the endpoint, not its config)."""
    kind = re.sub(r"(?<!^)(?=[A-Z])", "-", operation[len("Create") :]).lower()
    created = [t for t in targets if t.split(":", 5)[-1].startswith(f"{kind}/")]
    return created or targets


def checks(
    action: str,
    params: dict,
    *,
    region: str,
    account: str,
    stateful: dict[str, StatefulResolver] | None = None,
) -> list[Check]:
    """Every authorization a request needs: the action on each of its resources, then each role it passes."""
    service, _, operation = action.partition(":")
    context = tag_context(request_tags(params))
    if service == "cloudformation" and params.get("RoleARN"):
        context["cloudformation:RoleArn"] = params["RoleARN"]
    if service == "cloudwatch" and params.get("Namespace"):
        context["cloudwatch:namespace"] = params["Namespace"]
    targets = resources(action, params, region=region, account=account, stateful=stateful)
    found = [Check(action, resource, context) for resource in targets]
    tags = request_tags(params)
    if tags and service == "sagemaker" and operation.startswith("Create"):
        # SageMaker authorizes a create with Tags as sagemaker:AddTags too, telling which create it is by the
        # sagemaker:TaggingAction condition key (Service Authorization Reference, Amazon SageMaker AI: AddTags).
        created = _created(operation, targets)
        found += [
            Check("sagemaker:AddTags", r, {**context, "sagemaker:TaggingAction": operation}) for r in created
        ]
    if tags and (service, operation) in TAG_ON_CREATE:
        resource_tags = {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
        found += [
            Check(TAG_ON_CREATE[(service, operation)], r, {**context, **resource_tags}) for r in targets
        ]
    for path, passed_to in PASSED_ROLES.get((service, operation), []):
        for role_arn in values_at(params, path):
            found.append(Check("iam:PassRole", str(role_arn), {"iam:PassedToService": passed_to}))
    return found
