"""``AWS::S3::BucketPolicy`` for moto's CloudFormation (the policy is set on the bucket; an update sets it again)."""

from __future__ import annotations

import json

from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends

from smbundle.local.cfn_support import refresh_model_map


class BucketPolicy(CloudFormationModel):
    __module__ = "moto.s3.cfn_ext"

    def __init__(self, bucket: str):
        self.bucket = bucket

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.bucket

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        document = properties["PolicyDocument"]
        policy = document if isinstance(document, str) else json.dumps(document)
        s3_backends[account_id]["aws"].put_bucket_policy(properties["Bucket"], policy.encode())
        return cls(properties["Bucket"])

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        s3_backends[account_id]["aws"].delete_bucket_policy(self.bucket)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        s3_backends[account_id]["aws"].delete_bucket_policy(resource_name)


def apply() -> None:
    refresh_model_map()
