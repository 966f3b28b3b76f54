"""UpdateModelPackage as SageMaker does it: approving a package keeps its CustomerMetadataProperties.

moto overwrites the package's CustomerMetadataProperties with the request's (None when a reviewer only changes
the approval status), which would lose where the package's held-out test split lives. On AWS the properties in
the request are added or updated, and only CustomerMetadataPropertiesToRemove removes any.
"""

from __future__ import annotations

from moto.sagemaker import models

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    original = models.SageMakerModelBackend.update_model_package

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
        return original(
            self,
            model_package_arn,
            model_approval_status,
            approval_description,
            merged or None,
            *args,
            **kwargs,
        )

    models.SageMakerModelBackend.update_model_package = update_model_package
    _applied = True
