"""No Model Monitor on a serverless endpoint (E9005).

SageMaker Model Monitor (and the data capture it reads) does not support serverless endpoints. A monitoring job
definition or schedule that exists in a condition branch where the endpoint it watches is serverless would fail
when the stack is created. The rule follows what a monitoring resource watches (an ``EndpointInput`` /
``EndpointName`` referring to an ``AWS::SageMaker::Endpoint`` by ``Fn::GetAtt``/``Ref``, or naming it with the same
expression, and a schedule's ``MonitoringJobDefinitionName`` naming a job definition), then the endpoint's config,
and checks every consistent combination of the conditions involved (cfn-lint's condition solver, so that a
monitoring resource whose condition implies prod is not confused with the serverless branch).
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from smbundle.cfn_rules.serverless_endpoint_config import ENDPOINT_CONFIG, _conditions, _resolve, variants

ENDPOINT = "AWS::SageMaker::Endpoint"
JOB_DEFINITIONS = {
    "AWS::SageMaker::DataQualityJobDefinition": "DataQualityJobInput",
    "AWS::SageMaker::ModelQualityJobDefinition": "ModelQualityJobInput",
    "AWS::SageMaker::ModelBiasJobDefinition": "ModelBiasJobInput",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "ModelExplainabilityJobInput",
}
SCHEDULE = "AWS::SageMaker::MonitoringSchedule"


def _target(value) -> str | None:
    """The logical id an intrinsic refers to (Ref or Fn::GetAtt), if any."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute:
            return attribute[0]
        if isinstance(attribute, str):
            return attribute.split(".")[0]
    return None


class NoMonitoringOnServerless(CloudFormationLintRule):
    id = "E9005"
    shortdesc = "No Model Monitor on serverless endpoints"
    description = (
        "A monitoring job definition or schedule must not exist in a condition branch where the endpoint it "
        "watches is serverless (Model Monitor does not support serverless endpoints)"
    )
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html"
    tags = ["resources", "sagemaker", "serverless", "monitoring"]

    def match(self, cfn):
        resources = cfn.template.get("Resources") or {}
        matches = []
        for name, resource in resources.items():
            if not isinstance(resource, dict) or (
                resource.get("Type") not in JOB_DEFINITIONS and resource.get("Type") != SCHEDULE
            ):
                continue
            endpoint = self._endpoint(resources, name, resource, set())
            config = self._config(resources, endpoint)
            if config is None:
                continue
            if self._serverless_while_present(cfn, resource, resources[config]):
                message = (
                    f"{name}: monitors endpoint {endpoint}, which is serverless in a condition branch where {name} "
                    "exists; Model Monitor does not support serverless endpoints (give it a Condition that excludes "
                    "the serverless branch)"
                )
                matches.append(RuleMatch(["Resources", name], message))
        return matches

    def _endpoint(self, resources: dict, name: str, resource: dict, seen: set) -> str | None:
        if name in seen:
            return None
        seen.add(name)
        properties = resource.get("Properties") or {}
        candidates = []
        kind = resource.get("Type")
        if kind in JOB_DEFINITIONS:
            candidates.append(
                ((properties.get(JOB_DEFINITIONS[kind]) or {}).get("EndpointInput") or {}).get("EndpointName")
            )
        candidates.append(properties.get("EndpointName"))
        config = properties.get("MonitoringScheduleConfig") or {}
        for item in (config.get("MonitoringJobDefinition") or {}).get("MonitoringInputs") or []:
            if isinstance(item, dict):
                candidates.append((item.get("EndpointInput") or {}).get("EndpointName"))
        for value in candidates:
            found = self._endpoint_named(resources, value)
            if found:
                return found
        definition = config.get("MonitoringJobDefinitionName")
        if definition is not None:
            for other, candidate in resources.items():
                if (
                    isinstance(candidate, dict)
                    and candidate.get("Type") in JOB_DEFINITIONS
                    and (candidate.get("Properties") or {}).get("JobDefinitionName") == definition
                ):
                    return self._endpoint(resources, other, candidate, seen)
        return None

    @staticmethod
    def _endpoint_named(resources: dict, value) -> str | None:
        if value is None:
            return None
        target = _target(value)
        if target and (resources.get(target) or {}).get("Type") == ENDPOINT:
            return target
        for name, resource in resources.items():
            if (
                isinstance(resource, dict)
                and resource.get("Type") == ENDPOINT
                and (resource.get("Properties") or {}).get("EndpointName") == value
            ):
                return name
        return None

    @staticmethod
    def _config(resources: dict, endpoint: str | None) -> str | None:
        if endpoint is None:
            return None
        target = _target((resources[endpoint].get("Properties") or {}).get("EndpointConfigName"))
        if target and (resources.get(target) or {}).get("Type") == ENDPOINT_CONFIG:
            return target
        return None

    @staticmethod
    def _serverless_while_present(cfn, resource: dict, config: dict) -> bool:
        properties = config.get("Properties") or {}
        names = set(_conditions(properties))
        if resource.get("Condition"):
            names.add(resource["Condition"])
        if config.get("Condition"):
            names.add(config["Condition"])
        names = {n for n in names if n in (cfn.template.get("Conditions") or {})}
        scenarios = cfn.conditions.build_scenarios({n: {True, False} for n in names}) if names else [{}]
        for truth in scenarios:
            if resource.get("Condition") and not truth.get(resource["Condition"], True):
                continue
            resolved = _resolve(properties, {n: truth.get(n, False) for n in _conditions(properties)})
            if any("ServerlessConfig" in v for v in variants(resolved)):
                return True
        return False
