"""Resolve a CloudFormation template offline, far enough to know each resource's name and properties.

The publisher's permission preflight needs, for given parameter values, which resources a stack will create and
with which properties (names, roles passed, objects read), without creating anything. This handles the intrinsic
functions our templates use: ``Ref`` (parameters, pseudo parameters, resources), ``Fn::Sub``, ``Fn::If`` and the
condition functions, ``Fn::FindInMap``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``; a resource's
physical name is its name property when it has one, else the name CloudFormation would generate
(``<stack>-<LogicalId>-<suffix>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from smbundle import resource_permissions

NO_VALUE = object()

# The property that names a resource, per type (CloudFormation's own naming property).
NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::CodeCommit::Repository": "RepositoryName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
    "AWS::SageMaker::Model": "ModelName",
    "AWS::SageMaker::EndpointConfig": "EndpointConfigName",
    "AWS::SageMaker::Endpoint": "EndpointName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "PolicyName",
    "AWS::SageMaker::DataQualityJobDefinition": "JobDefinitionName",
    "AWS::SageMaker::MonitoringSchedule": "MonitoringScheduleName",
}
# Types whose Ref is their ARN rather than their name.
REF_IS_ARN = {"AWS::SNS::Topic", "AWS::SageMaker::ModelPackageGroup", "AWS::SageMaker::Endpoint"}


class ResolutionError(Exception):
    """The template uses something this resolver does not understand."""


@dataclass
class ResolvedResource:
    logical_id: str
    type: str
    name: str
    properties: dict


class Resolver:
    def __init__(
        self, template: dict, parameters: dict[str, str], *, region: str, account: str, stack_name: str
    ):
        self.template = template
        self.where = resource_permissions.Where(region=region, account=account)
        declared = template.get("Parameters") or {}
        self.parameters = {n: str(parameters.get(n, spec.get("Default", ""))) for n, spec in declared.items()}
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/preflight",
            "AWS::NoValue": NO_VALUE,
        }
        self.stack_name = stack_name
        self._conditions: dict[str, bool] = {}
        self._names: dict[str, str] = {}

    # -- conditions ------------------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value((self.template.get("Conditions") or {})[name]))
        return self._conditions[name]

    def exists(self, logical_id: str) -> bool:
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    # -- resources -------------------------------------------------------------------------------------------
    def name(self, logical_id: str) -> str:
        if logical_id not in self._names:
            resource = self.template["Resources"][logical_id]
            kind = resource["Type"]
            prop = NAME_PROPERTIES.get(kind)
            if prop is None and kind not in resource_permissions.RESOURCE_TYPES:
                prop = kind.split("::")[-1] + "Name"  # CloudFormation's usual naming property (QueueName...)
            given = (resource.get("Properties") or {}).get(prop) if prop else None
            self._names[logical_id] = (
                str(self.value(given)) if given is not None else f"{self.stack_name}-{logical_id}-PREFLIGHT"
            )
        return self._names[logical_id]

    def arn(self, logical_id: str) -> str:
        resource = self.template["Resources"][logical_id]
        try:
            return resource_permissions.arn_of(resource["Type"], self.name(logical_id), {}, self.where)
        except resource_permissions.UnknownResourceType as exc:
            raise ResolutionError(f"no ARN known for {resource['Type']} ({logical_id}): {exc}") from None

    def resources(self) -> list[ResolvedResource]:
        found = []
        for logical_id, resource in (self.template.get("Resources") or {}).items():
            if not self.exists(logical_id):
                continue
            properties = self.value(resource.get("Properties") or {})
            found.append(ResolvedResource(logical_id, resource["Type"], self.name(logical_id), properties))
        return found

    # -- values ----------------------------------------------------------------------------------------------
    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in (self.template.get("Resources") or {}):
            kind = self.template["Resources"][name]["Type"]
            if kind == "AWS::ApplicationAutoScaling::ScalableTarget":
                # <resource id>|<scalable dimension>|<service namespace> (the resource's documented Ref value)
                props = self.value(self.template["Resources"][name].get("Properties") or {})
                return "|".join(
                    str(props.get(k, "")) for k in ("ResourceId", "ScalableDimension", "ServiceNamespace")
                )
            return self.arn(name) if kind in REF_IS_ARN else self.name(name)
        raise ResolutionError(f"Ref to unknown {name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn" or attribute.endswith("Arn"):
            return self.arn(logical_id)
        if attribute in ("Name", *NAME_PROPERTIES.values()):
            return self.name(logical_id)
        return f"{self.name(logical_id)}.{attribute}"

    def sub(self, text: str, variables: dict) -> str:
        def replace(match: re.Match) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(variables[expression])
            if "." in expression and expression.split(".")[0] in (self.template.get("Resources") or {}):
                logical_id, attribute = expression.split(".", 1)
                return self.get_att(logical_id, attribute)
            return str(self.ref(expression))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                return self.function(key, argument)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def function(self, name: str, argument: Any) -> Any:
        if name == "Fn::Sub":
            if isinstance(argument, list):
                return self.sub(argument[0], {k: self.value(v) for k, v in argument[1].items()})
            return self.sub(argument, {})
        if name == "Fn::If":
            condition, if_true, if_false = argument
            return self.value(if_true if self.condition(condition) else if_false)
        if name == "Fn::Equals":
            left, right = (self.value(a) for a in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.value(argument[0])
        if name == "Fn::And":
            return all(self.value(a) for a in argument)
        if name == "Fn::Or":
            return any(self.value(a) for a in argument)
        if name == "Fn::FindInMap":
            mapping, first, second = (self.value(a) for a in argument)
            return self.template["Mappings"][mapping][first][second]
        if name == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.get_att(logical_id, attribute)
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(v) for v in self.value(items))
        if name == "Fn::Select":
            index, items = argument
            return self.value(items)[int(self.value(index))]
        if name == "Fn::Split":
            separator, text = argument
            return str(self.value(text)).split(separator)
        raise ResolutionError(f"{name} is not supported by the offline resolver")


def resolve(template: dict, parameters: dict[str, str], *, region: str, account: str, stack_name: str):
    """The resolver of a template for these parameters (``.resources()``, ``.value()``, ``.condition()``)."""
    return Resolver(template, parameters, region=region, account=account, stack_name=stack_name)
