"""SageMaker endpoint variants as Application Auto Scaling targets (``sagemaker:variant:DesiredInstanceCount``).

- ``RegisterScalableTarget`` for namespace ``sagemaker`` checks that the endpoint and its variant exist and are
  instance-based (a serverless variant scales ``sagemaker:variant:DesiredProvisionedConcurrency``), and uses the
  service-linked role ``AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint``, creating it on the first
  registration in the account, as Application Auto Scaling does
  (https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html).
  A caller that is a role session must be allowed ``iam:CreateServiceLinkedRole`` for it then.
- A scaling activity changes the variant's ``DesiredInstanceCount`` (as UpdateEndpointWeightsAndCapacities does):
  the endpoint goes ``Updating`` while the instances start (``INSTANCE_START_SECONDS``, time-scaled) and comes back
  ``InService`` with ``CurrentInstanceCount`` changed; the runtime then serves with that many instances' workers.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from moto.applicationautoscaling.exceptions import AWSValidationException
from moto.iam.models import iam_backends
from moto.sagemaker.models import sagemaker_backends

from smbundle.local import time_scale
from smbundle.local.iam.principals import PARTITION

log = logging.getLogger(__name__)

SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
ROLE_NAME = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# How long new instances take to come InService. AWS does not publish it; endpoint instances typically take some
# minutes. Scaled by SMBUNDLE_TIME_SCALE.
INSTANCE_START_SECONDS = 180


def role_arn(account: str) -> str:
    return f"arn:{PARTITION}:iam::{account}:role/aws-service-role/{SERVICE}/{ROLE_NAME}"


def ensure_service_linked_role(account: str) -> str:
    """The service-linked role's ARN, created (trusting the service) when the account has none yet."""
    backend = iam_backends[account][PARTITION]
    if not any(role.name == ROLE_NAME for role in backend.roles.values()):
        from smbundle.local.iam import enforcement, principals

        caller = principals.caller.get()
        if caller is not None:
            enforcement.authorize(
                caller, "iam:CreateServiceLinkedRole", role_arn(account), {"iam:AWSServiceName": SERVICE}
            )
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"}],
        }
        backend.create_role(
            role_name=ROLE_NAME,
            assume_role_policy_document=json.dumps(trust),
            path=f"/aws-service-role/{SERVICE}/",
            permissions_boundary=None,
            description="Allows Application Auto Scaling to scale SageMaker endpoint variants",
            tags=[],
            max_session_duration="3600",
            linked_service=SERVICE,
        )
    return role_arn(account)


def parse(resource_id: str) -> tuple[str, str]:
    parts = resource_id.split("/")
    if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant":
        raise AWSValidationException(
            f"Unsupported resource ID {resource_id}: a SageMaker variant is endpoint/<endpoint name>/variant/"
            "<variant name>"
        )
    return parts[1], parts[3]


def endpoint_variant(account: str, region: str, resource_id: str) -> tuple[object, dict]:
    """The endpoint and its variant summary (DescribeEndpoint's ProductionVariants entry); a validation error when
    either does not exist."""
    endpoint_name, variant_name = parse(resource_id)
    endpoint = sagemaker_backends[account][region].endpoints.get(endpoint_name)
    if endpoint is None:
        raise AWSValidationException(f"The endpoint {endpoint_name} does not exist.")
    for variant in endpoint.production_variants:
        if variant.get("VariantName") == variant_name:
            return endpoint, variant
    raise AWSValidationException(f"The variant {variant_name} does not exist on endpoint {endpoint_name}.")


def check_target(account: str, region: str, resource_id: str, dimension: str) -> None:
    endpoint, variant = endpoint_variant(account, region, resource_id)
    if dimension == DIMENSION and "CurrentInstanceCount" not in variant:
        raise AWSValidationException(
            f"The variant {variant['VariantName']} of endpoint {endpoint.endpoint_name} is serverless: it scales "
            "sagemaker:variant:DesiredProvisionedConcurrency, not instances."
        )


def desired_count(account: str, region: str, resource_id: str) -> int:
    _, variant = endpoint_variant(account, region, resource_id)
    return int(variant.get("DesiredInstanceCount") or variant.get("CurrentInstanceCount") or 1)


def set_desired_count(
    account: str, region: str, resource_id: str, count: int, done: Callable[[bool, str], None] | None = None
) -> None:
    """Start changing the variant's instance count (the endpoint must be InService); ``done(ok, message)`` is
    called when the instances are InService."""
    endpoint, variant = endpoint_variant(account, region, resource_id)
    if endpoint.endpoint_status != "InService":
        raise AWSValidationException(
            f"Endpoint {endpoint.endpoint_name} is {endpoint.endpoint_status}: its capacity changes once it is "
            "InService."
        )
    variant["DesiredInstanceCount"] = int(count)
    endpoint.endpoint_status = "Updating"

    def finish() -> None:
        variant["CurrentInstanceCount"] = int(count)
        if endpoint.endpoint_status == "Updating":
            endpoint.endpoint_status = "InService"
        if done is not None:
            done(
                True,
                f"Successfully set desired instance count to {count}. Change successfully fulfilled by "
                "sagemaker.",
            )

    timer = threading.Timer(time_scale.local_seconds(INSTANCE_START_SECONDS), finish)
    timer.daemon = True
    timer.start()
