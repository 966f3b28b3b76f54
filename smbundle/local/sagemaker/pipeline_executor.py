"""Execute a SageMaker Pipeline definition locally, step by step, as SageMaker would.

- ``Processing``: inputs are copied from the embedded S3 into a local directory tree that mirrors the container's
  ``/opt/ml/...`` paths; the entrypoint runs in its own process with this Python (a fork of a pre-imported worker,
  ``step_worker``; every entrypoint element and argument
  that starts with ``/opt/ml/`` is mapped to the local tree); outputs are uploaded to their S3 destinations.
- ``Training`` with the built-in XGBoost image: the channels are downloaded and ``xgboost_algorithm`` trains with
  xgboost-cpu on them with the definition's hyperparameters (what it honours and rejects is listed there); the
  ``model.tar.gz`` (``xgboost-model``) is written where SageMaker would, and the final metrics are the step's.
- ``QualityCheck`` (``DATA_QUALITY``, the SDK's QualityCheckStep): the Model Monitor analyzer's baselining job
  (``analyzer``) on the step's dataset, as the job's role: ``statistics.json`` and ``constraints.json`` to the
  step's output; with ``SkipCheck`` false, the new data is first checked against the supplied baseline or the
  group's newest Approved package's ``DriftCheckBaselines`` (violations fail the step when ``FailOnViolation``).
  Its properties (``CalculatedBaseline*``, ``BaselineUsedForDriftCheck*``) are what the registration reads.
- ``Condition``, ``RegisterModel``, ``Model`` and ``Fail`` as the service runs them.

Steps run in dependency order (``DependsOn`` and data references). The first failing step fails the execution.
As each step and the execution change status, SageMaker's EventBridge events ("SageMaker Model Building Pipeline
Execution Status Change" / "... Step Status Change", with the documented detail fields) go to ``emit``.

Every step acts as AWS's principals do: the pipeline's role creates the jobs and registers models (passing the
jobs' role), and a job reads its inputs and writes its outputs as the job's role; the embedded IAM authorizes
each call, and a denial fails the step with AWS's message. A ``RegisterModel`` step into a model package group
that does not exist yet creates the group (as the pipeline role), as project templates that create no group
rely on.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import string
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.abalone import data_quality as analyzer

from smbundle.local import crashes
from smbundle.local.iam import enforcement
from smbundle.local.iam.principals import Principal
from smbundle.local.s3 import objects
from smbundle.local.sagemaker import availability, model_access, step_worker, xgboost_algorithm
from smbundle.local.sagemaker.pipeline_expressions import Context, evaluate_condition, references, resolve

log = logging.getLogger(__name__)

CONTAINER_ROOT = "/opt/ml/"


class StepFailed(Exception):
    """A step failed; the message is its FailureReason."""


@dataclass
class StepRecord:
    name: str
    display_name: str | None
    status: str = "Executing"
    start_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    end_time: datetime | None = None
    metadata: dict = field(default_factory=dict)
    failure_reason: str | None = None

    def to_api(self) -> dict:
        record = {
            "StepName": self.name,
            "StepStatus": self.status,
            "StartTime": self.start_time,
            "Metadata": self.metadata,
            "AttemptCount": 1,
        }
        if self.display_name:
            record["StepDisplayName"] = self.display_name
        if self.end_time:
            record["EndTime"] = self.end_time
        if self.failure_reason:
            record["FailureReason"] = self.failure_reason
        return record


@dataclass
class ExecutionState:
    """What the embedded SageMaker shows of a running execution."""

    status: str = "Executing"
    failure_reason: str | None = None
    steps: list[StepRecord] = field(default_factory=list)


def _job_suffix() -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=12))


class PipelineExecutor:
    def __init__(
        self,
        definition: dict,
        parameters: dict[str, str],
        execution_arn: str,
        state: ExecutionState,
        sagemaker_backend,
        workdir: Path | None = None,
        role_arn: str | None = None,
        emit=None,
    ):
        self.definition = definition
        self.emit = emit or (lambda detail_type, detail: None)
        self.role_arn = role_arn
        self.execution_arn = execution_arn
        self.state = state
        self.backend = sagemaker_backend
        self.account_id = execution_arn.split(":")[4]
        self.region = execution_arn.split(":")[3]
        self.execution_id = execution_arn.rsplit("/", 1)[-1]
        self.pipeline_name = execution_arn.split(":pipeline/")[1].split("/")[0]
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"smbundle-pipeline-{self.execution_id}-"))
        self.context = Context(
            parameters=self._parameters(parameters),
            execution={
                "PipelineExecutionId": self.execution_id,
                "PipelineExecutionArn": execution_arn,
                "PipelineName": self.pipeline_name,
                "PipelineArn": execution_arn.split("/execution/")[0],
                "StartDateTime": datetime.now(UTC).isoformat(),
                "CurrentDateTime": datetime.now(UTC).isoformat(),
            },
        )

    def _parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        casts = {"Integer": int, "Float": float, "Boolean": lambda v: str(v).lower() == "true", "String": str}
        values = {}
        for spec in self.definition.get("Parameters", []):
            raw = overrides.get(spec["Name"], spec.get("DefaultValue"))
            values[spec["Name"]] = None if raw is None else casts.get(spec.get("Type", "String"), str)(raw)
        unknown = set(overrides) - set(values)
        if unknown:
            raise StepFailed(f"unknown pipeline parameters: {sorted(unknown)}")
        return values

    # -- orchestration -------------------------------------------------------------------------------------
    def _execution_event(self, previous: str | None) -> None:
        detail = {
            "currentPipelineExecutionStatus": self.state.status,
            "executionStartTime": self.context.execution["StartDateTime"],
            "pipelineArn": self.context.execution["PipelineArn"],
            "pipelineExecutionArn": self.execution_arn,
            "pipelineExecutionDisplayName": self.execution_id,
        }
        if previous:
            detail["previousPipelineExecutionStatus"] = previous
        if self.state.status != "Executing":
            detail["executionEndTime"] = datetime.now(UTC).isoformat()
        self.emit("SageMaker Model Building Pipeline Execution Status Change", detail)

    def _step_event(self, step: dict, record: StepRecord, previous: str | None) -> None:
        detail = {
            "metadata": _camel(record.metadata),
            "stepStartTime": record.start_time.isoformat(),
            "stepName": record.name,
            "stepType": step["Type"],
            "currentStepStatus": record.status,
            "pipelineArn": self.context.execution["PipelineArn"],
            "pipelineExecutionArn": self.execution_arn,
        }
        if previous:
            detail["previousStepStatus"] = previous
        if record.end_time:
            detail["stepEndTime"] = record.end_time.isoformat()
        if record.failure_reason:
            detail["failureReason"] = record.failure_reason
        self.emit("SageMaker Model Building Pipeline Execution Step Status Change", detail)

    def run(self) -> None:
        self._execution_event(None)
        try:
            self._check_role()
            pending = deque(self.definition["Steps"])
            done: set[str] = set()
            while pending:
                step = self._next_ready(pending, done)
                pending.remove(step)
                for extra in self._run_step(step):
                    pending.append(extra)
                done.add(step["Name"])
            self.state.status = "Succeeded"
        except StepFailed as failure:
            self.state.status = "Failed"
            self.state.failure_reason = str(failure)
        except Exception as exc:  # an executor bug must still end the execution, visibly
            crashes.report(log, "pipeline execution %s crashed", self.execution_arn)
            self.state.status = "Failed"
            self.state.failure_reason = f"local executor error: {exc}"
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self._execution_event("Executing")

    def _next_ready(self, pending: deque, done: set[str]) -> dict:
        for step in pending:
            needed = set(step.get("DependsOn", [])) | references(step.get("Arguments", {}))
            needed |= references(step.get("PropertyFiles", []))
            if needed <= done:
                return step
        names = [s["Name"] for s in pending]
        raise StepFailed(f"steps {names} wait for steps that never run (check DependsOn and references)")

    def _run_step(self, step: dict) -> list[dict]:
        record = StepRecord(step["Name"], step.get("DisplayName"))
        self.state.steps.append(record)
        self._step_event(step, record, None)
        runner = {
            "Processing": self._processing,
            "QualityCheck": self._quality_check,
            "Training": self._training,
            "Condition": self._condition,
            "RegisterModel": self._register_model,
            "Model": self._model,
            "Fail": self._fail,
        }.get(step["Type"])
        try:
            if runner is None:
                raise StepFailed(f"step type {step['Type']} cannot run locally")
            arguments = resolve(step.get("Arguments", {}), self.context)
            extra_steps = runner(step, arguments, record) or []
            record.status = "Succeeded"
            return extra_steps
        except StepFailed as failure:
            record.status = "Failed"
            record.failure_reason = str(failure)
            self._end_job(failure=str(failure))
            raise
        finally:
            record.end_time = datetime.now(UTC)
            self._step_event(step, record, "Executing")

    # -- who may do what -----------------------------------------------------------------------------------
    def _check_role(self) -> None:
        """SageMaker runs the pipeline as its role: the role must exist and trust sagemaker.amazonaws.com."""
        from smbundle.local.iam import principals

        if not self.role_arn or not enforcement.is_enabled():
            return
        found = principals.role(self.role_arn)
        if found is None or not principals.trusts(
            found.assume_role_policy_document, "sagemaker.amazonaws.com"
        ):
            raise StepFailed(
                f"Unable to assume role {self.role_arn}: ensure that the role exists and that its trust policy "
                "allows sagemaker.amazonaws.com to call sts:AssumeRole"
            )

    def _authorize(
        self, role_arn: str | None, action: str, resource: str, context: dict | None = None
    ) -> None:
        if not role_arn:
            return
        try:
            enforcement.authorize(Principal(role_arn, "SageMaker"), action, resource, context, self.region)
        except enforcement.AccessDenied as denial:
            raise StepFailed(f"ClientError: {denial}") from None

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{kind}/{name.lower()}"

    def _create_job(self, kind: str, job_name: str, job_role: str | None, arguments: dict) -> None:
        """The pipeline's role creates a job (passing the job's role to SageMaker); the job is listed by
        ListProcessingJobs / ListTrainingJobs, InProgress until the step ends."""
        action = {"processing-job": "CreateProcessingJob", "training-job": "CreateTrainingJob"}[kind]
        if not job_role:  # the API requires a role: a job never runs as nobody
            raise StepFailed(
                f"ClientError: Failed to invoke sagemaker:{action}. Error Details: 1 validation error detected: "
                "Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
            )
        self._authorize(self.role_arn, f"sagemaker:{action}", self._arn(kind, job_name))
        if job_role:
            self._authorize(
                self.role_arn, "iam:PassRole", job_role, {"iam:PassedToService": "sagemaker.amazonaws.com"}
            )
        specification = arguments.get("AppSpecification") or arguments.get("AlgorithmSpecification") or {}
        image = specification.get("ImageUri") or specification.get("TrainingImage")
        pull = model_access.image_pull_problem(job_role, image, self.account_id, self.region)
        if pull:
            raise StepFailed(f"ClientError: {pull}")
        tags = [{"Key": "sagemaker:pipeline-execution-arn", "Value": self.execution_arn}]
        try:
            self._job = self._new_job(kind, job_name, job_role, arguments, tags)
        except availability.NotOpenToNewCustomers as refused:
            # As a pipeline step reports an API call the service refused.
            raise StepFailed(
                f"ClientError: Failed to invoke sagemaker:{action}. Error Details: {refused.message}"
            ) from None

    def _new_job(self, kind: str, job_name: str, job_role: str | None, arguments: dict, tags: list[dict]):
        if kind == "processing-job":
            job = self.backend.create_processing_job(
                app_specification=arguments.get("AppSpecification"),
                experiment_config=None,
                network_config=arguments.get("NetworkConfig"),
                processing_inputs=arguments.get("ProcessingInputs"),
                processing_job_name=job_name,
                processing_output_config=arguments.get("ProcessingOutputConfig"),
                role_arn=job_role,
                tags=tags,
                stopping_condition=arguments.get("StoppingCondition"),
            )
            job.processing_job_status = "InProgress"
        else:
            availability.check_training(arguments)
            job = self.backend.create_training_job(
                training_job_name=job_name,
                hyper_parameters=arguments.get("HyperParameters"),
                algorithm_specification=arguments.get("AlgorithmSpecification"),
                role_arn=job_role,
                input_data_config=arguments.get("InputDataConfig"),
                output_data_config=arguments.get("OutputDataConfig"),
                resource_config=arguments.get("ResourceConfig"),
                vpc_config=None,
                stopping_condition=arguments.get("StoppingCondition"),
                tags=tags,
                enable_network_isolation=False,
                enable_inter_container_traffic_encryption=False,
                enable_managed_spot_training=False,
                checkpoint_config=None,
                debug_hook_config=None,
                debug_rule_configurations=None,
                tensor_board_output_config=None,
                experiment_config=None,
            )
            job.training_job_status = job.secondary_status = "InProgress"
        return job

    def _end_job(self, failure: str | None = None, **attributes) -> None:
        job, self._job = getattr(self, "_job", None), None
        if job is None:
            return
        status = "Failed" if failure else "Completed"
        if hasattr(job, "processing_job_status"):
            job.processing_job_status = status
        else:
            job.training_job_status = job.secondary_status = status
        if failure:
            job.failure_reason = failure
        for name, value in attributes.items():
            setattr(job, name, value)

    def _job_credentials(self, job_role: str | None) -> dict[str, str]:
        """The job role's temporary credentials and the embedded AWS's endpoint, for the job's own AWS calls (none
        when the pipeline runs without a server, as in unit tests: the job then has no AWS access at all)."""
        from smbundle.local.codepipeline.executions import settings
        from smbundle.local.iam import sessions

        if not job_role or not settings.endpoint_url:
            return {}
        try:
            role = sessions.assume(
                self.region,
                settings.endpoint_url,
                job_role,
                "sagemaker.amazonaws.com",
                f"SageMaker-{self.execution_id}"[:64],
            )
        except sessions.RoleUnusable as unusable:
            raise StepFailed(f"ClientError: {unusable}") from None
        return {**role.credentials.environment(), "AWS_ENDPOINT_URL": settings.endpoint_url}

    def _job_log(
        self, kind: str, job_name: str, job_role: str | None, lines: list[str], started: float
    ) -> None:
        """A job's output where SageMaker writes it (``/aws/sagemaker/ProcessingJobs`` or ``TrainingJobs``, stream
        ``<job>/algo-1-<epoch seconds>``), as the job's role; a role that may not write it fails the step."""
        from smbundle.local.logs import writer

        principal = Principal(job_role, "SageMaker") if job_role else None
        moment = int(started * 1000)
        try:
            writer.write(
                principal,
                self.region,
                self.account_id,
                f"/aws/sagemaker/{kind}",
                f"{job_name}/algo-1-{int(started)}",
                [(moment, line) for line in lines],
            )
        except enforcement.AccessDenied as denial:
            raise StepFailed(f"ClientError: {denial}") from None

    # -- step types ----------------------------------------------------------------------------------------
    def _local(self, container_path: str, root: Path) -> Path:
        return root / container_path[len(CONTAINER_ROOT) :]

    def _map(self, value: str, root: Path) -> str:
        return str(self._local(value, root)) if value.startswith(CONTAINER_ROOT) else value

    def _download(self, uri: str, target: Path, role_arn: str | None = None) -> None:
        bucket, prefix = objects.split_uri(uri)
        located = objects.bucket_region(bucket, self.account_id)
        if located is not None and located != self.region:
            # SageMaker jobs read their input from their own Region only (the API reference: "Your input bucket
            # must be located in same Amazon Web Services region as your training job"); the wording is modelled
            # on the job errors AWS publishes (docs/local.md).
            raise StepFailed(
                f"ClientError: Data download failed:Unable to download object {uri} (BucketRegionError: bucket "
                f"{bucket} is in {located}, but the job runs in {self.region}: bucket must be in the same region "
                "as the job)"
            )
        self._authorize(role_arn, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix})
        keys = objects.list_keys(uri, self.account_id)
        if not keys:
            raise StepFailed(f"input {uri} does not exist")
        target.mkdir(parents=True, exist_ok=True)
        for key in keys:
            self._authorize(role_arn, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
            relative = key[len(prefix) :].lstrip("/") or Path(key).name
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(objects.get_bytes(f"s3://{bucket}/{key}", self.account_id))

    def _upload(self, source: Path, uri: str, role_arn: str | None = None) -> None:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            target = f"{uri.rstrip('/')}/{path.relative_to(source).as_posix()}"
            self._authorize(role_arn, "s3:PutObject", "arn:aws:s3:::" + target[len("s3://") :])
            objects.put_bytes(target, path.read_bytes(), self.account_id)

    def _processing(self, step: dict, arguments: dict, record: StepRecord) -> None:
        job_name = f"pipelines-{self.execution_id}-{step['Name'][:40]}-{_job_suffix()}"
        job_role = arguments.get("RoleArn")
        self._create_job("processing-job", job_name, job_role, arguments)
        root = self.workdir / step["Name"]
        for item in arguments.get("ProcessingInputs", []):
            s3_input = item["S3Input"]
            self._download(s3_input["S3Uri"], self._local(s3_input["LocalPath"], root), job_role)
        outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
        for item in outputs:
            self._local(item["S3Output"]["LocalPath"], root).mkdir(parents=True, exist_ok=True)
        app = arguments["AppSpecification"]
        command = [self._map(str(v), root) for v in app.get("ContainerEntrypoint", [])]
        command += [self._map(str(v), root) for v in app.get("ContainerArguments", [])]
        if command and Path(command[0]).name in ("python", "python3"):
            command[0] = sys.executable
        log_path = root / "job.log"
        environment = _job_environment(
            arguments.get("Environment") or {}, self._job_credentials(job_role), self.region, root / "home"
        )
        started = time.time()
        code = step_worker.run(command, root, environment, log_path)
        self._job_log(
            "ProcessingJobs", job_name, job_role, log_path.read_text(errors="replace").splitlines(), started
        )
        if code != 0:
            tail = " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-3:])
            raise StepFailed(f"ProcessingJob {job_name} failed: AlgorithmError: exit code {code}: {tail}")
        for item in outputs:
            self._upload(
                self._local(item["S3Output"]["LocalPath"], root), item["S3Output"]["S3Uri"], job_role
            )
        for spec in step.get("PropertyFiles", []):
            output = next(o for o in outputs if o["OutputName"] == spec["OutputName"])
            path = self._local(output["S3Output"]["LocalPath"], root) / spec["FilePath"]
            if not path.is_file():
                raise StepFailed(
                    f"property file {spec['FilePath']} was not written to output {spec['OutputName']}"
                )
            self.context.property_files.setdefault(step["Name"], {})[spec["PropertyFileName"]] = json.loads(
                path.read_text()
            )
        self._end_job()
        arn = f"arn:aws:sagemaker:{self.region}:{self.account_id}:processing-job/{job_name}"
        record.metadata = {"ProcessingJob": {"Arn": arn}}
        self.context.steps[step["Name"]] = dict(
            arguments, ProcessingJobName=job_name, ProcessingJobArn=arn, ProcessingJobStatus="Completed"
        )

    def _training(self, step: dict, arguments: dict, record: StepRecord) -> None:
        job_name = f"pipelines-{self.execution_id}-{step['Name'][:40]}-{_job_suffix()}"
        job_role = arguments.get("RoleArn")
        try:
            xgboost_algorithm.check_job(
                arguments
            )  # before any download, as the service validates the request
            self._create_job("training-job", job_name, job_role, arguments)
            channels = {}
            for channel in arguments.get("InputDataConfig", []):
                target = self.workdir / step["Name"] / channel["ChannelName"]
                self._download(channel["DataSource"]["S3DataSource"]["S3Uri"], target, job_role)
                channels[channel["ChannelName"]] = target
            started = time.time()
            result = xgboost_algorithm.train(arguments, channels)
        except xgboost_algorithm.TrainingError as error:
            self._job_log("TrainingJobs", job_name, job_role, [f"[error] {error}"], time.time())
            raise StepFailed(f"TrainingJob {job_name} failed: {error}") from None
        self._job_log(
            "TrainingJobs",
            job_name,
            job_role,
            [
                f"[{result.rounds}]#011"
                + "#011".join(f"{m['MetricName']}:{m['Value']:g}" for m in result.metrics)
            ],
            started,
        )
        output_path = arguments["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        artifact = f"{output_path}/{job_name}/output/model.tar.gz"
        self._authorize(job_role, "s3:PutObject", "arn:aws:s3:::" + artifact[len("s3://") :])
        objects.put_bytes(artifact, result.model_tar_gz, self.account_id)
        self._end_job(model_artifacts={"S3ModelArtifacts": artifact}, final_metric_data_list=result.metrics)
        arn = f"arn:aws:sagemaker:{self.region}:{self.account_id}:training-job/{job_name}"
        record.metadata = {"TrainingJob": {"Arn": arn}}
        self.context.steps[step["Name"]] = dict(
            arguments,
            TrainingJobName=job_name,
            TrainingJobArn=arn,
            TrainingJobStatus="Completed",
            ModelArtifacts={"S3ModelArtifacts": artifact},
            FinalMetricDataList=result.metrics,
        )

    def _quality_check(self, step: dict, arguments: dict, record: StepRecord) -> None:
        """The SDK's QualityCheckStep (data quality): the Model Monitor analyzer's baselining job, locally."""
        if step.get("CheckType") != "DATA_QUALITY":
            raise StepFailed(f"QualityCheck {step.get('CheckType')} cannot run locally (DATA_QUALITY only)")
        job_name = f"pipelines-{self.execution_id}-{step['Name'][:40]}-{_job_suffix()}"
        job_role = arguments.get("RoleArn")
        self._create_job("processing-job", job_name, job_role, arguments)
        root = self.workdir / step["Name"]
        for item in arguments.get("ProcessingInputs", []):
            s3_input = item["S3Input"]
            self._download(s3_input["S3Uri"], self._local(s3_input["LocalPath"], root), job_role)
        environment = arguments.get("Environment") or {}
        source = Path(self._map(environment.get("dataset_source", ""), root))
        output = arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].rstrip("/")
        try:
            files = (
                [p.read_bytes() for p in sorted(source.rglob("*")) if p.is_file()] if source.is_dir() else []
            )
            dataset = analyzer.read_dataset(files, json.loads(environment.get("dataset_format") or "{}"))
            statistics, constraints = analyzer.suggest_baseline(dataset)
        except (analyzer.AnalysisError, ValueError) as error:
            raise StepFailed(f"ProcessingJob {job_name} failed: AlgorithmError: {error}") from None
        check_stats = resolve(step.get("SuppliedBaselineStatistics"), self.context)
        check_constraints = resolve(step.get("SuppliedBaselineConstraints"), self.context)
        checked = None
        if not step.get("SkipCheck", False):
            if not check_constraints:
                check_stats, check_constraints = self._group_baseline(step.get("ModelPackageGroupName"))
            if not check_constraints:
                raise StepFailed(
                    f"QualityCheck {step['Name']}: no baseline to check against (no supplied baseline and no "
                    "Approved model package with DriftCheckBaselines in the group); set skip_check=True for a "
                    "first baseline"
                )
            checked = (
                self._get_json(check_stats, job_role) if check_stats else None,
                self._get_json(check_constraints, job_role),
            )
        calculated = {"statistics.json": statistics, "constraints.json": constraints}
        for filename, content in calculated.items():
            self._put_json(f"{output}/{filename}", content, job_role)
        stats_uri, constraints_uri = f"{output}/statistics.json", f"{output}/constraints.json"
        report = None
        if checked is not None:
            violations = analyzer.monitor(dataset, *checked)[1]
            report = f"{output}/constraint_violations.json"
            self._put_json(report, violations, job_role)
            if violations["violations"] and step.get("FailOnViolation", True):
                raise StepFailed(
                    f"ClientError: Quality check failed: {len(violations['violations'])} violation(s), "
                    f"see {report}"
                )
        if step.get("RegisterNewBaseline", False) or not check_constraints:
            used_stats, used_constraints = stats_uri, constraints_uri
        else:
            used_stats, used_constraints = check_stats, check_constraints
        properties = {
            "CalculatedBaselineStatistics": stats_uri,
            "CalculatedBaselineConstraints": constraints_uri,
            "BaselineUsedForDriftCheckStatistics": used_stats,
            "BaselineUsedForDriftCheckConstraints": used_constraints,
        }
        arn = f"arn:aws:sagemaker:{self.region}:{self.account_id}:processing-job/{job_name}"
        record.metadata = {
            "QualityCheck": {
                "CheckType": "DATA_QUALITY",
                "ModelPackageGroupName": step.get("ModelPackageGroupName"),
                "SkipCheck": bool(step.get("SkipCheck", False)),
                "RegisterNewBaseline": bool(step.get("RegisterNewBaseline", False)),
                "CheckJobArn": arn,
                **properties,
                **({"ViolationReport": report} if report else {}),
            }
        }
        self._end_job()
        self.context.steps[step["Name"]] = properties

    def _get_json(self, uri: str, role_arn: str | None) -> dict:
        self._authorize(role_arn, "s3:GetObject", "arn:aws:s3:::" + uri[len("s3://") :])
        try:
            return json.loads(objects.get_bytes(uri, self.account_id))
        except (FileNotFoundError, ValueError) as exc:
            raise StepFailed(f"ClientError: cannot read the baseline {uri}: {exc}") from None

    def _put_json(self, uri: str, content: dict, role_arn: str | None) -> None:
        self._authorize(role_arn, "s3:PutObject", "arn:aws:s3:::" + uri[len("s3://") :])
        objects.put_bytes(uri, json.dumps(content, indent=2).encode(), self.account_id)

    def _group_baseline(self, group: str | None) -> tuple[str | None, str | None]:
        """The newest Approved package's data-quality DriftCheckBaselines in the group (as the pipeline's role)."""
        group = str(group or "").rsplit("/", 1)[-1]
        self._authorize(self.role_arn, "sagemaker:ListModelPackages", "*")
        approved = [
            p
            for p in self.backend.model_packages.values()
            if p.model_package_group_name == group and p.model_approval_status == "Approved"
        ]
        for package in sorted(approved, key=lambda p: p.creation_time, reverse=True):
            self._authorize(self.role_arn, "sagemaker:DescribeModelPackage", package.arn)
            quality = (package.drift_check_baselines or {}).get("ModelDataQuality") or {}
            if quality.get("Constraints"):
                return (quality.get("Statistics") or {}).get("S3Uri"), quality["Constraints"].get("S3Uri")
        return None, None

    def _condition(self, step: dict, arguments: dict, record: StepRecord) -> list[dict]:
        raw = step["Arguments"]
        outcome = all(evaluate_condition(c, self.context) for c in raw["Conditions"])
        record.metadata = {"Condition": {"Outcome": str(outcome)}}
        self.context.steps[step["Name"]] = {"Outcome": outcome}
        return list(raw["IfSteps"] if outcome else raw["ElseSteps"])

    def _register_model(self, step: dict, arguments: dict, record: StepRecord) -> None:
        metrics = {k: v for k, v in (arguments.get("ModelMetrics") or {}).items() if v} or None
        group = arguments.get("ModelPackageGroupName")
        if group:
            group = group.rsplit("/", 1)[-1]
            self._authorize(
                self.role_arn, "sagemaker:CreateModelPackage", self._arn("model-package", f"{group}/*")
            )
            if group not in self.backend.model_package_groups:
                self._authorize(
                    self.role_arn,
                    "sagemaker:CreateModelPackageGroup",
                    self._arn("model-package-group", group),
                )
                self.backend.create_model_package_group(
                    model_package_group_name=group, model_package_group_description=None, tags=None
                )
        try:
            arn = self.backend.create_model_package(
                model_package_name=arguments.get("ModelPackageName"),
                model_package_group_name=arguments.get("ModelPackageGroupName"),
                model_package_description=arguments.get("ModelPackageDescription"),
                inference_specification=arguments.get("InferenceSpecification"),
                validation_specification=None,
                source_algorithm_specification=None,
                certify_for_marketplace=False,
                tags=arguments.get("Tags"),
                model_approval_status=arguments.get("ModelApprovalStatus"),
                metadata_properties=arguments.get("MetadataProperties"),
                model_metrics=metrics,
                client_token=None,
                customer_metadata_properties=arguments.get("CustomerMetadataProperties"),
                drift_check_baselines=arguments.get("DriftCheckBaselines"),
                domain=arguments.get("Domain"),
                task=arguments.get("Task"),
                sample_payload_url=arguments.get("SamplePayloadUrl"),
                additional_inference_specifications=None,
            )
        except Exception as exc:  # moto raises its own validation errors
            raise StepFailed(f"CreateModelPackage failed: {exc}") from exc
        record.metadata = {"RegisterModel": {"Arn": arn}}
        self.context.steps[step["Name"]] = {"ModelPackageArn": arn}

    def _model(self, step: dict, arguments: dict, record: StepRecord) -> None:
        name = f"pipelines-{self.execution_id}-{step['Name'][:40]}"[:63]
        self._authorize(self.role_arn, "sagemaker:CreateModel", self._arn("model", name))
        if arguments.get("ExecutionRoleArn"):
            self._authorize(
                self.role_arn,
                "iam:PassRole",
                arguments["ExecutionRoleArn"],
                {"iam:PassedToService": "sagemaker.amazonaws.com"},
            )
        self.backend.create_model(
            model_name=name,
            execution_role_arn=arguments.get("ExecutionRoleArn"),
            primary_container=arguments.get("PrimaryContainer") or (arguments.get("Containers") or [{}])[0],
            vpc_config=arguments.get("VpcConfig", {}),
            containers=arguments.get("Containers", []),
            tags=[],
        )
        arn = f"arn:aws:sagemaker:{self.region}:{self.account_id}:model/{name}"
        record.metadata = {"Model": {"Arn": arn}}
        self.context.steps[step["Name"]] = {"ModelName": name}

    def _fail(self, step: dict, arguments: dict, record: StepRecord) -> None:
        message = str(arguments.get("ErrorMessage", ""))
        record.metadata = {"Fail": {"ErrorMessage": message}}
        raise StepFailed(message)


def _camel(value):
    """Step metadata as the events carry it (``{"processingJob": {"arn": ...}}``): keys with a lower-case first
    letter."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    return value


def _job_environment(container: dict, credentials: dict[str, str], region: str, home: Path) -> dict[str, str]:
    """What a processing container's process sees: the container's ``Environment``, the Region, the job role's
    credentials for the embedded AWS (as the container gets them on AWS) and nothing of this machine's AWS setup:
    no ``AWS_*`` of the host, no profile, no ``~/.aws`` (HOME is the job's own directory), so a job's AWS call can
    only ever reach the embedded AWS, as its role."""
    import os

    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(home),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **credentials,
    }
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    env.update({str(k): str(v) for k, v in container.items()})
    return env


def wait_for(state: ExecutionState, timeout_s: float = 120.0) -> None:
    """Block until the execution leaves ``Executing`` (for tests and the local lifecycle)."""
    deadline = time.monotonic() + timeout_s
    while state.status == "Executing" and time.monotonic() < deadline:
        time.sleep(0.02)
