"""SageMaker answers where moto's differ from AWS's, in what a user reads with the console or the CLI:

- ``CreatedBy`` / ``LastModifiedBy`` of a pipeline and of an execution: the IAM identity that made the call
  (``IamIdentity`` ``Arn`` and ``PrincipalId``: the role session of a build, your own user), where moto shows a
  made-up Studio user profile of a ``fake-domain-id``;
- ``ListPipelineExecutions``: no ``PipelineExecutionFailureReason`` unless an execution failed (moto answers the string
  "None"), newest first as the API's default ``SortOrder`` (Descending), ``SortBy`` honoured;
- an endpoint config without ``AsyncInferenceConfig`` has none in its description (moto answers an empty one).
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.sagemaker import models, responses
from moto.sagemaker.utils import get_pipeline_execution_from_arn, get_pipeline_from_name

from smbundle.local.iam import principals
from smbundle.local.iam.principals import PARTITION

_applied = False


def identity(account: str) -> dict:
    """The caller of the request being handled, as CreatedBy shows an IAM identity."""
    caller = principals.caller.get()
    if caller is None:
        return {"IamIdentity": {"Arn": f"arn:aws:iam::{account}:root", "PrincipalId": account}}
    return {"IamIdentity": {"Arn": caller.arn, "PrincipalId": f"{_role_id(caller)}:{caller.session_name}"}}


def _role_id(caller) -> str:
    """The role's unique ID (AROA...), as an assumed role's principal ID begins."""
    from moto.iam.models import iam_backends

    for role in iam_backends[caller.account][PARTITION].roles.values():
        if role.arn == caller.role_arn:
            return role.id
    return caller.role_name


def apply() -> None:
    global _applied
    if _applied:
        return
    backend = models.SageMakerModelBackend
    original_create, original_update = backend.create_pipeline, backend.update_pipeline
    original_start, original_config = (
        backend.start_pipeline_execution,
        models.FakeEndpointConfig.response_object,
    )

    def create_pipeline(self, pipeline_name, *args, **kwargs):
        answer = original_create(self, pipeline_name, *args, **kwargs)
        pipeline = self.pipelines[pipeline_name]
        pipeline.created_by = pipeline.last_modified_by = identity(self.account_id)
        return answer

    def update_pipeline(self, pipeline_name, *args, **kwargs):
        answer = original_update(self, pipeline_name, *args, **kwargs)
        self.pipelines[pipeline_name].last_modified_by = identity(self.account_id)
        return answer

    def start_pipeline_execution(self, pipeline_name, *args, **kwargs):
        answer = original_start(self, pipeline_name, *args, **kwargs)
        execution = get_pipeline_execution_from_arn(self.pipelines, answer["PipelineExecutionArn"])
        execution.created_by = execution.last_modified_by = identity(self.account_id)
        return answer

    def list_pipeline_executions(self):
        pipeline = get_pipeline_from_name(self.sagemaker_backend.pipelines, self._get_param("PipelineName"))
        summaries = []
        for arn, execution in pipeline.pipeline_executions.items():
            summary = {
                "PipelineExecutionArn": arn,
                "StartTime": execution.start_time,
                "PipelineExecutionStatus": execution.pipeline_execution_status,
                "PipelineExecutionDisplayName": execution.pipeline_execution_display_name,
            }
            if execution.pipeline_execution_description:
                summary["PipelineExecutionDescription"] = execution.pipeline_execution_description
            if execution.pipeline_execution_failure_reason:
                summary["PipelineExecutionFailureReason"] = execution.pipeline_execution_failure_reason
            summaries.append(summary)
        key = "PipelineExecutionArn" if self._get_param("SortBy") == "PipelineExecutionArn" else "StartTime"
        summaries.sort(
            key=lambda s: s[key], reverse=(self._get_param("SortOrder") or "Descending") == "Descending"
        )
        return ActionResult({"PipelineExecutionSummaries": summaries})

    def endpoint_config_response(self):
        answer = original_config.fget(self)
        if not answer.get("AsyncInferenceConfig"):
            answer.pop("AsyncInferenceConfig", None)
        return answer

    backend.create_pipeline = create_pipeline
    backend.update_pipeline = update_pipeline
    backend.start_pipeline_execution = start_pipeline_execution
    responses.SageMakerResponse.list_pipeline_executions = list_pipeline_executions
    models.FakeEndpointConfig.response_object = property(endpoint_config_response)
    _applied = True
