"""``AWS::CodeBuild::Project`` for moto's CloudFormation: the whole project, as BatchGetProjects returns it.

A stack update changes the project in place (CodeBuild's UpdateProject: same ARN, creation date and build history);
a new ``Name`` replaces it, which the stack operation handles (the name is create-only).
"""

from __future__ import annotations

from moto.codebuild.models import codebuild_backends
from moto.core.common_models import CloudFormationModel
from moto.core.utils import unix_time

from smbundle.local.cfn_support import api_string, camel_keys, refresh_model_map


def project_from_properties(properties: dict) -> dict:
    """The CreateProject request that CloudFormation sends for these properties."""
    source = camel_keys(properties["Source"])
    if "buildSpec" in source:
        source["buildspec"] = source.pop("buildSpec")
    environment = camel_keys(properties["Environment"])
    environment["environmentVariables"] = [
        {"name": v["Name"], "value": api_string(v["Value"]), "type": v.get("Type", "PLAINTEXT")}
        for v in properties["Environment"].get("EnvironmentVariables", [])
    ]
    return {
        "description": properties.get("Description"),
        "project_source": source,
        "artifacts": camel_keys(properties["Artifacts"]),
        "environment": environment,
        "service_role": properties["ServiceRole"],
        "tags": [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags", [])],
        "cache": camel_keys(properties["Cache"]) if "Cache" in properties else None,
        "timeout": int(properties.get("TimeoutInMinutes", 60)),
        "queued_timeout": int(properties.get("QueuedTimeoutInMinutes", 480)),
        "source_version": properties.get("SourceVersion"),
        "logs_config": camel_keys(properties["LogsConfig"]) if "LogsConfig" in properties else None,
        "vpc_config": camel_keys(properties["VpcConfig"]) if "VpcConfig" in properties else None,
    }


class CodeBuildProject(CloudFormationModel):
    __module__ = "moto.codebuild.cfn_ext"

    def __init__(self, name: str, arn: str):
        self.name, self.arn = name, arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeBuild::Project"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("Name", resource_name)
        metadata = codebuild_backends[account_id][region_name].create_project(
            project_name=name, **project_from_properties(properties)
        )
        return cls(name, metadata["arn"])

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        """UpdateProject: the new settings on the same project."""
        backend = codebuild_backends[account_id][region_name]
        name = original_resource.name
        before = backend.codebuild_projects[name].project_metadata
        history = backend.build_history.get(name, [])
        metadata = backend.create_project(
            project_name=name, **project_from_properties(cloudformation_json["Properties"])
        )
        backend.build_history[name] = history
        metadata["created"] = before["created"]
        metadata["lastModifiedDate"] = unix_time()
        return cls(name, metadata["arn"])

    def delete(self, account_id: str, region_name: str) -> None:
        codebuild_backends[account_id][region_name].delete_project(self.name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        codebuild_backends[account_id][region_name].delete_project(resource_name)


def apply() -> None:
    refresh_model_map()
