"""Endpoint updates as SageMaker runs them: blue/green with traffic shifting, baking and alarm rollback.

``UpdateEndpoint`` (served here; moto lacks it) and CloudFormation's update of ``AWS::SageMaker::Endpoint`` start a
deployment (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html): the endpoint is
``Updating`` and ``DescribeEndpoint`` shows the ``PendingDeploymentSummary``; the new (green) fleet is provisioned
(``GREEN_PROVISION_SECONDS``; a model that cannot serve fails the update here); then traffic shifts per
``TrafficRoutingConfiguration``: ALL_AT_ONCE (one step), CANARY (the canary's share of the fleet, then the rest)
or LINEAR (steps of LinearStepSize), each step followed by a baking period of ``WaitIntervalInSeconds`` during which
the ``AutoRollbackConfiguration`` alarms are watched. When the last bake passes, the old (blue) fleet stays
``TerminationWaitInSeconds`` more and goes; the endpoint is InService on the new config, with
``LastDeploymentConfig``. An alarm in ALARM during a bake (or ``MaximumExecutionTimeoutInSeconds`` passing) rolls the
deployment back: all traffic returns to blue, the green fleet goes, and the endpoint is InService on its old
config with a ``FailureReason`` saying why. Without a DeploymentConfig an update is blue/green all at once with no
bake, as SageMaker's default. While a deployment runs, each request goes to the green fleet with the step's share
(``route``). All periods are AWS seconds, ``SMBUNDLE_TIME_SCALE`` times shorter locally.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from moto.sagemaker import models, responses
from moto.sagemaker.exceptions import ValidationError

from smbundle.local import time_scale
from smbundle.local.sagemaker import deployment_rules

log = logging.getLogger(__name__)

# AWS does not publish how long a new fleet takes; endpoint instances typically take a few minutes.
GREEN_PROVISION_SECONDS = 180
POLL_SECONDS = 0.05  # local: how often a bake looks at the alarms


@dataclass
class Deployment:
    account: str
    region: str
    endpoint_name: str
    blue_config: str
    green_config: str
    green_variants: list[dict]
    config: dict
    alarms: list[str]
    green_share: float = 0.0
    green_instances: int = 1
    outcome: str = "running"  # running | succeeded | rolled-back | failed
    reason: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


_active: dict[tuple[str, str, str], Deployment] = {}
_lock = threading.Lock()


def active(account: str, region: str, endpoint_name: str) -> Deployment | None:
    return _active.get((account, region, endpoint_name))


def route(account: str, region: str, endpoint_name: str) -> tuple[str | None, int | None]:
    """The endpoint config (and its fleet's instance count) that serves one request; (None, None): the endpoint's
    own config."""
    deployment = _active.get((account, region, endpoint_name))
    if deployment is None or deployment.green_share <= 0:
        return None, None
    if deployment.green_share >= 1 or random.random() < deployment.green_share:
        return deployment.green_config, deployment.green_instances
    return deployment.blue_config, None


def _instances(variants: list[dict]) -> int:
    return sum(int(v.get("CurrentInstanceCount") or 0) for v in variants) or 1


def _steps(routing: dict, fleet: int) -> list[float]:
    kind = routing.get("Type", "ALL_AT_ONCE")
    if kind == "CANARY":
        return [deployment_rules.step_instances(routing["CanarySize"], fleet) / fleet, 1.0]
    if kind == "LINEAR":
        step = deployment_rules.step_instances(routing["LinearStepSize"], fleet)
        shares, turned_on = [], 0
        while turned_on < fleet:
            turned_on = min(fleet, turned_on + step)
            shares.append(turned_on / fleet)
        return shares
    return [1.0]


def start(
    backend,
    endpoint,
    config_name: str,
    deployment_config: dict | None = None,
    retain_all: bool = False,
    excluded: list[dict] | None = None,
) -> Deployment:
    """Validate the update as SageMaker does and start it in the background."""
    from smbundle.local.sagemaker.cloudformation import check_not_to_serverless

    deployment_rules.check_status(endpoint)
    new_config = backend.endpoint_configs.get(config_name)
    if new_config is None:
        arn = models.FakeEndpointConfig.arn_formatter(config_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
    old_config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
    check_not_to_serverless(endpoint, endpoint.production_variants, new_config)
    variants = deployment_rules.retained_variants(endpoint, new_config, retain_all, excluded)
    deployment_rules.check_deployment_config(
        deployment_config, new_config.production_variants, _instances(variants)
    )
    deployment_rules.check_scalable_targets(
        endpoint, old_config, new_config, backend.account_id, backend.region_name
    )
    model = backend._models.get(new_config.production_variants[0]["ModelName"])
    alarms = deployment_rules.check_alarms(
        deployment_config, getattr(model, "execution_role_arn", None), backend.account_id, backend.region_name
    )
    deployment = Deployment(
        backend.account_id,
        backend.region_name,
        endpoint.endpoint_name,
        endpoint.endpoint_config_name,
        config_name,
        variants,
        deployment_config or {},
        alarms,
        green_instances=_instances(variants),
    )
    with _lock:
        _active[(backend.account_id, backend.region_name, endpoint.endpoint_name)] = deployment
    endpoint.endpoint_status, endpoint.failure_reason = "Updating", None
    endpoint.pending_deployment_summary = {
        "EndpointConfigName": config_name,
        "ProductionVariants": [
            {
                **{
                    k: v
                    for k, v in variant.items()
                    if k in ("VariantName", "DesiredInstanceCount", "DesiredWeight")
                },
                "VariantStatus": [{"Status": "Creating", "StartTime": datetime.now(UTC)}],
            }
            for variant in variants
        ],
        "StartTime": datetime.now(UTC),
    }
    endpoint.last_modified_time = datetime.now(UTC)
    threading.Thread(
        target=_run,
        args=(backend, endpoint, deployment),
        name=f"deploy-{endpoint.endpoint_name}",
        daemon=True,
    ).start()
    return deployment


class _RolledBack(Exception):
    pass


def _bake(deployment: Deployment, seconds: float, deadline: float | None) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    end = time.monotonic() + time_scale.local_seconds(seconds)
    while True:
        alarms = cloudwatch_backends[deployment.account][deployment.region].alarms
        tripped = [
            name for name in deployment.alarms if getattr(alarms.get(name), "state_value", None) == "ALARM"
        ]
        if tripped:
            raise _RolledBack(
                "The endpoint update was rolled back because the CloudWatch alarm(s) "
                f"{', '.join(tripped)} went into ALARM state during the deployment."
            )
        if deadline is not None and time.monotonic() > deadline:
            raise _RolledBack(
                "The endpoint update was rolled back because it exceeded MaximumExecutionTimeoutInSeconds."
            )
        if time.monotonic() >= end:
            return
        time.sleep(min(POLL_SECONDS, max(end - time.monotonic(), 0)))


def _run(backend, endpoint, deployment: Deployment) -> None:
    from smbundle.local.sagemaker import model_access

    policy = deployment.config.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    wait = int(routing.get("WaitIntervalInSeconds") or 0)
    timeout = policy.get("MaximumExecutionTimeoutInSeconds")
    deadline = None if timeout is None else time.monotonic() + time_scale.local_seconds(int(timeout))
    new_config = backend.endpoint_configs[deployment.green_config]
    try:
        time.sleep(time_scale.local_seconds(GREEN_PROVISION_SECONDS))
        for variant in new_config.production_variants:
            problem = model_access.serving_problem(backend, variant["ModelName"], deployment.region)
            if problem:
                deployment.outcome = "failed"
                raise _RolledBack(f"The endpoint update failed and was rolled back: {problem}")
        for share in _steps(routing, deployment.green_instances):
            deployment.green_share = share
            _bake(deployment, wait, deadline)
        time.sleep(time_scale.local_seconds(int(policy.get("TerminationWaitInSeconds") or 0)))
        _finish(endpoint, deployment, new_config)
    except _RolledBack as rollback:
        deployment.green_share = 0.0
        if deployment.outcome == "running":
            deployment.outcome = "rolled-back"
        deployment.reason = str(rollback)
        endpoint.endpoint_status, endpoint.failure_reason = "InService", str(rollback)
        log.info("endpoint %s: %s", deployment.endpoint_name, rollback)
    except Exception as exc:  # noqa: BLE001 - a fault of ours still leaves the endpoint serving
        log.exception("the deployment of endpoint %s failed", deployment.endpoint_name)
        deployment.outcome, deployment.reason = "failed", str(exc)
        deployment.green_share = 0.0
        endpoint.endpoint_status, endpoint.failure_reason = "InService", f"The endpoint update failed: {exc}"
    finally:
        endpoint.pending_deployment_summary = None
        endpoint.last_modified_time = datetime.now(UTC)
        with _lock:
            if _active.get((deployment.account, deployment.region, deployment.endpoint_name)) is deployment:
                del _active[(deployment.account, deployment.region, deployment.endpoint_name)]
        deployment.done.set()
        _event(endpoint, deployment)


def _finish(endpoint, deployment: Deployment, new_config) -> None:
    from smbundle.local.sagemaker.cloudformation import capture_summary

    endpoint.endpoint_config_name = deployment.green_config
    endpoint.production_variants = deployment.green_variants
    endpoint.data_capture_config = capture_summary(new_config.data_capture_config)
    if deployment.config:
        endpoint.last_deployment_config = deployment.config
    deployment.outcome = "succeeded"
    endpoint.endpoint_status, endpoint.failure_reason = "InService", None


def _event(endpoint, deployment: Deployment) -> None:
    """SageMaker's ``SageMaker Endpoint State Change`` event on the default bus."""
    from smbundle.local.events import bus

    detail = {
        "EndpointName": endpoint.endpoint_name,
        "EndpointArn": endpoint.arn,
        "EndpointConfigName": endpoint.endpoint_config_name,
        "EndpointStatus": "IN_SERVICE",
        "ProductionVariants": endpoint.production_variants,
        "CreationTime": endpoint.creation_time,
        "LastModifiedTime": endpoint.last_modified_time,
        "Tags": {t["Key"]: t["Value"] for t in endpoint.tags or []},
    }
    if endpoint.failure_reason:
        detail["FailureReason"] = endpoint.failure_reason
    try:
        bus.put(
            "aws.sagemaker",
            "SageMaker Endpoint State Change",
            detail,
            account=deployment.account,
            region=deployment.region,
            resources=[endpoint.arn],
        )
    except Exception:  # noqa: BLE001
        log.exception("the state change event of endpoint %s was not delivered", endpoint.endpoint_name)


def _endpoint(backend, name: str):
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        arn = models.FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    return endpoint


def update_endpoint(self):
    from moto.core.responses import ActionResult

    backend = self.sagemaker_backend
    endpoint = _endpoint(backend, self._get_param("EndpointName"))
    deployment_config = self._get_param("DeploymentConfig")
    if deployment_config is None and self._get_param("RetainDeploymentConfig"):
        deployment_config = getattr(endpoint, "last_deployment_config", None)
    start(
        backend,
        endpoint,
        self._get_param("EndpointConfigName"),
        deployment_config,
        bool(self._get_param("RetainAllVariantProperties")),
        self._get_param("ExcludeRetainedVariantProperties"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


def update_endpoint_weights_and_capacities(self):
    """Weights change at once; a new instance count starts instances (Updating until they are InService)."""
    from moto.core.responses import ActionResult

    from smbundle.local.applicationautoscaling import sagemaker_variants

    backend = self.sagemaker_backend
    endpoint = _endpoint(backend, self._get_param("EndpointName"))
    deployment_rules.check_status(endpoint)
    wanted = self._get_param("DesiredWeightsAndCapacities") or []
    names = {v["VariantName"] for v in endpoint.production_variants}
    for item in wanted:
        if item["VariantName"] not in names:
            raise ValidationError(
                message=f'The variant name(s) "{item["VariantName"]}" is/are not present within endpoint '
                f'configuration "{endpoint.endpoint_config_name}".'
            )
    for item in wanted:
        variant = next(v for v in endpoint.production_variants if v["VariantName"] == item["VariantName"])
        if item.get("DesiredWeight") is not None:
            variant["DesiredWeight"] = variant["CurrentWeight"] = float(item["DesiredWeight"])
    for item in wanted:
        if item.get("DesiredInstanceCount") is not None:
            resource = f"endpoint/{endpoint.endpoint_name}/variant/{item['VariantName']}"
            endpoint.endpoint_status = "InService"
            sagemaker_variants.set_desired_count(
                backend.account_id, backend.region_name, resource, int(item["DesiredInstanceCount"])
            )
    return ActionResult({"EndpointArn": endpoint.arn})


def update_and_wait(backend, endpoint, config_name: str, properties: dict) -> Deployment:
    """CloudFormation's handler: start the update and wait until the endpoint leaves Updating."""
    from smbundle.local.applicationautoscaling.cloudformation import typed

    deployment_config = _typed_deployment(typed(properties.get("DeploymentConfig")))
    retain = str(properties.get("RetainAllVariantProperties", False)).lower() == "true"
    deployment = start(
        backend,
        endpoint,
        config_name,
        deployment_config,
        retain,
        properties.get("ExcludeRetainedVariantProperties"),
    )
    deployment.done.wait()
    return deployment


def _typed_deployment(config):
    """Template strings to the API's integers in a DeploymentConfig."""
    if isinstance(config, list):
        return [_typed_deployment(v) for v in config]
    if not isinstance(config, dict):
        return config
    integers = (
        "Value",
        "WaitIntervalInSeconds",
        "TerminationWaitInSeconds",
        "MaximumExecutionTimeoutInSeconds",
        "MaximumBatchSize",
        "RollbackMaximumBatchSize",
    )
    return {
        k: int(float(v)) if k in integers and isinstance(v, str) else _typed_deployment(v)
        for k, v in config.items()
    }


def reset() -> None:
    with _lock:
        _active.clear()


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    responses.SageMakerResponse.update_endpoint = update_endpoint
    responses.SageMakerResponse.update_endpoint_weights_and_capacities = (
        update_endpoint_weights_and_capacities
    )
    models.FakeEndpoint.pending_deployment_summary = None
    models.FakeEndpoint.last_deployment_config = None
    _applied = True
