"""What SageMaker checks, as the model's execution role, before a model serves.

- ``CreateModel`` (API or CloudFormation): SageMaker must be able to assume the ``ExecutionRoleArn`` (the role
  exists and trusts ``sagemaker.amazonaws.com``); otherwise ``ValidationException: Could not assume role ...``, AWS's
  message.
- ``CreateEndpoint`` (API or CloudFormation) and a stack update's endpoint update: for each variant's model, the execution role
  reads the model data (``s3:GetObject`` on the artifact, which must exist) and pulls the image when it is in an
  ECR repository of the account (``ecr:BatchGetImage``; images in AWS's own accounts, such as the XGBoost image,
  need no permission of yours). When it cannot, the endpoint is ``Failed`` with the reason SageMaker gives
  ("Could not access model data at ...", "The role ... does not have BatchGetImage permission for the image ..."),
  and an endpoint that CloudFormation creates fails its resource with that reason.

The API call itself succeeds, as on AWS: the endpoint then shows ``Failed`` in ``DescribeEndpoint``.
"""

from __future__ import annotations

import re

from moto.sagemaker import models
from moto.sagemaker.exceptions import ValidationError

from smbundle.local.iam import enforcement, principals
from smbundle.local.iam.principals import Principal
from smbundle.local.s3 import objects

SERVICE = "sagemaker.amazonaws.com"
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)"
)


def assume_problem(role_arn: str | None) -> str | None:
    """Why SageMaker cannot assume ``role_arn`` (AWS's CreateModel message), or None."""
    if not role_arn or not enforcement.is_enabled():  # --iam off lets everything through
        return None
    found = principals.role(role_arn)
    if found is None or not principals.trusts(found.assume_role_policy_document, SERVICE):
        return (
            f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
            f"'{SERVICE}' to assume the role."
        )
    return None


def serving_problem(backend, model_name: str, region: str) -> str | None:
    """Why the model cannot be served as its execution role (SageMaker's endpoint FailureReason), or None."""
    from smbundle.local.sagemaker.runtime import container_of

    model = backend._models.get(model_name)
    if model is None:
        return f'Could not find model "{model_name}".'
    role_arn = getattr(model, "execution_role_arn", None)
    problem = assume_problem(role_arn)
    if problem:
        return problem
    try:
        model_data, _, image = container_of(backend, model_name)
    except (KeyError, IndexError, AttributeError):  # a model package that is not there
        return f'Could not find the model package of model "{model_name}".'
    if model_data:
        try:
            if role_arn and enforcement.is_enabled():
                resource = "arn:aws:s3:::" + model_data[len("s3://") :]
                enforcement.authorize(
                    Principal(role_arn, "SageMaker"), "s3:GetObject", resource, None, region
                )
            objects.get_bytes(model_data, backend.account_id)
        except Exception:  # denied, no such bucket or key, not an S3 URI: SageMaker cannot read it
            return (
                f'Could not access model data at {model_data}. Please ensure that the role "{role_arn}" exists '
                f'and that its trust relationship policy allows the action "sts:AssumeRole" for the service '
                f'principal "{SERVICE}". Also ensure that the role has "s3:GetObject" permissions and that '
                f"the object is located in {region}."
            )
    return image_pull_problem(role_arn, image, backend.account_id, region)


def image_pull_problem(role_arn: str | None, image: str | None, account: str, region: str) -> str | None:
    """Why ``role_arn`` cannot pull ``image`` (SageMaker's message), or None. Only images in an ECR repository of
    the account need the role's ``ecr:BatchGetImage``; AWS's own images (other accounts) are pulled by SageMaker."""
    match = _ECR_IMAGE.match(image or "")
    if not (match and match["account"] == account and role_arn and enforcement.is_enabled()):
        return None
    repository = f"arn:aws:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"
    try:
        enforcement.authorize(Principal(role_arn, "SageMaker"), "ecr:BatchGetImage", repository, None, region)
    except enforcement.AccessDenied:
        return f"The role '{role_arn}' does not have BatchGetImage permission for the image: '{image}'."
    return None


def check_endpoint(backend, endpoint) -> None:
    """Mark ``endpoint`` Failed, with SageMaker's reason, when one of its models cannot be served."""
    config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
    for variant in getattr(config, "production_variants", None) or []:
        problem = serving_problem(backend, variant["ModelName"], backend.region_name)
        if problem:
            endpoint.endpoint_status, endpoint.failure_reason = "Failed", problem
            return
    endpoint.endpoint_status, endpoint.failure_reason = "InService", None


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    from smbundle.local.sagemaker import cloudformation as endpoint_stacks

    backend_class = models.SageMakerModelBackend
    original_model, original_endpoint = backend_class.create_model, backend_class.create_endpoint
    original_cfn_endpoint = models.FakeEndpoint.create_from_cloudformation_json.__func__
    original_repoint = endpoint_stacks._repoint

    def create_model(self, model_name, execution_role_arn, *args, **kwargs):
        problem = assume_problem(execution_role_arn)
        if problem:
            raise ValidationError(message=problem)
        return original_model(self, model_name, execution_role_arn, *args, **kwargs)

    def create_endpoint(self, endpoint_name, *args, **kwargs):
        endpoint = original_endpoint(self, endpoint_name, *args, **kwargs)
        check_endpoint(self, endpoint)
        return endpoint

    def repoint(endpoint, old_variants, new_config):
        """A stack update's UpdateEndpoint: a config whose model cannot serve fails the update, and the endpoint
        keeps serving its previous config, as SageMaker rolls an update back."""
        region, account = endpoint.arn.split(":")[3:5]
        backend = models.sagemaker_backends[account][region]
        for variant in new_config.production_variants:
            problem = serving_problem(backend, variant["ModelName"], region)
            if problem:
                raise ValidationError(
                    message=f"Endpoint {endpoint.endpoint_name} failed to update: {problem}"
                )
        original_repoint(endpoint, old_variants, new_config)

    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kw
    ):
        endpoint = original_cfn_endpoint(
            cls, resource_name, cloudformation_json, account_id, region_name, **kw
        )
        if endpoint.endpoint_status == "Failed":
            # CloudFormation never records a resource that failed to create: nothing would delete it on rollback.
            models.sagemaker_backends[account_id][region_name].endpoints.pop(endpoint.endpoint_name, None)
            raise ValidationError(
                message=f"Endpoint {endpoint.endpoint_name} failed to reach InService: {endpoint.failure_reason}"
            )
        return endpoint

    backend_class.create_model = create_model
    backend_class.create_endpoint = create_endpoint
    endpoint_stacks._repoint = repoint
    models.FakeEndpoint.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    _applied = True
