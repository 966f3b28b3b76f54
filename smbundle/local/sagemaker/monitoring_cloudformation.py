"""``AWS::SageMaker::DataQualityJobDefinition`` and ``AWS::SageMaker::MonitoringSchedule`` for moto's CloudFormation.

The job definition is created with the API's CreateDataQualityJobDefinition (moto's store); every property is
create-only, so a change replaces it (``resource_permissions`` and the stack operations know). ``Ref`` answers the
job definition's ARN, ``Fn::GetAtt`` ``JobDefinitionArn`` and ``CreationTime``, as CloudFormation documents.

The schedule is created with CreateMonitoringSchedule (``monitoring``), so CloudFormation is refused what the API
refuses (a serverless endpoint, an expression Model Monitor does not accept); a changed
``MonitoringScheduleConfig`` updates it in place (UpdateMonitoringSchedule), a new name replaces it. ``Ref`` and
``Fn::GetAtt MonitoringScheduleArn`` answer its ARN.
"""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel
from moto.sagemaker import models

from smbundle.local.cfn_support import refresh_model_map
from smbundle.local.sagemaker import monitoring

_INTEGERS = ("InstanceCount", "VolumeSizeInGB", "MaxRuntimeInSeconds")


def _typed(value):
    """Numbers that arrive from template parameters as strings, typed as the API types them."""
    if isinstance(value, dict):
        return {k: (int(v) if k in _INTEGERS and isinstance(v, str) else _typed(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return value


def _backend(account_id: str, region_name: str):
    return models.sagemaker_backends[account_id][region_name]


class DataQualityJobDefinition(CloudFormationModel):
    __module__ = "moto.sagemaker.cfn_ext"

    def __init__(self, name: str, arn: str, created):
        self.name, self.arn, self.created = name, arn, created

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::DataQualityJobDefinition"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "JobDefinitionName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("JobDefinitionArn", "CreationTime")

    def get_cfn_attribute(self, attribute_name: str):
        return self.arn if attribute_name == "JobDefinitionArn" else self.created.isoformat()

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = _typed(cloudformation_json["Properties"])
        name = properties.get("JobDefinitionName") or resource_name
        if not monitoring.NAME.match(name):
            raise monitoring.ValidationError(
                message=f"JobDefinitionName '{name}' must match ^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}}"
            )
        backend = _backend(account_id, region_name)
        if name in backend.data_quality_job_definitions:
            raise monitoring.ResourceInUseException(f"Job definition {name} already exists")
        backend.create_data_quality_job_definition(
            account_id=account_id,
            job_definition_name=name,
            tags=properties.get("Tags") or [],
            role_arn=properties["RoleArn"],
            job_resources=properties["JobResources"],
            stopping_condition=properties.get("StoppingCondition"),
            environment=(properties.get("DataQualityAppSpecification") or {}).get("Environment") or {},
            network_config=properties.get("NetworkConfig"),
            data_quality_baseline_config=properties.get("DataQualityBaselineConfig"),
            data_quality_app_specification=properties["DataQualityAppSpecification"],
            data_quality_job_input=properties["DataQualityJobInput"],
            data_quality_job_output_config=properties["DataQualityJobOutputConfig"],
        )
        definition = backend.data_quality_job_definitions[name]
        return cls(name, definition.arn, definition.creation_time)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if self.name in backend.data_quality_job_definitions:
            backend.delete_data_quality_job_definition(self.name)


class MonitoringSchedule(CloudFormationModel):
    __module__ = "moto.sagemaker.cfn_ext"

    def __init__(self, schedule: monitoring.Schedule):
        self.schedule = schedule

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::MonitoringSchedule"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "MonitoringScheduleName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("MonitoringScheduleArn", "CreationTime", "LastModifiedTime")

    def get_cfn_attribute(self, attribute_name: str):
        if attribute_name == "MonitoringScheduleArn":
            return self.schedule.arn
        moment = self.schedule.created if attribute_name == "CreationTime" else self.schedule.modified
        return moment.isoformat()

    @property
    def physical_resource_id(self) -> str:
        return self.schedule.arn

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = _typed(cloudformation_json["Properties"])
        name = properties.get("MonitoringScheduleName") or resource_name
        schedule = monitoring.create_schedule(
            _backend(account_id, region_name),
            name,
            properties["MonitoringScheduleConfig"],
            properties.get("Tags") or [],
        )
        if properties.get("MonitoringScheduleStatus") == "Stopped":
            monitoring.set_running(_backend(account_id, region_name), name, False)
        return cls(schedule)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        properties = _typed(cloudformation_json["Properties"])
        backend = _backend(account_id, region_name)
        schedule = monitoring.update_schedule(
            backend, original_resource.schedule.name, properties["MonitoringScheduleConfig"]
        )
        status = properties.get("MonitoringScheduleStatus")
        if status in ("Scheduled", "Stopped"):
            monitoring.set_running(backend, schedule.name, status == "Scheduled")
        return cls(schedule)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if self.schedule.name in getattr(backend, "local_monitoring_schedules", {}):
            monitoring.delete_schedule(backend, self.schedule.name)


def apply() -> None:
    refresh_model_map()
