"""Serverless endpoint-config rules (E9001-E9004)."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

MEMORY_SIZES = {1024, 2048, 3072, 4096, 5120, 6144}
ENDPOINT_CONFIG = "AWS::SageMaker::EndpointConfig"


def _conditions(value) -> set[str]:
    if isinstance(value, dict):
        found = {value["Fn::If"][0]} if "Fn::If" in value and isinstance(value["Fn::If"], list) else set()
        return found.union(*(_conditions(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_conditions(v) for v in value)) if value else set()
    return set()


_NO_VALUE = object()


def _resolve(value, truth: dict[str, bool]):
    if isinstance(value, dict):
        if "Fn::If" in value and isinstance(value["Fn::If"], list) and len(value["Fn::If"]) == 3:
            name, when_true, when_false = value["Fn::If"]
            return _resolve(when_true if truth[name] else when_false, truth)
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        resolved = {k: _resolve(v, truth) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
    if isinstance(value, list):
        return [v for v in (_resolve(item, truth) for item in value) if v is not _NO_VALUE]
    return value


def scenarios(cfn, properties):
    """The endpoint config's properties under each true/false combination of the conditions it uses."""
    names = sorted(_conditions(properties))
    combinations = [
        dict(zip(names, (bool(i >> n & 1) for n in range(len(names))), strict=True))
        for i in range(2 ** len(names))
    ]
    return [_resolve(properties, truth) for truth in combinations]


def variants(properties):
    return [v for v in properties.get("ProductionVariants", []) if isinstance(v, dict)]


def literal_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _EndpointConfigRule(CloudFormationLintRule):
    tags = ["resources", "sagemaker", "serverless"]
    source_url = (
        "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html"
    )

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources([ENDPOINT_CONFIG]).items():
            properties = resource.get("Properties") or {}
            for scenario in scenarios(cfn, properties):
                for problem in self.problems(cfn, scenario):
                    match = RuleMatch(["Resources", name, "Properties"], f"{name}: {problem}")
                    if match not in matches:
                        matches.append(match)
        return matches

    def problems(self, cfn, properties):  # pragma: no cover - overridden
        return []


class ServerlessMemorySize(_EndpointConfigRule):
    id = "E9001"
    shortdesc = "Serverless MemorySizeInMB must be a 1 GB step"
    description = (
        "MemorySizeInMB must be one of 1024, 2048, 3072, 4096, 5120, 6144 (also for a parameter's values)"
    )

    def problems(self, cfn, properties):
        for variant in variants(properties):
            memory = (variant.get("ServerlessConfig") or {}).get("MemorySizeInMB")
            if memory is None:
                continue
            if isinstance(memory, dict) and "Ref" in memory:
                parameter = cfn.template.get("Parameters", {}).get(memory["Ref"], {})
                values = parameter.get("AllowedValues") or [parameter.get("Default")]
                bad = [v for v in values if literal_int(v) not in MEMORY_SIZES]
                if bad:
                    yield f"parameter {memory['Ref']} allows MemorySizeInMB {bad}, not a 1 GB step from 1024 to 6144"
            elif literal_int(memory) not in MEMORY_SIZES:
                yield f"MemorySizeInMB {memory} is not one of 1024, 2048, 3072, 4096, 5120, 6144"


class VariantKind(_EndpointConfigRule):
    id = "E9002"
    shortdesc = "A variant is either instance-based or serverless"
    description = "Each production variant needs exactly one of InstanceType and ServerlessConfig, in every condition branch"

    def problems(self, cfn, properties):
        for variant in variants(properties):
            kinds = [k for k in ("InstanceType", "ServerlessConfig") if k in variant]
            if len(kinds) != 1:
                found = "both" if kinds else "neither"
                yield f"variant {variant.get('VariantName')} has {found} of InstanceType and ServerlessConfig"


class NoDataCaptureOnServerless(_EndpointConfigRule):
    id = "E9003"
    shortdesc = "No data capture on serverless endpoints"
    description = "SageMaker rejects DataCaptureConfig on an endpoint config with a serverless variant"

    def problems(self, cfn, properties):
        if properties.get("DataCaptureConfig") and any("ServerlessConfig" in v for v in variants(properties)):
            yield "DataCaptureConfig is set in a branch where the variant is serverless"


class ProvisionedConcurrencyWithinMax(_EndpointConfigRule):
    id = "E9004"
    shortdesc = "ProvisionedConcurrency at most MaxConcurrency"
    description = "A literal ProvisionedConcurrency must not exceed the literal MaxConcurrency"

    def problems(self, cfn, properties):
        for variant in variants(properties):
            config = variant.get("ServerlessConfig") or {}
            provisioned, maximum = (
                literal_int(config.get("ProvisionedConcurrency")),
                literal_int(config.get("MaxConcurrency")),
            )
            if provisioned is not None and maximum is not None and provisioned > maximum:
                yield f"ProvisionedConcurrency {provisioned} exceeds MaxConcurrency {maximum}"
