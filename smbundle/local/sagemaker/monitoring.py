"""SageMaker Model Monitor schedules that run: data-quality monitoring executions in the embedded AWS.

moto stores data-quality job definitions but has no monitoring schedules. Here:

- **CreateMonitoringSchedule / UpdateMonitoringSchedule / DescribeMonitoringSchedule / ListMonitoringSchedules /
  DeleteMonitoringSchedule / StartMonitoringSchedule / StopMonitoringSchedule / ListMonitoringExecutions**, with
  the API's shapes (``LastMonitoringExecutionSummary``, ``MonitoringExecutionSummaries`` with
  ``MonitoringExecutionStatus``, ``ProcessingJobArn``, ``ScheduledTime``...). A schedule names a data-quality job
  definition (``MonitoringJobDefinitionName`` and ``MonitoringType`` ``DataQuality``) or carries its job inline
  (``MonitoringJobDefinition``). Model Monitor does not support serverless endpoints: a schedule on one is refused.
- **When it runs.** ``ScheduleExpression`` ``NOW`` is a one-time schedule: it needs ``DataAnalysisStartTime`` and
  ``DataAnalysisEndTime`` (offsets such as ``-PT1H``) and runs at once, as on AWS. A cron expression of the forms
  Model Monitor accepts (``cron(0 * ? * * *)`` hourly, ``cron(0 H ? * * *)`` daily, ``cron(0 H/N ? * * *)`` every N
  hours) runs on the hour while the server runs (AWS adds a buffer of up to 20 minutes; here it runs on time), on
  the previous hour's data unless the schedule's analysis window says otherwise.
- **What an execution does** (``execute``), as the analyzer container's processing job does, as the job
  definition's role (every S3 call authorized by the embedded IAM): reads the endpoint's captured data for the
  analysis window from its data capture destination (``<DestinationS3Uri>/<endpoint>/``; the runtime first
  delivers what it has buffered), reads the baseline's ``statistics.json`` and ``constraints.json``, runs the
  analyzer's checks (``analyzer``) and writes ``statistics.json`` and ``constraint_violations.json`` to
  ``<output S3Uri>/<endpoint>/<schedule>/yyyy/mm/dd/hh/``. Its status is ``Completed``,
  ``CompletedWithViolations`` or ``Failed`` with the reason (``Job inputs had no data`` when nothing was captured
  in the window); the processing job it ran answers ``DescribeProcessingJob``.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker import models, responses
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from pipelines.abalone import data_quality as analyzer

from smbundle.local import crashes
from smbundle.local.iam import enforcement
from smbundle.local.iam.principals import Principal
from smbundle.local.s3 import objects
from smbundle.local.sagemaker import availability, capture

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
DATA_QUALITY = "DataQuality"
NOW = "NOW"
TERMINAL = ("Completed", "CompletedWithViolations", "Failed", "Stopped")
_CRON = re.compile(r"^cron\((?P<fields>[^)]*)\)$")
_OFFSET = re.compile(r"^-P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$")


# -- schedule expressions -----------------------------------------------------------------------------------------
def cron_hours(expression: str) -> set[int]:
    """The hours a Model Monitor cron expression fires at (always on minute 0); ValidationError otherwise."""
    match = _CRON.match(expression.strip())
    fields = match["fields"].split() if match else []
    problem = ValidationError(
        message=f"Invalid ScheduleExpression '{expression}': Model Monitor accepts NOW, cron(0 * ? * * *) (hourly), "
        "cron(0 H ? * * *) (daily at hour H) or cron(0 H/N ? * * *) (every N hours from hour H)"
    )
    if len(fields) != 6:
        raise problem
    minute, hour, day_of_month, month, day_of_week, year = fields
    if minute != "0" or day_of_month not in ("?", "*") or month != "*" or day_of_week not in ("?", "*"):
        raise problem
    if year != "*":
        raise problem
    start, _, step = hour.partition("/")
    try:
        first = 0 if start == "*" else int(start)
        every = int(step) if step else (1 if start == "*" else 24)
    except ValueError:
        raise problem from None
    if not 0 <= first <= 23 or not 1 <= every <= 24:
        raise problem
    return set(range(first, 24, every))


def next_run(expression: str, after: datetime) -> datetime:
    """The first firing strictly after ``after``."""
    hours = cron_hours(expression)
    moment = after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while moment.hour not in hours:
        moment += timedelta(hours=1)
    return moment


def offset(value: str, field_name: str) -> timedelta:
    match = _OFFSET.match(value or "")
    if not value or not match:
        raise ValidationError(
            message=f"{field_name} '{value}' is not a negative ISO 8601 duration such as -PT1H (relative to the "
            "scheduled time)"
        )
    d, h, m, s = (int(match[k] or 0) for k in "dhms")
    return -timedelta(days=d, hours=h, minutes=m, seconds=s)


# -- state ------------------------------------------------------------------------------------------------------
@dataclass
class JobSpec:
    """What a monitoring job runs, from a job definition or an inline MonitoringJobDefinition."""

    definition_name: str | None
    endpoint_name: str
    role_arn: str
    statistics_uri: str | None
    constraints_uri: str | None
    output_uri: str
    instance_type: str
    image_uri: str
    max_runtime_seconds: int = 3600  # the API's default when the job has no StoppingCondition


@dataclass
class Execution:
    schedule_name: str
    scheduled_time: datetime
    endpoint_name: str
    definition_name: str | None
    status: str = "Pending"
    processing_job_arn: str | None = None
    failure_reason: str | None = None
    report_uri: str | None = None
    violations: list[dict] = field(default_factory=list)
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))

    def summary(self) -> dict:
        answer = {
            "MonitoringScheduleName": self.schedule_name,
            "ScheduledTime": self.scheduled_time,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "MonitoringExecutionStatus": self.status,
            "EndpointName": self.endpoint_name,
            "MonitoringType": DATA_QUALITY,
        }
        if self.processing_job_arn:
            answer["ProcessingJobArn"] = self.processing_job_arn
        if self.definition_name:
            answer["MonitoringJobDefinitionName"] = self.definition_name
        if self.failure_reason:
            answer["FailureReason"] = self.failure_reason
        return answer


@dataclass
class Schedule:
    name: str
    arn: str
    config: dict
    endpoint_name: str
    account_id: str
    region: str
    tags: list[dict] = field(default_factory=list)
    status: str = "Scheduled"
    failure_reason: str | None = None
    next_run: datetime | None = None
    executions: list[Execution] = field(default_factory=list)
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def expression(self) -> str:
        return self.config["ScheduleConfig"]["ScheduleExpression"]

    @property
    def definition_name(self) -> str | None:
        return self.config.get("MonitoringJobDefinitionName")

    def describe(self) -> dict:
        answer = {
            "MonitoringScheduleArn": self.arn,
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleStatus": self.status,
            "MonitoringType": self.config.get("MonitoringType", DATA_QUALITY),
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "MonitoringScheduleConfig": self.config,
            "EndpointName": self.endpoint_name,
        }
        if self.failure_reason:
            answer["FailureReason"] = self.failure_reason
        if self.executions:
            answer["LastMonitoringExecutionSummary"] = self.executions[-1].summary()
        return answer

    def summary(self) -> dict:
        answer = {
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "MonitoringScheduleStatus": self.status,
            "EndpointName": self.endpoint_name,
            "MonitoringType": self.config.get("MonitoringType", DATA_QUALITY),
        }
        if self.definition_name:
            answer["MonitoringJobDefinitionName"] = self.definition_name
        return answer


_lock = threading.RLock()
_wake = threading.Event()
_scheduler: threading.Thread | None = None


def _schedules(backend) -> dict[str, Schedule]:
    if not hasattr(backend, "local_monitoring_schedules"):
        backend.local_monitoring_schedules = {}
    return backend.local_monitoring_schedules


def _find(backend, name: str) -> Schedule:
    schedule = _schedules(backend).get(name)
    if schedule is None:
        arn = f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:monitoring-schedule/{name}"
        raise ResourceNotFound(f"Monitoring Schedule {arn} not found")
    return schedule


def _backend(account_id: str, region: str):
    return models.sagemaker_backends[account_id][region]


def job_spec(backend, config: dict) -> JobSpec:
    """The job a schedule config runs; ValidationError when it names nothing that can run."""
    monitoring_type = config.get("MonitoringType", DATA_QUALITY)
    if monitoring_type != DATA_QUALITY:
        raise ValidationError(
            message=f"MonitoringType {monitoring_type} does not run locally: only DataQuality monitoring does"
        )
    name = config.get("MonitoringJobDefinitionName")
    inline = config.get("MonitoringJobDefinition")
    if bool(name) == bool(inline):
        raise ValidationError(
            message="MonitoringScheduleConfig needs exactly one of MonitoringJobDefinitionName and "
            "MonitoringJobDefinition"
        )
    if name:
        definition = backend.data_quality_job_definitions.get(name)
        if definition is None:
            raise ResourceNotFound(f"Data quality job definition {name} not found")
        baseline = definition.data_quality_baseline_config or {}
        endpoint_input = (definition.data_quality_job_input or {}).get("EndpointInput") or {}
        outputs = (definition.data_quality_job_output_config or {}).get("MonitoringOutputs") or []
        resources = (definition.job_resources or {}).get("ClusterConfig") or {}
        image = (definition.data_quality_app_specification or {}).get("ImageUri", "")
        role = definition.role_arn
        stopping = definition.stopping_condition or {}
    else:
        baseline = inline.get("BaselineConfig") or {}
        inputs = inline.get("MonitoringInputs") or [{}]
        endpoint_input = inputs[0].get("EndpointInput") or {}
        outputs = (inline.get("MonitoringOutputConfig") or {}).get("MonitoringOutputs") or []
        resources = (inline.get("MonitoringResources") or {}).get("ClusterConfig") or {}
        image = (inline.get("MonitoringAppSpecification") or {}).get("ImageUri", "")
        role = inline.get("RoleArn", "")
        stopping = inline.get("StoppingCondition") or {}
    if not endpoint_input.get("EndpointName"):
        raise ValidationError(message="the monitoring job has no EndpointInput.EndpointName")
    if not outputs:
        raise ValidationError(message="the monitoring job has no MonitoringOutputs")
    return JobSpec(
        definition_name=name,
        endpoint_name=endpoint_input["EndpointName"],
        role_arn=role,
        statistics_uri=(baseline.get("StatisticsResource") or {}).get("S3Uri"),
        constraints_uri=(baseline.get("ConstraintsResource") or {}).get("S3Uri"),
        output_uri=outputs[0]["S3Output"]["S3Uri"].rstrip("/"),
        instance_type=resources.get("InstanceType", ""),
        image_uri=image,
        max_runtime_seconds=int(stopping.get("MaxRuntimeInSeconds") or 3600),
    )


def _check_endpoint(backend, endpoint_name: str) -> None:
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        raise ValidationError(message=f"Endpoint {endpoint_name} does not exist")
    config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
    variants = config.production_variants if config is not None else []
    if any(v.get("ServerlessConfig") for v in variants):
        raise ValidationError(
            message=f"Endpoint {endpoint_name} is serverless: Model Monitor does not support serverless endpoints"
        )


def _validate_schedule_config(backend, config: dict) -> JobSpec:
    schedule = config.get("ScheduleConfig") or {}
    expression = schedule.get("ScheduleExpression")
    if not expression:
        raise ValidationError(message="ScheduleConfig.ScheduleExpression is required")
    if expression == NOW:
        for key in ("DataAnalysisStartTime", "DataAnalysisEndTime"):
            offset(schedule.get(key, ""), key)
    else:
        cron_hours(expression)
        for key in ("DataAnalysisStartTime", "DataAnalysisEndTime"):
            if schedule.get(key):
                offset(schedule[key], key)
    spec = job_spec(backend, config)
    _check_endpoint(backend, spec.endpoint_name)
    return spec


def create_schedule(backend, name: str, config: dict, tags: list[dict] | None = None) -> Schedule:
    availability.check_model_monitor("CreateMonitoringSchedule")
    if not name or not NAME.match(name):
        raise ValidationError(
            message=f"Value '{name}' at 'monitoringScheduleName' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
        )
    with _lock:
        if name in _schedules(backend):
            raise ResourceInUseException(f"Monitoring Schedule {name} already exists")
        config = dict(config)
        config.setdefault("MonitoringType", DATA_QUALITY)
        spec = _validate_schedule_config(backend, config)
        schedule = Schedule(
            name=name,
            arn=f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:monitoring-schedule/{name.lower()}",
            config=config,
            endpoint_name=spec.endpoint_name,
            account_id=backend.account_id,
            region=backend.region_name,
            tags=list(tags or []),
        )
        _schedules(backend)[name] = schedule
        _plan(schedule)
    return schedule


def _plan(schedule: Schedule, now: datetime | None = None) -> None:
    """Arm the schedule: a one-time schedule runs at once (in the background), a cron one at its next hour."""
    now = now or datetime.now(UTC)
    if schedule.status != "Scheduled":
        schedule.next_run = None
        return
    if schedule.expression == NOW:
        schedule.next_run = None
        execution = _new_execution(schedule, now.replace(microsecond=0))
        threading.Thread(
            target=execute, args=(schedule, execution), name=f"monitoring-{schedule.name}", daemon=True
        ).start()
        return
    schedule.next_run = next_run(schedule.expression, now)
    _start_scheduler()
    _wake.set()


def update_schedule(backend, name: str, config: dict) -> Schedule:
    with _lock:
        schedule = _find(backend, name)
        config = dict(config)
        config.setdefault("MonitoringType", DATA_QUALITY)
        spec = _validate_schedule_config(backend, config)
        schedule.config, schedule.endpoint_name = config, spec.endpoint_name
        schedule.modified = datetime.now(UTC)
        _plan(schedule)
    return schedule


def delete_schedule(backend, name: str) -> None:
    with _lock:
        _find(backend, name)
        del _schedules(backend)[name]


def set_running(backend, name: str, running: bool) -> None:
    with _lock:
        schedule = _find(backend, name)
        schedule.status = "Scheduled" if running else "Stopped"
        schedule.modified = datetime.now(UTC)
        if running and schedule.expression != NOW:
            _plan(schedule)
        elif not running:
            schedule.next_run = None


def _new_execution(schedule: Schedule, scheduled: datetime) -> Execution:
    execution = Execution(schedule.name, scheduled, schedule.endpoint_name, schedule.definition_name)
    with _lock:
        schedule.executions.append(execution)
    return execution


# -- the scheduler ----------------------------------------------------------------------------------------------
def _all_schedules() -> list[Schedule]:
    found = []
    for account in list(models.sagemaker_backends.keys()):
        for region in list(models.sagemaker_backends[account].keys()):
            backend = models.sagemaker_backends[account][region]
            found.extend(getattr(backend, "local_monitoring_schedules", {}).values())
    return found


def run_due(now: datetime | None = None) -> list[Execution]:
    """Run every cron schedule whose hour has come (up to ``now``), each for its scheduled time; returns them."""
    now = now or datetime.now(UTC)
    due = []
    with _lock:
        for schedule in _all_schedules():
            while (
                schedule.next_run is not None and schedule.next_run <= now and schedule.status == "Scheduled"
            ):
                due.append((schedule, _new_execution(schedule, schedule.next_run)))
                schedule.next_run = next_run(schedule.expression, schedule.next_run)
    for schedule, execution in due:
        execute(schedule, execution)
    return [execution for _, execution in due]


def _scheduler_loop() -> None:
    while True:
        with _lock:
            upcoming = [s.next_run for s in _all_schedules() if s.next_run is not None]
        wait = 60.0
        if upcoming:
            wait = max(0.0, min(wait, (min(upcoming) - datetime.now(UTC)).total_seconds()))
        _wake.wait(wait)
        _wake.clear()
        try:
            run_due()
        except Exception:  # the scheduler keeps the server's schedules running whatever one run does
            log.exception("monitoring scheduler run failed")


def _start_scheduler() -> None:
    global _scheduler
    with _lock:
        if _scheduler is None or not _scheduler.is_alive():
            _scheduler = threading.Thread(target=_scheduler_loop, name="monitoring-scheduler", daemon=True)
            _scheduler.start()


# -- an execution -------------------------------------------------------------------------------------------------
class JobFailed(Exception):
    """The processing job failed; the message is its failure reason."""


def _window(schedule: Schedule, scheduled: datetime) -> tuple[datetime, datetime]:
    config = schedule.config.get("ScheduleConfig") or {}
    start = config.get("DataAnalysisStartTime")
    end = config.get("DataAnalysisEndTime")
    begin = scheduled + (offset(start, "DataAnalysisStartTime") if start else -timedelta(hours=1))
    finish = scheduled + (offset(end, "DataAnalysisEndTime") if end else timedelta(0))
    return begin, finish


def _authorize(spec: JobSpec, action: str, resource: str, context: dict | None, region: str) -> None:
    if not spec.role_arn:
        return
    try:
        enforcement.authorize(Principal(spec.role_arn, "SageMaker"), action, resource, context, region)
    except enforcement.AccessDenied as denial:
        raise JobFailed(f"ClientError: {denial}") from None


def _read(spec: JobSpec, uri: str, account: str, region: str) -> bytes:
    _authorize(spec, "s3:GetObject", "arn:aws:s3:::" + uri[len("s3://") :], None, region)
    try:
        return objects.get_bytes(uri, account)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise JobFailed(f"ClientError: cannot read {uri}: {exc}") from None


def _capture_destination(backend, endpoint_name: str) -> str:
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        raise JobFailed(f"ClientError: endpoint {endpoint_name} does not exist")
    config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
    capture_config = getattr(config, "data_capture_config", None) or {}
    if not capture_config.get("DestinationS3Uri"):
        raise JobFailed("Job inputs had no data")
    return capture_config["DestinationS3Uri"].rstrip("/")


def _captured_records(spec: JobSpec, backend, begin: datetime, end: datetime) -> list[dict]:
    account, region = backend.account_id, backend.region_name
    destination = _capture_destination(backend, spec.endpoint_name)
    capture.flush(account, spec.endpoint_name)  # what the runtime holds is delivered before the job reads
    prefix = f"{destination}/{spec.endpoint_name}/"
    bucket, key_prefix = objects.split_uri(prefix)
    _authorize(spec, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": key_prefix}, region)
    try:
        keys = objects.list_keys(prefix, account)
    except Exception as exc:  # no such bucket
        raise JobFailed(f"ClientError: cannot list {prefix}: {exc}") from None
    first_hour = begin.replace(minute=0, second=0, microsecond=0)
    records = []
    for key in keys:
        parts = key[len(key_prefix) :].split("/")  # <variant>/yyyy/mm/dd/hh/<file>.jsonl
        if len(parts) != 6 or not parts[5].endswith(".jsonl"):
            continue
        try:
            hour = datetime(*(int(p) for p in parts[1:5]), tzinfo=UTC)
        except ValueError:
            continue
        if not first_hour <= hour <= end:
            continue
        text = _read(spec, f"s3://{bucket}/{key}", account, region).decode("utf-8")
        for line in text.splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            moment = (record.get("eventMetadata") or {}).get("inferenceTime", "")
            try:
                when = datetime.strptime(moment[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
            except ValueError:
                continue
            if begin <= when <= end:
                records.append(record)
    return records


def _job_name(scheduled: datetime) -> str:
    return f"model-monitoring-{scheduled:%Y%m%d%H%M}-{secrets.token_hex(12)}"


def execute(schedule: Schedule, execution: Execution) -> Execution:
    """Run one monitoring execution to its end (status, reports, processing job)."""
    backend = _backend(schedule.account_id, schedule.region)
    job_name = _job_name(execution.scheduled_time)
    execution.processing_job_arn = (
        f"arn:aws:sagemaker:{schedule.region}:{schedule.account_id}:processing-job/{job_name}"
    )
    execution.status, execution.modified = "InProgress", datetime.now(UTC)
    spec = None
    try:
        spec = job_spec(backend, schedule.config)
        begin, end = _window(schedule, execution.scheduled_time)
        records = _captured_records(spec, backend, begin, end)
        constraints = (
            json.loads(_read(spec, spec.constraints_uri, backend.account_id, backend.region_name))
            if spec.constraints_uri
            else {"features": []}
        )
        baseline = (
            json.loads(_read(spec, spec.statistics_uri, backend.account_id, backend.region_name))
            if spec.statistics_uri
            else None
        )
        names = [f["name"] for f in constraints.get("features") or (baseline or {}).get("features", [])]
        stats, violations = analyzer.monitor(analyzer.capture_dataset(records, names), baseline, constraints)
        report = (
            f"{spec.output_uri}/{spec.endpoint_name}/{schedule.name}/{execution.scheduled_time:%Y/%m/%d/%H}"
        )
        for filename, content in (("statistics.json", stats), ("constraint_violations.json", violations)):
            uri = f"{report}/{filename}"
            _authorize(spec, "s3:PutObject", "arn:aws:s3:::" + uri[len("s3://") :], None, backend.region_name)
            try:
                objects.put_bytes(uri, json.dumps(content, indent=2).encode(), backend.account_id)
            except Exception as exc:  # no such bucket
                raise JobFailed(f"ClientError: cannot write {uri}: {exc}") from None
        execution.report_uri = report
        execution.violations = violations["violations"]
        execution.status = "CompletedWithViolations" if execution.violations else "Completed"
    except (JobFailed, analyzer.AnalysisError) as failure:
        execution.status, execution.failure_reason = "Failed", str(failure)
    except Exception as exc:  # an executor bug still ends the execution, visibly
        crashes.report(log, "monitoring execution of %s crashed", schedule.name)
        execution.status, execution.failure_reason = "Failed", f"InternalServerError: {exc}"
    execution.modified = datetime.now(UTC)
    _record_processing_job(backend, schedule, execution, job_name, spec)
    return execution


def _record_processing_job(backend, schedule: Schedule, execution: Execution, job_name: str, spec) -> None:
    job = backend.create_processing_job(
        app_specification={"ImageUri": getattr(spec, "image_uri", "") or "sagemaker-model-monitor-analyzer"},
        experiment_config={},
        network_config={},
        processing_inputs=[],
        processing_job_name=job_name,
        processing_output_config={
            "Outputs": [{"OutputName": "result", "S3Output": {"S3Uri": execution.report_uri or ""}}]
        },
        role_arn=getattr(spec, "role_arn", ""),
        tags=[],
        stopping_condition={"MaxRuntimeInSeconds": getattr(spec, "max_runtime_seconds", 3600)},
    )
    job.processing_job_status = "Failed" if execution.status == "Failed" else "Completed"
    job.monitoring_schedule_arn = schedule.arn
    job.processing_start_time = execution.created
    if execution.failure_reason:
        job.failure_reason = execution.failure_reason
        job.exit_message = execution.failure_reason


def wait_for(schedule: Schedule, count: int = 1, timeout_s: float = 60.0) -> list[Execution]:
    """Block until the schedule has ``count`` finished executions (for tests and the local lifecycle)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = [e for e in schedule.executions if e.status in TERMINAL]
        if len(done) >= count:
            return done
        time.sleep(0.02)
    return [e for e in schedule.executions if e.status in TERMINAL]


# -- the API ------------------------------------------------------------------------------------------------------
def _page(items: list, max_results, token) -> tuple[list, str | None]:
    start = int(token) if token and str(token).isdigit() else 0
    size = int(max_results or 10)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _between(value: datetime, after, before) -> bool:
    def moment(raw):
        if raw is None or isinstance(raw, datetime):
            return raw
        return datetime.fromtimestamp(float(raw), UTC)

    after, before = moment(after), moment(before)
    return (after is None or value > after) and (before is None or value < before)


def list_schedules(backend, params: dict) -> dict:
    schedules = [
        s
        for s in list(_schedules(backend).values())
        if (not params.get("EndpointName") or s.endpoint_name == params["EndpointName"])
        and (not params.get("NameContains") or params["NameContains"] in s.name)
        and (not params.get("StatusEquals") or s.status == params["StatusEquals"])
        and (
            not params.get("MonitoringJobDefinitionName")
            or s.definition_name == params["MonitoringJobDefinitionName"]
        )
        and (
            not params.get("MonitoringTypeEquals")
            or s.config.get("MonitoringType") == params["MonitoringTypeEquals"]
        )
        and _between(s.created, params.get("CreationTimeAfter"), params.get("CreationTimeBefore"))
    ]
    sort_keys = {"Name": lambda s: s.name, "Status": lambda s: s.status, "CreationTime": lambda s: s.created}
    return _sorted_page(schedules, sort_keys, params, "MonitoringScheduleSummaries")


def list_executions(backend, params: dict) -> dict:
    executions = [
        e
        for s in list(_schedules(backend).values())
        for e in list(s.executions)
        if (not params.get("MonitoringScheduleName") or s.name == params["MonitoringScheduleName"])
        and (not params.get("EndpointName") or e.endpoint_name == params["EndpointName"])
        and (not params.get("StatusEquals") or e.status == params["StatusEquals"])
        and (
            not params.get("MonitoringJobDefinitionName")
            or e.definition_name == params["MonitoringJobDefinitionName"]
        )
        and (not params.get("MonitoringTypeEquals") or params["MonitoringTypeEquals"] == DATA_QUALITY)
        and _between(e.scheduled_time, params.get("ScheduledTimeAfter"), params.get("ScheduledTimeBefore"))
        and _between(e.created, params.get("CreationTimeAfter"), params.get("CreationTimeBefore"))
        and _between(e.modified, params.get("LastModifiedTimeAfter"), params.get("LastModifiedTimeBefore"))
    ]
    sort_keys = {
        "ScheduledTime": lambda e: e.scheduled_time,
        "Status": lambda e: e.status,
        "CreationTime": lambda e: e.created,
    }
    return _sorted_page(executions, sort_keys, params, "MonitoringExecutionSummaries")


def _sorted_page(items: list, sort_keys: dict, params: dict, field: str) -> dict:
    """A List answer: ``items`` sorted as SortBy (default CreationTime; anything else too) and SortOrder
    (default Descending) ask, one page of their summaries under ``field``, and the NextToken if there is more."""
    key = sort_keys.get(params.get("SortBy") or "CreationTime", sort_keys["CreationTime"])
    items.sort(key=key, reverse=(params.get("SortOrder") or "Descending") == "Descending")
    page, token = _page([i.summary() for i in items], params.get("MaxResults"), params.get("NextToken"))
    answer = {field: page}
    if token:
        answer["NextToken"] = token
    return answer


def schedule_by_name(account_id: str, region: str, name: str) -> Schedule:
    return _find(_backend(account_id, region), name)


def _params(response) -> dict:
    if getattr(response, "automated_parameter_parsing", False) and isinstance(response.params, dict):
        return dict(response.params)
    try:
        return json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return {}


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    response = responses.SageMakerResponse

    def r_create(self):
        schedule = create_schedule(
            self.sagemaker_backend,
            self._get_param("MonitoringScheduleName"),
            self._get_param("MonitoringScheduleConfig") or {},
            self._get_param("Tags") or [],
        )
        return ActionResult({"MonitoringScheduleArn": schedule.arn})

    def r_update(self):
        schedule = update_schedule(
            self.sagemaker_backend,
            self._get_param("MonitoringScheduleName"),
            self._get_param("MonitoringScheduleConfig") or {},
        )
        return ActionResult({"MonitoringScheduleArn": schedule.arn})

    def r_describe(self):
        return ActionResult(
            _find(self.sagemaker_backend, self._get_param("MonitoringScheduleName")).describe()
        )

    def r_delete(self):
        delete_schedule(self.sagemaker_backend, self._get_param("MonitoringScheduleName"))
        return EmptyResult()

    def r_start(self):
        set_running(self.sagemaker_backend, self._get_param("MonitoringScheduleName"), True)
        return EmptyResult()

    def r_stop(self):
        set_running(self.sagemaker_backend, self._get_param("MonitoringScheduleName"), False)
        return EmptyResult()

    def r_list(self):
        return ActionResult(list_schedules(self.sagemaker_backend, _params(self)))

    def r_list_executions(self):
        return ActionResult(list_executions(self.sagemaker_backend, _params(self)))

    response.create_monitoring_schedule = r_create
    response.update_monitoring_schedule = r_update
    response.describe_monitoring_schedule = r_describe
    response.delete_monitoring_schedule = r_delete
    response.start_monitoring_schedule = r_start
    response.stop_monitoring_schedule = r_stop
    response.list_monitoring_schedules = r_list
    response.list_monitoring_executions = r_list_executions

    # moto answers every job definition summary with the endpoint name "EndpointName"
    def summary_object(self) -> dict:
        endpoint = ((self.data_quality_job_input or {}).get("EndpointInput") or {}).get("EndpointName")
        answer = {
            "MonitoringJobDefinitionName": self.job_definition_name,
            "MonitoringJobDefinitionArn": self.arn,
            "CreationTime": self.creation_time,
        }
        if endpoint:
            answer["EndpointName"] = endpoint
        return answer

    models.FakeDataQualityJobDefinition.summary_object = property(summary_object)
    _applied = True
