"""What CloudFormation calls, as the stack's principal, to create, update or delete each resource type we use.

The resource handlers' permission lists in the CloudFormation registry schemas (``handlers.create.permissions``)
are unions of everything a handler might call. CloudFormation calls only what the properties in use require: a
bucket without ``VersioningConfiguration`` never calls ``s3:PutBucketVersioning``. This table says, per resource
type the product template and the deploy seed's endpoint template use, which IAM actions each operation and
each property cause, which roles a resource passes (``iam:PassRole`` with ``iam:PassedToService``), which
connections it passes, which objects it reads, and the action that tags it on create.

Reviewed against the managed SageMaker project roles and AWS's own published project templates (which deploy
under the launch role with buckets that set only a name, CodeCommit repositories seeded from ``sagemaker-*``
buckets, CodeBuild projects, CodePipelines and EventBridge rules with project roles). Read-after-write calls of
the handlers (``Describe*``/``Get*``) are not listed: the managed launch policy grants few of them, and AWS's
templates deploy anyway.

Both the embedded AWS (which authorizes each call before it creates the resource) and the publisher's
preflight (which asks ``iam:SimulatePrincipalPolicy`` about the same calls in the real account) use this table.

A type outside the table gets the registry schema's handler permissions (as cfn-lint ships the schemas): the create
handler's for a creation, the update handler's for an update, the delete handler's for a deletion, every one of
them, in the schema's order, each call marked with the handler it comes from (``Call.handler``). That is an
over-approximation (the union of everything the handler might call, read-after-write calls included), so the
preflight says so, and treats those calls' denials as warnings. Each call's resource is the resource's own ARN
when the action is authorized against the type's resource (IAM's action data, ``Policies.json``), else ``*``.
A type neither the table nor the schemas give permissions for raises :class:`UnknownResourceType`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smbundle import cfnlint_data

CREATE, UPDATE, DELETE = "create", "update", "delete"


@dataclass(frozen=True)
class Call:
    """One authorization CloudFormation needs: ``action`` on ``resource``, and why (``cause``)."""

    action: str
    resource: str
    cause: str
    context: dict = field(default_factory=dict)
    # the registry schema's handler (create, update, delete) the call comes from, for a type outside the table:
    # an over-approximation, AWS may not make the call
    handler: str | None = None


@dataclass(frozen=True)
class Where:
    region: str
    account: str
    partition: str = "aws"


ArnOf = Callable[[str, dict, Where], str]


@dataclass(frozen=True)
class ResourceType:
    arn: ArnOf
    create: tuple[str, ...]
    update: tuple[str, ...]
    delete: tuple[str, ...]
    properties: dict[str, tuple[str, ...]] = field(default_factory=dict)  # property -> actions when it is set
    # property -> actions when an update changes it, where they differ from the create-time ones (an empty tuple:
    # CloudFormation calls nothing, e.g. a repository's Code, used only at creation)
    update_properties: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tagging: str | None = None  # the action that applies Tags on create/update
    untagging: str | None = None  # the action that removes tag keys an update drops
    passed_roles: dict[str, str] = field(default_factory=dict)  # property path -> service the role goes to
    # calls on other resources (objects read, connections passed...), given the operation
    extra: Callable[[str, dict, Where, str], list[Call]] | None = None


def _sagemaker(kind: str) -> ArnOf:
    return lambda name, props, at: (
        f"arn:{at.partition}:sagemaker:{at.region}:{at.account}:{kind}/{name.lower()}"
    )


def _regional(service: str, prefix: str = "") -> ArnOf:
    return lambda name, props, at: f"arn:{at.partition}:{service}:{at.region}:{at.account}:{prefix}{name}"


def _bucket(name: str, props: dict, at: Where) -> str:
    return f"arn:{at.partition}:s3:::{name}"


def _policy_bucket(name: str, props: dict, at: Where) -> str:
    return f"arn:{at.partition}:s3:::{props.get('Bucket', name)}"


def _seed_object(name: str, props: dict, at: Where, operation: str) -> list[Call]:
    s3 = (props.get("Code") or {}).get("S3") or {}
    if operation != CREATE or not s3.get("Bucket"):  # the seed code is read at creation only
        return []
    return [Call("s3:GetObject", f"arn:{at.partition}:s3:::{s3['Bucket']}/{s3['Key']}", "Code.S3")]


def _connections(name: str, props: dict, at: Where, operation: str) -> list[Call]:
    calls = []
    for stage in props.get("Stages") or []:
        for action in stage.get("Actions") or []:
            arn = (action.get("Configuration") or {}).get("ConnectionArn")
            if arn:
                service = arn.split(":")[2]
                calls.append(
                    Call(
                        f"{service}:PassConnection",
                        arn,
                        f"Stages/{stage.get('Name')}/{action.get('Name')}",
                        {f"{service}:PassedToService": "codepipeline.amazonaws.com"},
                    )
                )
    return calls


def _endpoint_config(name: str, props: dict, at: Where, operation: str) -> list[Call]:
    config = props.get("EndpointConfigName")
    if not config:
        return []
    arn = f"arn:{at.partition}:sagemaker:{at.region}:{at.account}:endpoint-config/{str(config).lower()}"
    action = "sagemaker:CreateEndpoint" if operation == CREATE else "sagemaker:UpdateEndpoint"
    return [Call(action, arn, "EndpointConfigName")]


def _scalable_target(name: str, props: dict, at: Where) -> str:
    """A scalable target's ARN ends with an id Application Auto Scaling generates when it registers it, so no policy
    can name one beforehand: the calls are on every scalable target of the account and Region."""
    return f"arn:{at.partition}:application-autoscaling:{at.region}:{at.account}:scalable-target/*"


def _scaled_resource(props: dict) -> str:
    """``endpoint/<name>/variant/<variant>`` of a scalable target, or of a scaling policy whose ``ScalingTargetId``
    is the target's ``Ref`` (``<resource id>|<dimension>|<namespace>`` on AWS); "" when unknown."""
    if props.get("ResourceId"):
        return str(props["ResourceId"])
    target = str(props.get("ScalingTargetId") or "")
    return target.split("|")[0] if "|" in target else ""


def _sagemaker_variant_calls(name: str, props: dict, at: Where, operation: str) -> list[Call]:
    """What registering a SageMaker variant asks of the caller: reading and resizing the endpoint, and creating the
    service-linked role Application Auto Scaling uses for SageMaker on the first registration in the account
    (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-prerequisites.html,
    https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html)."""
    resource = _scaled_resource(props)
    if props.get("ServiceNamespace") != "sagemaker":
        return []
    parts = resource.split("/")
    endpoint = parts[1] if len(parts) >= 2 and parts[0] == "endpoint" else "*"
    arn = f"arn:{at.partition}:sagemaker:{at.region}:{at.account}:endpoint/{endpoint.lower()}"
    service = "sagemaker.application-autoscaling.amazonaws.com"
    return [
        Call("sagemaker:DescribeEndpoint", arn, "ResourceId"),
        Call(
            "sagemaker:DescribeEndpointConfig",
            f"arn:{at.partition}:sagemaker:{at.region}:{at.account}:endpoint-config/*",
            "ResourceId",
        ),
        Call("sagemaker:UpdateEndpointWeightsAndCapacities", arn, "ResourceId"),
        Call(
            "iam:CreateServiceLinkedRole",
            f"arn:{at.partition}:iam::{at.account}:role/aws-service-role/{service}/"
            "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
            "ResourceId",
            {"iam:AWSServiceName": service},
        ),
    ]


def _target_tracking_alarms(name: str, props: dict, at: Where, operation: str) -> list[Call]:
    """A target-tracking policy's alarms, which Application Auto Scaling creates and replaces with the caller's
    CloudWatch permissions; their names start ``TargetTracking-<resource id>-``
    (https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking.html)."""
    if props.get("PolicyType") != "TargetTrackingScaling":
        return []
    resource = _scaled_resource(props)
    prefix = f"TargetTracking-{resource}-" if resource else "TargetTracking-"
    alarms = f"arn:{at.partition}:cloudwatch:{at.region}:{at.account}:alarm:{prefix}*"
    cause = "TargetTrackingScalingPolicyConfiguration"
    return [
        Call("cloudwatch:PutMetricAlarm", alarms, cause),
        Call("cloudwatch:DescribeAlarms", alarms, cause),
        Call("cloudwatch:DeleteAlarms", alarms, cause),
    ]


def _alarm_system_tags(name: str, props: dict, at: Where, operation: str) -> list[Call]:
    """CloudFormation tags every alarm it creates with its aws:cloudformation:* system tags
    (the registry schema's ``tagging.cloudFormationSystemTags``), which takes cloudwatch:TagResource."""
    if operation != CREATE:
        return []
    return [Call("cloudwatch:TagResource", _regional("cloudwatch", "alarm:")(name, props, at), "system tags")]


RESOURCE_TYPES: dict[str, ResourceType] = {
    "AWS::S3::Bucket": ResourceType(
        arn=_bucket,
        create=("s3:CreateBucket",),
        update=(),
        delete=("s3:DeleteBucket",),
        properties={
            "AccelerateConfiguration": ("s3:PutAccelerateConfiguration",),
            "AccessControl": ("s3:PutBucketAcl",),
            "BucketEncryption": ("s3:PutEncryptionConfiguration",),
            "CorsConfiguration": ("s3:PutBucketCORS",),
            "LifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
            "LoggingConfiguration": ("s3:PutBucketLogging",),
            "NotificationConfiguration": ("s3:PutBucketNotification",),
            "ObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration",),
            "OwnershipControls": ("s3:PutBucketOwnershipControls",),
            "PublicAccessBlockConfiguration": ("s3:PutBucketPublicAccessBlock",),
            "ReplicationConfiguration": ("s3:PutReplicationConfiguration",),
            "VersioningConfiguration": ("s3:PutBucketVersioning",),
            "WebsiteConfiguration": ("s3:PutBucketWebsite",),
        },
        tagging="s3:PutBucketTagging",
    ),
    "AWS::S3::BucketPolicy": ResourceType(
        arn=_policy_bucket,
        create=("s3:PutBucketPolicy",),
        update=("s3:PutBucketPolicy",),
        delete=("s3:DeleteBucketPolicy",),
    ),
    "AWS::CodeCommit::Repository": ResourceType(
        arn=_regional("codecommit"),
        create=("codecommit:CreateRepository",),
        update=(),
        delete=("codecommit:DeleteRepository",),
        properties={"Code": ("codecommit:CreateCommit",)},
        update_properties={
            "Code": (),
            "RepositoryName": ("codecommit:UpdateRepositoryName",),
            "RepositoryDescription": ("codecommit:UpdateRepositoryDescription",),
            "KmsKeyId": ("codecommit:UpdateRepositoryEncryptionKey",),
            "Triggers": ("codecommit:PutRepositoryTriggers",),
        },
        tagging="codecommit:TagResource",
        untagging="codecommit:UntagResource",
        extra=_seed_object,
    ),
    "AWS::CodeBuild::Project": ResourceType(
        arn=_regional("codebuild", "project/"),
        create=("codebuild:CreateProject",),
        update=("codebuild:UpdateProject",),
        delete=("codebuild:DeleteProject",),
        passed_roles={"ServiceRole": "codebuild.amazonaws.com"},
    ),
    "AWS::CodePipeline::Pipeline": ResourceType(
        arn=_regional("codepipeline"),
        create=("codepipeline:CreatePipeline",),
        update=("codepipeline:UpdatePipeline",),
        delete=("codepipeline:DeletePipeline",),
        tagging="codepipeline:TagResource",
        untagging="codepipeline:UntagResource",
        passed_roles={"RoleArn": "codepipeline.amazonaws.com"},
        extra=_connections,
    ),
    # What CloudFormation's Lambda handler calls for the properties set (its registry schema lists every call any
    # property may need, e.g. lambda:PutFunctionConcurrency, made only for ReservedConcurrentExecutions).
    "AWS::Lambda::Function": ResourceType(
        arn=_regional("lambda", "function:"),
        create=("lambda:CreateFunction", "lambda:GetFunction"),
        update=("lambda:UpdateFunctionConfiguration", "lambda:GetFunction"),
        delete=("lambda:DeleteFunction",),
        properties={
            "ReservedConcurrentExecutions": ("lambda:PutFunctionConcurrency",),
            "CodeSigningConfigArn": ("lambda:PutFunctionCodeSigningConfig",),
        },
        update_properties={"Code": ("lambda:UpdateFunctionCode",)},
        tagging="lambda:TagResource",
        untagging="lambda:UntagResource",
        passed_roles={"Role": "lambda.amazonaws.com"},
    ),
    "AWS::Events::Rule": ResourceType(
        arn=_regional("events", "rule/"),
        create=("events:PutRule",),
        update=("events:PutRule",),
        delete=("events:RemoveTargets", "events:DeleteRule"),
        properties={"Targets": ("events:PutTargets",)},
        tagging="events:TagResource",
        untagging="events:UntagResource",
        passed_roles={"Targets[].RoleArn": "events.amazonaws.com"},
    ),
    "AWS::SNS::Topic": ResourceType(
        arn=_regional("sns"),
        create=("sns:CreateTopic",),
        update=("sns:SetTopicAttributes",),
        delete=("sns:DeleteTopic",),
        properties={"Subscription": ("sns:Subscribe",)},
        tagging="sns:TagResource",
        untagging="sns:UntagResource",
    ),
    "AWS::SageMaker::ModelPackageGroup": ResourceType(
        arn=_sagemaker("model-package-group"),
        create=("sagemaker:CreateModelPackageGroup",),
        update=(),
        delete=("sagemaker:DeleteModelPackageGroup",),
        tagging="sagemaker:AddTags",
    ),
    "AWS::SageMaker::Model": ResourceType(
        arn=_sagemaker("model"),
        create=("sagemaker:CreateModel",),
        update=(),
        delete=("sagemaker:DeleteModel",),
        tagging="sagemaker:AddTags",
        passed_roles={"ExecutionRoleArn": "sagemaker.amazonaws.com"},
    ),
    "AWS::SageMaker::EndpointConfig": ResourceType(
        arn=_sagemaker("endpoint-config"),
        create=("sagemaker:CreateEndpointConfig",),
        update=(),
        delete=("sagemaker:DeleteEndpointConfig",),
        tagging="sagemaker:AddTags",
    ),
    # Model Monitor on prod (the deploy seed's endpoint template). Every property of a job definition is
    # create-only (a change replaces it); the schedule updates in place, and passes a role only for an inline job.
    "AWS::SageMaker::DataQualityJobDefinition": ResourceType(
        arn=_sagemaker("data-quality-job-definition"),
        create=("sagemaker:CreateDataQualityJobDefinition",),
        update=(),
        delete=("sagemaker:DeleteDataQualityJobDefinition",),
        tagging="sagemaker:AddTags",
        passed_roles={"RoleArn": "sagemaker.amazonaws.com"},
    ),
    "AWS::SageMaker::MonitoringSchedule": ResourceType(
        arn=_sagemaker("monitoring-schedule"),
        create=("sagemaker:CreateMonitoringSchedule",),
        update=("sagemaker:UpdateMonitoringSchedule",),
        delete=("sagemaker:DeleteMonitoringSchedule",),
        tagging="sagemaker:AddTags",
        passed_roles={"MonitoringScheduleConfig.MonitoringJobDefinition.RoleArn": "sagemaker.amazonaws.com"},
    ),
    # Prod autoscaling and rollback alarms (the deploy seed's endpoint template, prod only). The managed
    # CloudFormation role has no application-autoscaling: or cloudwatch: action, so under the managed roles the
    # product refuses them (service_catalog/product.yaml's Rules).
    "AWS::ApplicationAutoScaling::ScalableTarget": ResourceType(
        arn=_scalable_target,
        create=("application-autoscaling:RegisterScalableTarget",),
        update=("application-autoscaling:RegisterScalableTarget",),
        delete=("application-autoscaling:DeregisterScalableTarget",),
        tagging="application-autoscaling:TagResource",
        untagging="application-autoscaling:UntagResource",
        passed_roles={"RoleARN": "application-autoscaling.amazonaws.com"},
        extra=_sagemaker_variant_calls,
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": ResourceType(
        arn=_scalable_target,  # IAM authorizes the policy calls against the scalable target
        create=("application-autoscaling:PutScalingPolicy",),
        update=("application-autoscaling:PutScalingPolicy",),
        delete=("application-autoscaling:DeleteScalingPolicy",),
        extra=_target_tracking_alarms,
    ),
    "AWS::CloudWatch::Alarm": ResourceType(
        arn=_regional("cloudwatch", "alarm:"),
        create=("cloudwatch:PutMetricAlarm",),
        update=("cloudwatch:PutMetricAlarm",),
        delete=("cloudwatch:DeleteAlarms",),
        tagging="cloudwatch:TagResource",
        untagging="cloudwatch:UntagResource",
        extra=_alarm_system_tags,
    ),
    # DeploymentConfig (blue/green, auto-rollback alarms), RetainAllVariantProperties and
    # ExcludeRetainedVariantProperties are arguments of CreateEndpoint/UpdateEndpoint, no further call as the stack's
    # role; SageMaker reads the rollback alarms as the model's execution role (cloudwatch:DescribeAlarms,
    # https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html).
    "AWS::SageMaker::Endpoint": ResourceType(
        arn=_sagemaker("endpoint"),
        create=("sagemaker:CreateEndpoint",),
        update=("sagemaker:UpdateEndpoint",),
        delete=("sagemaker:DeleteEndpoint",),
        tagging="sagemaker:AddTags",
        extra=_endpoint_config,
    ),
}


class UnknownResourceType(Exception):
    """Neither the table nor the CloudFormation registry schemas say what creating a resource type calls."""


OVER_APPROXIMATION = "an over-approximation: AWS may need fewer"
_SCHEMAS_SOURCE = "as cfn-lint ships them"


@functools.cache
def _providers(region: str) -> dict[str, str]:
    """Resource type -> schema file id, in one Region's registry ({} for a Region cfn-lint has no schemas of)."""
    path = cfnlint_data.data_directory() / "schemas" / "providers" / f"{region}.json"
    if not path.is_file():
        return {}
    return {k: v for k, v in json.loads(path.read_text()).items() if isinstance(v, str)}


@functools.cache
def _schema_ids() -> dict[str, str]:
    """Resource type -> schema file id, over every Region's registry (us-east-1 first)."""
    found: dict[str, str] = {}
    providers = cfnlint_data.data_directory() / "schemas" / "providers"
    regions = ["us-east-1"] + sorted(p.stem for p in providers.glob("*.json") if p.stem != "us-east-1")
    for region in regions:
        for kind, schema_id in _providers(region).items():
            found.setdefault(kind, schema_id)
    return found


@functools.cache
def registry_schema(resource_type: str, region: str = "us-east-1") -> dict | None:
    """The CloudFormation registry schema of ``resource_type`` (the Region's, else any Region's); None when no
    Region's registry has the type."""
    schema_id = _providers(region).get(resource_type) or _schema_ids().get(resource_type)
    if schema_id is None:
        return None
    path = cfnlint_data.data_directory() / "schemas" / "resources" / f"{schema_id}.json"
    return json.loads(path.read_text())


def handler_permissions(resource_type: str, operation: str, region: str = "us-east-1") -> list[str] | None:
    """The registry schema's ``operation`` handler permissions; None when the schema lists no handlers at all.

    Raises :class:`UnknownResourceType` for a type no Region's registry has."""
    schema = registry_schema(resource_type, region)
    if schema is None:
        hint = ": check its spelling" if resource_type.startswith("AWS::") else ""
        raise UnknownResourceType(
            f"no permissions known for {resource_type}: smbundle/resource_permissions.py has no entry for it and "
            f"no Region's CloudFormation registry schema ({_SCHEMAS_SOURCE}) has the type{hint}"
        )
    handlers = schema.get("handlers") or {}
    if not any((h or {}).get("permissions") for h in handlers.values()):
        return None
    return list((handlers.get(operation) or {}).get("permissions") or [])


def over_approximation_note(resource_type: str, handlers: list[str]) -> str:
    """What the preflight says about a type whose permissions come from its registry schema."""
    names = sorted(set(handlers), key=(CREATE, UPDATE, DELETE).index)
    which = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    plural = "handler" if len(names) == 1 else "handlers"
    return f"{resource_type}: permissions from the CloudFormation registry schema's {which} {plural} ({OVER_APPROXIMATION})"


def _own_resource(resource_type: str, where: Where) -> tuple[str, str | None]:
    """(IAM service prefix, IAM resource type) of the type's own resource.

    The service is the type's namespace when IAM knows it (AWS::SQS::Queue: sqs), else the service of the create
    handler's first permission; the resource type is what the first of the create handler's calls in that service
    that IAM authorizes against a resource acts on (sqs:CreateQueue: queue), None when there is none."""
    from smbundle.local.iam import actions  # IAM's action data (a file cfn-lint ships); no moto involved

    create = handler_permissions(resource_type, CREATE, where.region) or []
    namespace = resource_type.split("::")[1].lower() if resource_type.count("::") == 2 else ""
    service = (
        namespace if actions.is_service(namespace) else (create[0].split(":")[0].lower() if create else "")
    )
    for action in create:
        if action.split(":")[0].lower() != service:
            continue
        try:
            kinds = actions.resource_types(action)
        except actions.UnknownAction:
            continue
        if kinds:
            return service, kinds[0]
    return service, None


def _schema_arn(resource_type: str, name: str, where: Where) -> str:
    from smbundle.local.iam import actions

    service, kind = _own_resource(resource_type, where)
    if kind is None:
        raise UnknownResourceType(
            f"no ARN known for {resource_type}: IAM's action data has none for its handlers"
        )
    return actions.arn_prefix(service, kind, where.region, where.account, where.partition) + name


def _schema_calls(resource_type: str, operation: str, name: str, where: Where) -> list[Call]:
    """The registry schema's ``operation`` handler permissions as calls, marked as coming from it: on the
    resource's own ARN when IAM authorizes the action against the type's own resource, else on ``*``."""
    from smbundle.local.iam import actions

    permissions = handler_permissions(resource_type, operation, where.region)
    if permissions is None:
        raise UnknownResourceType(
            f"no permissions known for {resource_type}: smbundle/resource_permissions.py has no entry for it and "
            "its CloudFormation registry schema lists no handler permissions"
        )
    service, kind = _own_resource(resource_type, where)
    arn = _schema_arn(resource_type, name, where) if kind else "*"
    calls = []
    for action in dict.fromkeys(permissions):
        try:
            own = action.split(":")[0].lower() == service and kind in actions.resource_types(action)
        except actions.UnknownAction:
            own = False
        calls.append(
            Call(action, arn if own else "*", f"registry schema {operation} handler", handler=operation)
        )
    return calls


def arn_of(resource_type: str, name: str, properties: dict, where: Where) -> str:
    """A resource's ARN: the table's, else IAM's ARN format for the type's own resource."""
    spec = RESOURCE_TYPES.get(resource_type)
    if spec is not None:
        return spec.arn(name, properties, where)
    return _schema_arn(resource_type, name, where)


def _values_at(properties: Any, path: str) -> list[Any]:
    current = [properties]
    for part in path.split("."):
        walk = part.endswith("[]")
        key = part[:-2] if walk else part
        following = []
        for item in current:
            if isinstance(item, dict) and item.get(key) not in (None, ""):
                value = item[key]
                following.extend(value if walk and isinstance(value, list) else [value])
        current = following
    return current


def _tags(properties: dict) -> dict[str, str] | None:
    tags = properties.get("Tags")
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    if isinstance(tags, list):
        return {str(t.get("Key")): str(t.get("Value", "")) for t in tags if isinstance(t, dict)}
    return None


def resource_calls(
    resource_type: str,
    operation: str,
    name: str,
    properties: dict,
    where: Where,
    old_properties: dict | None = None,
) -> list[Call]:
    """The authorizations ``operation`` (create, update, delete) of one resource needs, in call order.

    For a type outside the table, the registry schema's handler permissions (calls marked with ``handler``)."""
    spec = RESOURCE_TYPES.get(resource_type)
    if spec is None:
        return _schema_calls(resource_type, operation, name, where)
    arn = spec.arn(name, properties, where)
    if operation == DELETE:
        return [Call(action, arn, "delete") for action in spec.delete]
    changed = set(properties)
    if operation == UPDATE and old_properties is not None:
        keys = set(properties) | set(old_properties)
        changed = {k for k in keys if properties.get(k) != old_properties.get(k)}
    base = spec.create if operation == CREATE else spec.update
    calls = [Call(action, arn, operation) for action in base]
    property_actions = (
        spec.properties if operation == CREATE else {**spec.properties, **spec.update_properties}
    )
    for prop, prop_actions in property_actions.items():
        if prop in changed and (prop in properties or operation == UPDATE):
            calls.extend(Call(action, arn, prop) for action in prop_actions)
    tags = _tags(properties)
    if spec.tagging and tags and "Tags" in changed:
        context = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
        context["aws:TagKeys"] = sorted(tags)
        if spec.tagging == "sagemaker:AddTags" and operation == CREATE:
            # SageMaker tells which create tags the resource (sagemaker:TaggingAction), as for an API call
            creating = [action for action in base if action.startswith("sagemaker:Create")]
            if creating:
                context["sagemaker:TaggingAction"] = creating[0].split(":", 1)[1]
        calls.append(Call(spec.tagging, arn, "Tags", context))
    dropped = sorted(set(_tags(old_properties or {}) or {}) - set(tags or {})) if operation == UPDATE else []
    if spec.untagging and dropped:
        calls.append(Call(spec.untagging, arn, "Tags", {"aws:TagKeys": dropped}))
    for path, service in spec.passed_roles.items():
        if operation == CREATE or path.split(".")[0].rstrip("[]") in changed:
            for role_arn in _values_at(properties, path):
                calls.append(Call("iam:PassRole", str(role_arn), path, {"iam:PassedToService": service}))
    if spec.extra is not None:
        for call in spec.extra(name, properties, where, operation):
            if operation == CREATE or call.cause.split(".")[0].split("/")[0] in changed:
                calls.append(call)
    return calls


@functools.cache
def create_only_properties(resource_type: str) -> frozenset[str]:
    """Top-level properties whose change replaces the resource (the registry schema's createOnlyProperties)."""
    schema = registry_schema(resource_type)
    if schema is None:
        return frozenset()
    return frozenset(
        path.split("/")[2]
        for path in schema.get("createOnlyProperties") or []
        if path.startswith("/properties/")
    )


def replaced_by(resource_type: str, old_properties: dict, new_properties: dict) -> list[str]:
    """The create-only properties whose change makes an update replace the resource."""
    keys = set(old_properties) | set(new_properties)
    return sorted(
        k
        for k in keys & create_only_properties(resource_type)
        if old_properties.get(k) != new_properties.get(k)
    )
