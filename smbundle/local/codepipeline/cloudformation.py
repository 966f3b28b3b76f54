"""``AWS::CodePipeline::Pipeline`` for moto's CloudFormation: stages verbatim, as GetPipeline returns them.

As on AWS, a pipeline starts its first execution as soon as it is created. A stack update changes it in place
(UpdatePipeline: a new version, its executions kept), which, as on AWS, starts no execution.
"""

from __future__ import annotations

from moto.codepipeline.models import codepipeline_backends
from moto.core.common_models import CloudFormationModel

from smbundle.local.cfn_support import api_string, camel_keys, refresh_model_map
from smbundle.local.codepipeline import executions
from smbundle.local.iam import principals


def pipeline_from_properties(name: str, properties: dict) -> dict:
    """The CreatePipeline request that CloudFormation sends for these properties."""
    stages = []
    for stage in properties["Stages"]:
        actions = []
        for action in stage["Actions"]:
            converted = camel_keys({k: v for k, v in action.items() if k != "Configuration"})
            converted["configuration"] = {
                k: api_string(v) for k, v in (action.get("Configuration") or {}).items()
            }
            converted["runOrder"] = int(action.get("RunOrder", 1))
            actions.append(converted)
        stages.append({"name": stage["Name"], "actions": actions})
    pipeline = {
        "name": name,
        "roleArn": properties["RoleArn"],
        "artifactStore": camel_keys(properties["ArtifactStore"]),
        "stages": stages,
        "pipelineType": properties.get("PipelineType", "V1"),
    }
    if "ExecutionMode" in properties:
        pipeline["executionMode"] = properties["ExecutionMode"]
    return pipeline


class CodePipelinePipeline(CloudFormationModel):
    __module__ = "moto.codepipeline.cfn_ext"

    def __init__(self, name: str, version: int):
        self.name, self.version = name, version

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodePipeline::Pipeline"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Version"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return str(self.version)

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("Name", resource_name)
        tags = [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags", [])]
        backend = codepipeline_backends[account_id][region_name]
        pipeline, _ = backend.create_pipeline(pipeline_from_properties(name, properties), tags)
        # CodePipeline starts a new pipeline once, as soon as it is created.
        caller = principals.caller.get()
        executions.start(
            backend,
            name,
            trigger={"triggerType": "CreatePipeline", "triggerDetail": caller.arn if caller else ""},
        )
        return cls(name, pipeline["version"])

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        """UpdatePipeline (and the tags): a new version of the same pipeline; no execution starts."""
        properties = cloudformation_json["Properties"]
        backend = codepipeline_backends[account_id][region_name]
        name = original_resource.name
        pipeline = backend.update_pipeline(pipeline_from_properties(name, properties))
        wanted = {t["Key"]: t["Value"] for t in properties.get("Tags", [])}
        stored = backend.pipelines[name].tags
        for key in [k for k in stored if k not in wanted]:
            stored.pop(key)
        stored.update(wanted)
        return cls(name, pipeline["version"])

    def delete(self, account_id: str, region_name: str) -> None:
        codepipeline_backends[account_id][region_name].delete_pipeline(self.name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        codepipeline_backends[account_id][region_name].delete_pipeline(resource_name)


def apply() -> None:
    refresh_model_map()
