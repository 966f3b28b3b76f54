"""``AWS::SageMaker::ModelPackageGroup`` for moto's CloudFormation (Ref is the group ARN, as on AWS)."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel
from moto.sagemaker.models import sagemaker_backends

from smbundle.local.cfn_support import refresh_model_map


class ModelPackageGroup(CloudFormationModel):
    __module__ = "moto.sagemaker.cfn_ext"

    def __init__(self, name: str, arn: str):
        self.name, self.arn = name, arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::ModelPackageGroup"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ModelPackageGroupName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("ModelPackageGroupArn", "ModelPackageGroupStatus", "CreationTime")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return {"ModelPackageGroupArn": self.arn, "ModelPackageGroupStatus": "Completed"}.get(
            attribute_name, ""
        )

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("ModelPackageGroupName", resource_name)
        arn = sagemaker_backends[account_id][region_name].create_model_package_group(
            model_package_group_name=name,
            model_package_group_description=properties.get("ModelPackageGroupDescription"),
            tags=properties.get("Tags"),
        )
        return cls(name, arn)

    def delete(self, account_id: str, region_name: str) -> None:
        sagemaker_backends[account_id][region_name].model_package_groups.pop(self.name, None)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        name = resource_name.rsplit("/", 1)[-1]
        sagemaker_backends[account_id][region_name].model_package_groups.pop(name, None)


def apply() -> None:
    refresh_model_map()
