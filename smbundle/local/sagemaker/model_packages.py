"""Model packages as SageMaker keeps them.

UpdateModelPackage: approving a package keeps its CustomerMetadataProperties.

moto overwrites the package's CustomerMetadataProperties with the request's (None when a reviewer only changes
the approval status), which would lose where the package's held-out test split lives. On AWS the properties in
the request are added or updated, and only CustomerMetadataPropertiesToRemove removes any.

DeleteModelPackage and DeleteModelPackageGroup, which moto lacks, are added (the cleanup command uses them); a group
that still holds packages cannot be deleted, as on AWS.

Every creation and every update of a package sends SageMaker's "SageMaker Model Package State Change" event to the
account's default bus, whoever made the call (a reviewer with the CLI, a pipeline's RegisterModel step), with the
detail fields SageMaker's EventBridge documentation lists (``ModelPackageGroupName``, ``ModelPackageVersion``,
``ModelPackageArn``, ``ModelApprovalStatus``, ``InferenceSpecification``, ``UpdatedModelPackageFields``...), so the
project's rules start what they start on AWS.
"""

from __future__ import annotations

from datetime import datetime

from moto.core.responses import EmptyResult
from moto.sagemaker import models, responses
from moto.sagemaker.exceptions import ValidationError

from smbundle.local.events import bus

DETAIL_FIELDS = (
    "ModelPackageGroupName",
    "ModelPackageVersion",
    "ModelPackageArn",
    "ModelPackageName",
    "ModelPackageDescription",
    "CreationTime",
    "InferenceSpecification",
    "ModelPackageStatus",
    "ModelPackageStatusDetails",
    "CertifyForMarketplace",
    "ModelApprovalStatus",
    "ApprovalDescription",
    "MetadataProperties",
    "ModelMetrics",
    "CustomerMetadataProperties",
    "LastModifiedTime",
)

_applied = False


def _millis(value):
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else value


def state_change(backend, package, updated_fields: list[str] | None = None) -> dict:
    """Send the package's state-change event; returns it."""
    described = package.gen_response_object()
    detail = {k: _millis(described[k]) for k in DETAIL_FIELDS if described.get(k) is not None}
    if updated_fields:
        detail["UpdatedModelPackageFields"] = updated_fields
    return bus.put(
        "aws.sagemaker",
        "SageMaker Model Package State Change",
        detail,
        account=backend.account_id,
        region=backend.region_name,
        resources=[package.arn],
    )


def apply() -> None:
    global _applied
    if _applied:
        return
    original = models.SageMakerModelBackend.update_model_package
    original_create = models.SageMakerModelBackend.create_model_package

    def update_model_package(
        self,
        model_package_arn,
        model_approval_status,
        approval_description,
        customer_metadata_properties,
        *args,
        **kwargs,
    ):
        arn = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
        package = self.model_packages.get(arn)
        merged = dict((package.customer_metadata_properties or {}) if package else {})
        merged.update(customer_metadata_properties or {})
        answer = original(
            self,
            model_package_arn,
            model_approval_status,
            approval_description,
            merged or None,
            *args,
            **kwargs,
        )
        changed = [
            name
            for name, value in (
                ("ModelApprovalStatus", model_approval_status),
                ("ApprovalDescription", approval_description),
                ("CustomerMetadataProperties", customer_metadata_properties),
            )
            if value is not None
        ]
        state_change(self, self.model_packages[arn], changed)
        return answer

    def create_model_package(self, *args, **kwargs):
        arn = original_create(self, *args, **kwargs)
        state_change(self, self.model_packages[self.model_package_name_mapping.get(arn, arn)])
        return arn

    def delete_model_package(self, name):
        arn = self.model_package_name_mapping.get(name, name)
        if arn not in self.model_packages:
            raise ValidationError(message=f"Model package {name} does not exist.")
        del self.model_packages[arn]
        for key in [k for k, v in self.model_package_name_mapping.items() if v == arn]:
            del self.model_package_name_mapping[key]

    def delete_model_package_group(self, name):
        group = name.rsplit("/", 1)[-1]
        if group not in self.model_package_groups:
            raise ValidationError(message=f"Model Package Group {group} does not exist.")
        if any(p.model_package_group_name == group for p in self.model_packages.values()):
            raise ValidationError(
                message=f"Model Package Group {group} still has model packages; delete them first."
            )
        del self.model_package_groups[group]

    def response_delete_model_package_group(self):
        self.sagemaker_backend.delete_model_package_group(self._get_param("ModelPackageGroupName"))
        return EmptyResult()

    def response_delete_model_package(self):
        self.sagemaker_backend.delete_model_package(self._get_param("ModelPackageName"))
        return EmptyResult()

    models.SageMakerModelBackend.update_model_package = update_model_package
    models.SageMakerModelBackend.create_model_package = create_model_package
    models.SageMakerModelBackend.delete_model_package = delete_model_package
    responses.SageMakerResponse.delete_model_package = response_delete_model_package
    models.SageMakerModelBackend.delete_model_package_group = delete_model_package_group
    responses.SageMakerResponse.delete_model_package_group = response_delete_model_package_group
    _applied = True
