"""Model packages as SageMaker keeps them.

UpdateModelPackage: approving a package keeps its CustomerMetadataProperties.

moto overwrites the package's CustomerMetadataProperties with the request's (None when a reviewer only changes
the approval status), which would lose where the package's held-out test split lives. On AWS the properties in
the request are added or updated, and only CustomerMetadataPropertiesToRemove removes any.

DeleteModelPackage and DeleteModelPackageGroup, which moto lacks, are added (the cleanup command uses them); a group
that still holds packages cannot be deleted, as on AWS.
"""

from __future__ import annotations

from moto.core.responses import EmptyResult
from moto.sagemaker import models, responses
from moto.sagemaker.exceptions import ValidationError

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
    models.SageMakerModelBackend.delete_model_package = delete_model_package
    responses.SageMakerResponse.delete_model_package = response_delete_model_package
    models.SageMakerModelBackend.delete_model_package_group = delete_model_package_group
    responses.SageMakerResponse.delete_model_package_group = response_delete_model_package_group
    _applied = True
