"""SageMaker endpoint fidelity fixes for moto, so the deploy seed's endpoint template deploys as on AWS.

- ``AWS::SageMaker::Endpoint`` honours ``EndpointName`` (moto invents ``<stack>-Endpoint-<random>``).
- ``AWS::SageMaker::Model`` accepts ``Containers`` without ``PrimaryContainer``.
- Numbers that arrive from template parameters as strings are typed as the API types them.
- Endpoint configs are validated as SageMaker validates them: exactly one of ``InstanceType`` and
  ``ServerlessConfig`` per variant, ``MaxConcurrency`` 1..200, ``ProvisionedConcurrency`` <= ``MaxConcurrency``,
  no ``DataCaptureConfig`` on a serverless endpoint.
- ``DescribeEndpoint`` answers ``DataCaptureConfig`` in the API's summary shape (``CurrentSamplingPercentage``,
  ``CaptureStatus``), which botocore would otherwise drop.
- A stack update that gives an endpoint a new config updates the endpoint in place, as CloudFormation's
  UpdateEndpoint does (moto deleted and re-created it, or left it on a deleted config): blue/green per its
  DeploymentConfig (``deployments``), and refuses an instance-to-serverless switch, as SageMaker does.
"""

from __future__ import annotations

import functools
import inspect

from moto.sagemaker import models
from moto.sagemaker.exceptions import ValidationError

_INT_FIELDS = ("MemorySizeInMB", "MaxConcurrency", "ProvisionedConcurrency")


def _typed_variant(variant: dict) -> dict:
    variant = dict(variant)
    if "InitialInstanceCount" in variant:
        variant["InitialInstanceCount"] = int(variant["InitialInstanceCount"])
    if "InitialVariantWeight" in variant:
        variant["InitialVariantWeight"] = float(variant["InitialVariantWeight"])
    if variant.get("ServerlessConfig"):
        config = dict(variant["ServerlessConfig"])
        for key in _INT_FIELDS:
            if key in config:
                config[key] = int(config[key])
        variant["ServerlessConfig"] = config
    return variant


def _typed_capture(config: dict | None) -> dict:
    if not config:
        return {}
    config = dict(config)
    if "InitialSamplingPercentage" in config:
        config["InitialSamplingPercentage"] = int(config["InitialSamplingPercentage"])
    if isinstance(config.get("EnableCapture"), str):
        config["EnableCapture"] = config["EnableCapture"].lower() == "true"
    return config


def validate_variants(variants: list[dict], data_capture_config: dict | None) -> None:
    """SageMaker's checks that moto lacks (messages in the API's words)."""
    for variant in variants:
        has_instance = "InstanceType" in variant
        serverless = variant.get("ServerlessConfig")
        if has_instance and serverless:
            raise ValidationError(
                message=f"Variant {variant.get('VariantName')}: specify either InstanceType or "
                "ServerlessConfig, not both."
            )
        if not has_instance and not serverless:
            raise ValidationError(
                message=f"Variant {variant.get('VariantName')}: one of InstanceType or ServerlessConfig is required."
            )
        if serverless:
            maximum = serverless.get("MaxConcurrency")
            if maximum is None or not 1 <= maximum <= 200:
                raise ValidationError(
                    message=f"Value '{maximum}' at 'MaxConcurrency' failed to satisfy constraint: "
                    "Member must have value between 1 and 200"
                )
            provisioned = serverless.get("ProvisionedConcurrency")
            if provisioned is not None and not 1 <= provisioned <= maximum:
                raise ValidationError(
                    message=f"ProvisionedConcurrency ({provisioned}) must be between 1 and MaxConcurrency ({maximum})."
                )
            if data_capture_config:
                raise ValidationError(message="DataCaptureConfig is not supported for serverless endpoints.")


def _patch_endpoint_config() -> None:
    original_init = models.FakeEndpointConfig.__init__
    signature = inspect.signature(original_init)

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        arguments = bound.arguments
        arguments["production_variants"] = [_typed_variant(v) for v in arguments["production_variants"] or []]
        arguments["data_capture_config"] = _typed_capture(arguments.get("data_capture_config"))
        validate_variants(arguments["production_variants"], arguments["data_capture_config"])
        original_init(*bound.args, **bound.kwargs)

    models.FakeEndpointConfig.__init__ = __init__


def _capture_summary(config: dict | None) -> dict | None:
    if not config:
        return None
    enabled = bool(config.get("EnableCapture", True))
    summary = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(config.get("InitialSamplingPercentage", 0)),
        "DestinationS3Uri": config.get("DestinationS3Uri"),
    }
    if config.get("KmsKeyId"):
        summary["KmsKeyId"] = config["KmsKeyId"]
    return summary


def _patch_endpoint() -> None:
    original_init = models.FakeEndpoint.__init__

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.data_capture_config = _capture_summary(self.data_capture_config)

    models.FakeEndpoint.__init__ = __init__
    models.FakeEndpoint.cloudformation_name_type = staticmethod(lambda: "EndpointName")

    original_create = models.FakeEndpoint.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kw
    ):
        name = cloudformation_json["Properties"].get("EndpointName") or resource_name
        return original_create(cls, name, cloudformation_json, account_id, region_name, **kw)

    models.FakeEndpoint.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def check_not_to_serverless(endpoint, old_variants: list[dict], new_config) -> None:
    was_instance = any("CurrentInstanceCount" in v or "InstanceType" in v for v in old_variants)
    if was_instance and any(v.get("ServerlessConfig") for v in new_config.production_variants):
        raise ValidationError(
            message=f"Endpoint {endpoint.endpoint_name}: updating an instance-based endpoint to serverless is not "
            "supported; give the serverless endpoint a new name"
        )


def capture_summary(config: dict | None) -> dict | None:
    return _capture_summary(config)


def _repoint(endpoint, old_variants: list[dict], new_config) -> None:
    """The checks of a stack's endpoint update before SageMaker starts it (``model_access`` adds the model's)."""
    check_not_to_serverless(endpoint, old_variants, new_config)


def _patch_endpoint_update() -> None:
    """An endpoint whose config changes is updated in place (UpdateEndpoint, run by ``deployments``: blue/green,
    DeploymentConfig, RetainAllVariantProperties), and the handler waits until the endpoint leaves Updating, as
    CloudFormation does; moto deleted and re-created it. An update SageMaker rolls back because an auto-rollback
    alarm went off completes the stack update with the endpoint on its previous config (the silent rollback users
    report; docs/local.md); an update that fails (the new model cannot serve) fails the resource."""

    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        from smbundle.local.sagemaker import deployments

        backend = models.sagemaker_backends[account_id][region_name]
        properties = cloudformation_json["Properties"]
        name = str(properties["EndpointConfigName"]).rsplit("/", 1)[-1]
        config = backend.endpoint_configs.get(name)
        if config is None:
            raise ValidationError(message=f"Could not find endpoint configuration {name}.")
        _repoint(original_resource, list(original_resource.production_variants), config)
        deployment = deployments.update_and_wait(backend, original_resource, name, properties)
        if deployment.outcome == "failed":
            raise ValidationError(
                message=f"Endpoint {original_resource.endpoint_name} failed to update: {deployment.reason}"
            )
        return original_resource

    models.FakeEndpoint.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)


def _patch_model() -> None:
    original_create = models.Model.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kw
    ):
        properties = cloudformation_json["Properties"]
        if "PrimaryContainer" not in properties and properties.get("Containers"):
            cloudformation_json = dict(cloudformation_json)
            cloudformation_json["Properties"] = dict(properties, PrimaryContainer=properties["Containers"][0])
        return original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kw)

    models.Model.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _patch_endpoint_config()
    _patch_endpoint()
    _patch_endpoint_update()
    _patch_model()
    _applied = True
