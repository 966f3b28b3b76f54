"""SageMaker Pipelines that really run: StartPipelineExecution executes the definition in the background.

moto marks every execution Succeeded at once and runs nothing. Here an execution starts ``Executing``, a thread
runs its definition (``pipeline_executor``), and ``DescribePipelineExecution`` / ``ListPipelineExecutionSteps``
(which moto lacks) show the real statuses and failure reasons as the steps progress, and SageMaker's execution and
step status change events go to the account's EventBridge rules (``events/bus.py``).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from moto.core.responses import ActionResult
from moto.sagemaker import models, responses
from moto.sagemaker.utils import get_pipeline_execution_from_arn

from smbundle.local.events import bus
from smbundle.local.sagemaker.pipeline_executor import ExecutionState, PipelineExecutor

_applied = False


def _state(execution) -> ExecutionState:
    state = getattr(execution, "local_state", None)
    if state is None:  # started before the extension was applied
        state = ExecutionState(status=execution.pipeline_execution_status)
    return state


def _execute(backend, execution, definition: dict, parameters: dict[str, str], role_arn: str | None) -> None:
    state = execution.local_state

    def emit(detail_type: str, detail: dict) -> None:  # SageMaker's own events, on the account's default bus
        bus.put("aws.sagemaker", detail_type, detail, account=backend.account_id, region=backend.region_name)

    try:
        PipelineExecutor(
            definition, parameters, execution.arn, state, backend, role_arn=role_arn, emit=emit
        ).run()
    finally:
        execution.pipeline_execution_status = state.status
        # As SageMaker reports it: a failed step's reason is the step's (ListPipelineExecutionSteps); the
        # execution's says only that a step failed.
        failed_step = any(step.status == "Failed" for step in state.steps)
        execution.pipeline_execution_failure_reason = (
            "Step failure: One or multiple steps failed." if failed_step else state.failure_reason
        )
        execution.last_modified_time = datetime.now(UTC)


def apply() -> None:
    global _applied
    if _applied:
        return
    backend_class = models.SageMakerModelBackend
    original_start = backend_class.start_pipeline_execution
    original_describe = backend_class.describe_pipeline_execution

    def start_pipeline_execution(self, pipeline_name, *args, **kwargs):
        result = original_start(self, pipeline_name, *args, **kwargs)
        execution = get_pipeline_execution_from_arn(self.pipelines, result["PipelineExecutionArn"])
        execution.local_state = ExecutionState()
        execution.pipeline_execution_status = "Executing"
        definition = json.loads(execution.pipeline_definition_for_execution)
        parameters = {p["Name"]: p["Value"] for p in (execution.pipeline_parameters or [])}
        pipeline = self.pipelines.get(execution.arn.split(":pipeline/")[1].split("/")[0])
        role_arn = pipeline.role_arn if pipeline is not None else None
        thread = threading.Thread(
            target=_execute,
            args=(self, execution, definition, parameters, role_arn),
            name=f"pipeline-{pipeline_name}",
            daemon=True,
        )
        thread.start()
        return result

    def describe_pipeline_execution(self, pipeline_execution_arn):
        answer = original_describe(self, pipeline_execution_arn)
        execution = get_pipeline_execution_from_arn(self.pipelines, pipeline_execution_arn)
        if execution.pipeline_execution_failure_reason:
            answer["FailureReason"] = execution.pipeline_execution_failure_reason
        else:
            answer.pop("FailureReason", None)
        return answer

    def list_pipeline_execution_steps(self, pipeline_execution_arn, sort_order="Descending"):
        execution = get_pipeline_execution_from_arn(self.pipelines, pipeline_execution_arn)
        steps = [record.to_api() for record in _state(execution).steps]
        steps.sort(key=lambda s: s["StartTime"], reverse=sort_order != "Ascending")
        return {"PipelineExecutionSteps": steps}

    def response_list_pipeline_execution_steps(self):
        return ActionResult(
            self.sagemaker_backend.list_pipeline_execution_steps(
                self._get_param("PipelineExecutionArn"), self._get_param("SortOrder") or "Descending"
            )
        )

    backend_class.start_pipeline_execution = start_pipeline_execution
    backend_class.describe_pipeline_execution = describe_pipeline_execution
    backend_class.list_pipeline_execution_steps = list_pipeline_execution_steps
    responses.SageMakerResponse.list_pipeline_execution_steps = response_list_pipeline_execution_steps
    _applied = True
