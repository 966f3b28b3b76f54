"""SageMaker features closed to new customers, as a new account meets them (and as an existing customer does not).

Since 2026-07-30 AWS's developer guide says on every page of both: "Amazon SageMaker Model Monitor is no longer
open to new customers. Existing customers can continue to use the service as normal." and the same of Debugger
("Model Monitor availability change", "Debugger availability change"). The embedded account is a new customer's
by default, so what a new account cannot use is refused here:

- Model Monitor: ``CreateMonitoringSchedule`` and ``CreateDataQualityJobDefinition`` (through the API and through
  CloudFormation's ``AWS::SageMaker::MonitoringSchedule`` / ``DataQualityJobDefinition``), and a processing job that
  runs the Model Monitor analyzer image (what the SDK's ``QualityCheckStep`` runs);
- Debugger: a training job with ``DebugHookConfig``, ``DebugRuleConfigurations``, ``TensorBoardOutputConfig``,
  ``ProfilerRuleConfigurations`` or a ``ProfilerConfig`` that does not disable the profiler.

``set_existing_customer(True)`` (``local_aws.py --existing-customer``, ``run_local.py --existing-customer``) makes
the account one that already used both. AWS does not publish the error a new account gets: the wording here is
ours (a ``ValidationException`` naming the availability change and what to remove), and docs/local.md says so.
"""

from __future__ import annotations

from moto.sagemaker import models, responses
from moto.sagemaker.exceptions import ValidationError

MODEL_MONITOR_IMAGE = "sagemaker-model-monitor-analyzer"
DEBUGGER_SETTINGS = (
    "DebugHookConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ProfilerRuleConfigurations",
)

_existing_customer = False
_applied = False


def set_existing_customer(existing: bool) -> None:
    """Whether the embedded account already used Model Monitor and Debugger (False: a new customer's)."""
    global _existing_customer
    _existing_customer = bool(existing)


def is_existing_customer() -> bool:
    return _existing_customer


class NotOpenToNewCustomers(ValidationError):
    """A feature this account cannot use (a ValidationException, as the API answers it)."""


def _model_monitor(operation: str) -> NotOpenToNewCustomers:
    return NotOpenToNewCustomers(
        message=f"{operation} is not available to this account: Amazon SageMaker Model Monitor is no longer open "
        "to new customers, and this account is not an existing customer (see 'Amazon SageMaker Model Monitor "
        "availability change')"
    )


def check_model_monitor(operation: str) -> None:
    if not _existing_customer:
        raise _model_monitor(operation)


def check_processing_image(image_uri: str | None) -> None:
    """A processing job may not run the Model Monitor analyzer image in a new account."""
    if not _existing_customer and MODEL_MONITOR_IMAGE in str(image_uri or ""):
        raise _model_monitor(f"A processing job with image {image_uri}")


def debugger_settings(request: dict) -> list[str]:
    """The Debugger settings a CreateTrainingJob request (or a pipeline's TrainingStep arguments) carries."""
    found = [key for key in DEBUGGER_SETTINGS if request.get(key)]
    profiler = request.get("ProfilerConfig")
    if profiler is not None and str(profiler.get("DisableProfiler", False)).lower() != "true":
        found.append("ProfilerConfig")
    return found


def check_training(request: dict) -> None:
    found = debugger_settings(request)
    if found and not _existing_customer:
        raise NotOpenToNewCustomers(
            message=f"CreateTrainingJob with {', '.join(found)} is not available to this account: Amazon SageMaker "
            "Debugger is no longer open to new customers, and this account is not an existing customer (see "
            "'Amazon SageMaker Debugger availability change'). Remove DebugHookConfig, DebugRuleConfigurations, "
            "TensorBoardOutputConfig and ProfilerRuleConfigurations and set ProfilerConfig.DisableProfiler to true "
            "(SageMaker Python SDK: debugger_hook_config=False, disable_profiler=True)"
        )


def apply() -> None:
    global _applied
    if _applied:
        return
    backend_class = models.SageMakerModelBackend
    original_definition = backend_class.create_data_quality_job_definition
    original_processing = backend_class.create_processing_job
    original_training_response = responses.SageMakerResponse.create_training_job

    def create_data_quality_job_definition(self, *args, **kwargs):
        check_model_monitor("CreateDataQualityJobDefinition")
        return original_definition(self, *args, **kwargs)

    def create_processing_job(self, *args, **kwargs):
        check_processing_image((kwargs.get("app_specification") or {}).get("ImageUri"))
        return original_processing(self, *args, **kwargs)

    def create_training_job(self):
        check_training({key: self._get_param(key) for key in (*DEBUGGER_SETTINGS, "ProfilerConfig")})
        return original_training_response(self)

    backend_class.create_data_quality_job_definition = create_data_quality_job_definition
    backend_class.create_processing_job = create_processing_job
    responses.SageMakerResponse.create_training_job = create_training_job
    _applied = True
