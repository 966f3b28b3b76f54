"""CodePipeline executions that really run, in the embedded AWS, and the API to watch and approve them.

moto marks an execution Succeeded the moment it starts and runs nothing. Here ``StartPipelineExecution`` (called
by anyone: a user with the AWS CLI, EventBridge as a rule's role, CloudFormation when it creates a pipeline) starts
the pipeline's first stage in a background thread, which runs it as the pipeline's role (``PipelineRunner``).
``GetPipelineState``, ``GetPipelineExecution``, ``ListPipelineExecutions`` and ``ListActionExecutions`` show its
progress; a manual approval waits for ``PutApprovalResult`` (Approved goes on, Rejected fails the action), as on
AWS; ``StopPipelineExecution`` stops it (at the next action).

The runner's settings (where builds keep their work, the local tuning knobs of builds) are :data:`settings`; the
lifecycle and ``local_aws.py`` set them, the defaults work for tests.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from moto.codepipeline import models, responses
from moto.codepipeline.exceptions import PipelineNotFoundException

from smbundle.local import crashes
from smbundle.local.codebuild import warm_python
from smbundle.validation import LOAD_DURATION_VARIABLE, load_duration_problem

log = logging.getLogger(__name__)

# Local tuning knobs of builds (documented in docs/local.md), added after the buildspec variable check.
DEFAULT_BUILD_OVERRIDES = {
    "PIPELINE_POLL_SECONDS": "0.2",
    "LOAD_DURATION_S": "2",
    "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
}


def build_overrides(base: dict[str, str], environ=os.environ) -> dict[str, str]:
    """``base`` with the staging test's load phase from SMBUNDLE_LOAD_DURATION_SECONDS (docs/local.md; the test
    suite shortens it), when it is set and usable."""
    raw = environ.get(LOAD_DURATION_VARIABLE)
    if raw in (None, ""):
        return base
    problem = load_duration_problem(raw)
    if problem:
        log.warning(
            "%s; the staging test's load phase keeps LOAD_DURATION_S=%s", problem, base.get("LOAD_DURATION_S")
        )
        return base
    return {**base, "LOAD_DURATION_S": raw}


@dataclass
class Settings:
    endpoint_url: str | None = None  # the embedded AWS's own URL (None: in-process, under moto's decorator)
    # Where builds keep their work and logs; a temporary directory (made on first use, removed by the server at
    # exit) unless the local run names one.
    workdir: Path | None = None
    build_overrides: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BUILD_OVERRIDES))
    temporary: Path | None = None

    def work_directory(self) -> Path:
        if self.workdir is not None:
            return self.workdir
        if self.temporary is None:
            self.temporary = Path(tempfile.mkdtemp(prefix="smbundle-pipelines-"))
        return self.temporary

    def clean_up(self) -> None:
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None


settings = Settings()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ActionState:
    name: str
    status: str = "InProgress"  # InProgress | Succeeded | Failed | Abandoned
    started: datetime = field(default_factory=_now)
    updated: datetime = field(default_factory=_now)
    summary: str | None = None
    error: str | None = None
    token: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    provider: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    bucket: str = ""

    def to_api(self, execution_id: str) -> dict:
        latest = {
            "actionExecutionId": f"{execution_id}-{self.name}",
            "status": self.status,
            "lastStatusChange": self.updated.timestamp(),
        }
        if self.summary:
            latest["summary"] = self.summary
        if self.error:
            latest["errorDetails"] = {"code": "JobFailed", "message": self.error}
        if self.token:
            latest["token"] = self.token
        if self.external_id:
            latest["externalExecutionId"] = self.external_id
        if self.external_url:
            latest["externalExecutionUrl"] = self.external_url
        return {"actionName": self.name, "latestExecution": latest}


@dataclass
class Run:
    """What the embedded CodePipeline knows of one execution while it runs."""

    execution_id: str
    pipeline: str
    trigger: dict
    stages: dict[str, dict[str, ActionState]] = field(default_factory=dict)
    stage_status: dict[str, str] = field(default_factory=dict)
    approvals: dict[str, tuple[threading.Event, dict]] = field(
        default_factory=dict
    )  # token -> (event, result)
    # (repository, branch) -> (source action name, commit id), pinned when the execution starts
    source_revisions: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    stop_requested: str | None = None
    result: object = None  # the PipelineResult when done
    current: tuple[str, str] = ("", "")  # the stage and action running now

    def action(self, stage: str, name: str) -> ActionState:
        return self.stages.setdefault(stage, {}).setdefault(name, ActionState(name))


class Stopped(Exception):
    pass


def _runs(backend) -> dict[str, Run]:
    if not hasattr(backend, "local_runs"):
        backend.local_runs = {}
    return backend.local_runs


def _source_provider(backend, run: Run):
    from smbundle.local.codecommit import repositories

    def provide(configuration: dict, target: Path) -> str | None:
        repository, branch = configuration["RepositoryName"], configuration.get("BranchName", "main")
        pinned = run.source_revisions.get((repository, branch))
        commit_id = (
            pinned[1]
            if pinned
            else repositories.head(backend.account_id, backend.region_name, repository, branch)
        )
        if commit_id is None:
            from smbundle.local.codepipeline.executor import ActionFailed

            raise ActionFailed(f"branch {branch} of repository {repository} has no commit")
        repositories.extract(backend.account_id, backend.region_name, repository, commit_id, target)
        return commit_id

    return provide


def _source_revisions(backend, name: str) -> dict[tuple[str, str], tuple[str, str]]:
    """The commit of each CodeCommit source branch as the execution starts: what it builds, whatever is pushed
    while it runs (CodePipeline's source revisions)."""
    from smbundle.local.codecommit import repositories

    revisions = {}
    for stage in backend.pipelines[name].pipeline.get("stages", []):
        for action in stage.get("actions", []):
            if action.get("actionTypeId", {}).get("provider") == "CodeCommit":
                configuration = action.get("configuration", {})
                repository, branch = (
                    configuration.get("RepositoryName"),
                    configuration.get("BranchName", "main"),
                )
                commit_id = repositories.head(backend.account_id, backend.region_name, repository, branch)
                if commit_id:
                    revisions[(repository, branch)] = (action["name"], commit_id)
    return revisions


# CodePipeline's event states for the API's statuses.
EVENT_STATES = {"InProgress": "STARTED", "Succeeded": "SUCCEEDED", "Failed": "FAILED", "Stopped": "STOPPED"}


def _event(backend, run: Run, level: str, state: str, **extra) -> None:
    """CodePipeline's "CodePipeline <level> Execution State Change" event on the account's default bus."""
    from smbundle.local.events import bus

    pipeline = backend.pipelines.get(run.pipeline)  # gone when its stack was deleted while it ran
    detail = {
        "pipeline": run.pipeline,
        "execution-id": run.execution_id,
        "state": EVENT_STATES.get(state, state),
        "version": pipeline.pipeline.get("version", 1) if pipeline else 1,
        **extra,
    }
    if level == "Pipeline":
        detail["execution-trigger"] = {
            "trigger-type": run.trigger.get("triggerType"),
            "trigger-detail": run.trigger.get("triggerDetail"),
        }
    arn = f"arn:aws:codepipeline:{backend.region_name}:{backend.account_id}:{run.pipeline}"
    bus.put(
        "aws.codepipeline",
        f"CodePipeline {level} Execution State Change",
        detail,
        account=backend.account_id,
        region=backend.region_name,
        resources=[arn],
    )


def _execute(backend, execution, run: Run) -> None:
    from smbundle.local.codepipeline.executor import ActionFailed, PipelineRunner

    declared = backend.pipelines.get(run.pipeline)
    if declared is None:  # deleted (e.g. its stack rolled back) before the execution began: nothing runs
        execution.status, execution.status_summary = "Stopped", f"pipeline {run.pipeline} was deleted"
        return
    stage_actions = {
        stage["name"]: [a["name"] for a in stage.get("actions", [])]
        for stage in declared.pipeline.get("stages", [])
    }  # read as it starts: a stack may delete the pipeline while it runs

    def action_event(record, state: str) -> None:
        category, _, provider = record.provider.partition("/")
        kind = {"owner": "AWS", "category": category, "provider": provider, "version": "1"}
        _event(
            backend,
            run,
            "Action",
            state,
            stage=record.stage,
            action=record.action,
            region=backend.region_name,
            type=kind,
        )

    def report(event: str, record) -> None:
        state = run.action(record.stage, record.action)
        state.provider = record.provider
        state.updated = _now()
        if event == "start":
            state.status, state.started = "InProgress", state.updated
            if run.stage_status.get(record.stage) != "InProgress":
                _event(backend, run, "Stage", "InProgress", stage=record.stage)
            run.stage_status[record.stage] = "InProgress"
            action_event(record, "InProgress")
            return
        state.status = {"Succeeded": "Succeeded", "Stopped": "InProgress"}.get(record.status, "Failed")
        state.error = record.message if record.status == "Failed" else None
        state.inputs, state.outputs, state.bucket = dict(record.inputs), dict(record.outputs), record.bucket
        detail = record.detail or {}
        if detail.get("log"):
            state.external_url = Path(detail["log"]).as_uri()
        state.external_id = detail.get("build_id") or detail.get("stack") or state.external_id
        if record.status != "Stopped":
            action_event(record, state.status)
        if record.status == "Failed":
            run.stage_status[record.stage] = "Failed"
            _event(backend, run, "Stage", "Failed", stage=record.stage)
        elif len(run.stages[record.stage]) == len(stage_actions.get(record.stage, ())) and all(
            a.status == "Succeeded" for a in run.stages[record.stage].values()
        ):
            run.stage_status[record.stage] = "Succeeded"
            _event(backend, run, "Stage", "Succeeded", stage=record.stage)

    def approve(configuration: dict) -> None:
        stage, name = run.current
        state = run.action(stage, name)
        token = str(uuid.uuid4())
        event, result = threading.Event(), {}
        state.token, state.summary = token, configuration.get("CustomData")
        run.approvals[token] = (event, result)
        while not event.wait(0.2):
            if run.stop_requested:
                raise Stopped(run.stop_requested)
        state.token = None
        if result.get("status") != "Approved":
            raise ActionFailed(f"Rejected: {result.get('summary') or 'no summary given'}")
        state.summary = result.get("summary") or state.summary

    def started(event: str, record) -> None:
        if run.stop_requested and event == "start":
            raise Stopped(run.stop_requested)
        if event == "start":
            run.current = (record.stage, record.action)
        report(event, record)

    runner = PipelineRunner(
        backend.region_name,
        settings.work_directory(),
        endpoint_url=settings.endpoint_url,
        source_provider=_source_provider(backend, run),
        approval_handler=approve,
        reporter=started,
        local_build_overrides=build_overrides(settings.build_overrides),
        run_name=run.execution_id,
    )
    try:
        result = runner.run(run.pipeline)
        run.result = result
        execution.status = {"Stopped": "Stopped"}.get(result.status, result.status)
        failed = result.failed_action
        if failed is not None:
            execution.status_summary = f"{failed.stage}/{failed.action}: {failed.message}"
    except Stopped as stop:
        execution.status, execution.status_summary = "Stopped", str(stop)
    except Exception as exc:  # an executor bug must end the execution visibly
        crashes.report(log, "pipeline %s execution %s crashed", run.pipeline, run.execution_id)
        execution.status, execution.status_summary = "Failed", f"local executor error: {exc}"
    for stage, status in list(run.stage_status.items()):
        if status == "InProgress":
            run.stage_status[stage] = "Succeeded" if execution.status == "Succeeded" else execution.status
    execution.last_update_time = _now()
    _event(backend, run, "Pipeline", execution.status)


def start(backend, name: str, variables=None, trigger: dict | None = None) -> str:
    """Start an execution of pipeline ``name`` that runs in the background; returns its id.

    Executions run only when the embedded AWS runs as a server (their builds call it over HTTP); under moto's
    in-process decorator an execution is recorded as moto records it."""
    execution_id = _original_start(backend, name, variables)
    if settings.endpoint_url is None:
        return execution_id
    execution = backend.pipelines[name].executions[execution_id]
    execution.status = "InProgress"
    run = Run(execution_id, name, trigger or {"triggerType": "StartPipelineExecution", "triggerDetail": ""})
    run.source_revisions = _source_revisions(backend, name)
    _runs(backend)[execution_id] = run
    execution.local_run = run
    warm_python.launchers()  # its builds will need them: the workers import while the source stage runs
    _event(backend, run, "Pipeline", "InProgress")
    thread = threading.Thread(
        target=_execute, args=(backend, execution, run), name=f"pipeline-{name}", daemon=True
    )
    thread.start()
    return execution_id


def _pipeline(backend, name: str):
    pipeline = backend.pipelines.get(name)
    if pipeline is None:
        raise PipelineNotFoundException(
            f"Account '{backend.account_id}' does not have a pipeline with name '{name}'"
        )
    return pipeline


def pipeline_state(backend, name: str) -> dict:
    pipeline = _pipeline(backend, name)
    latest = {}
    for execution in reversed(list(pipeline.executions.values())):
        run = getattr(execution, "local_run", None)
        if run is None:
            continue
        for stage in run.stages:
            latest.setdefault(stage, (execution, run))
    stage_states = []
    for stage in pipeline.pipeline["stages"]:
        entry = {"stageName": stage["name"], "actionStates": []}
        if stage["name"] in latest:
            execution, run = latest[stage["name"]]
            entry["latestExecution"] = {
                "pipelineExecutionId": execution.pipeline_execution_id,
                "status": run.stage_status.get(stage["name"], "InProgress"),
            }
            for action in stage["actions"]:
                state = run.stages[stage["name"]].get(action["name"])
                entry["actionStates"].append(
                    state.to_api(execution.pipeline_execution_id) if state else {"actionName": action["name"]}
                )
        else:
            entry["actionStates"] = [{"actionName": a["name"]} for a in stage["actions"]]
        stage_states.append(entry)
    return {
        "pipelineName": name,
        "pipelineVersion": pipeline.pipeline.get("version", 1),
        "stageStates": stage_states,
        "created": pipeline.metadata["created"],
        "updated": pipeline.metadata["updated"],
    }


class ApprovalError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def put_approval_result(backend, name: str, stage: str, action: str, result: dict, token: str) -> datetime:
    pipeline = _pipeline(backend, name)
    for execution in pipeline.executions.values():
        run = getattr(execution, "local_run", None)
        if run is None or token not in run.approvals:
            continue
        state = run.stages.get(stage, {}).get(action)
        if state is None or state.token != token:
            raise ApprovalError(
                "InvalidApprovalTokenException", f"The token is not valid for {stage}/{action}."
            )
        event, outcome = run.approvals.pop(token)
        outcome.update(result)
        event.set()
        return _now()
    raise ApprovalError(
        "InvalidApprovalTokenException",
        f"Approval token {token} is not valid for action {action} in stage {stage} of pipeline {name}.",
    )


# -- wire format ----------------------------------------------------------------------------------------------
def _error(code: str, message: str):
    return 400, {"status": 400, "x-amzn-ErrorType": code}, json.dumps({"__type": code, "message": message})


def r_start_pipeline_execution(self) -> str:
    from smbundle.local.iam import principals

    caller = principals.caller.get()
    detail = caller.arn if caller else f"arn:aws:iam::{self.current_account}:root"
    execution_id = start(
        self.codepipeline_backend,
        self._get_param("name"),
        self._get_param("variables"),
        {"triggerType": "StartPipelineExecution", "triggerDetail": detail},
    )
    return json.dumps({"pipelineExecutionId": execution_id})


def r_get_pipeline_state(self):
    try:
        return json.dumps(
            pipeline_state(self.codepipeline_backend, self._get_param("name")), default=_timestamp
        )
    except PipelineNotFoundException as exc:
        return _error("PipelineNotFoundException", exc.message)


def r_put_approval_result(self):
    try:
        approved_at = put_approval_result(
            self.codepipeline_backend,
            self._get_param("pipelineName"),
            self._get_param("stageName"),
            self._get_param("actionName"),
            self._get_param("result") or {},
            self._get_param("token") or "",
        )
    except ApprovalError as exc:
        return _error(exc.code, str(exc))
    except PipelineNotFoundException as exc:
        return _error("PipelineNotFoundException", exc.message)
    return json.dumps({"approvedAt": approved_at.timestamp()})


def r_stop_pipeline_execution(self):
    backend = self.codepipeline_backend
    execution = backend.get_pipeline_execution(
        self._get_param("pipelineName"), self._get_param("pipelineExecutionId")
    )
    run = getattr(execution, "local_run", None)
    if run is None or execution.status != "InProgress":
        return _error(
            "PipelineExecutionNotStoppableException",
            "Unable to stop pipeline execution: it is not in progress.",
        )
    run.stop_requested = self._get_param("reason") or "Stopped by request"
    return json.dumps({"pipelineExecutionId": execution.pipeline_execution_id})


def r_list_action_executions(self):
    backend = self.codepipeline_backend
    name = self._get_param("pipelineName")
    wanted = (self._get_param("filter") or {}).get("pipelineExecutionId")
    details = []
    for execution in reversed(list(_pipeline(backend, name).executions.values())):
        run = getattr(execution, "local_run", None)
        if run is None or (wanted and execution.pipeline_execution_id != wanted):
            continue
        for stage, actions in run.stages.items():
            for action_name, state in actions.items():
                category, _, provider = state.provider.partition("/")
                result = {}
                if state.external_id:
                    result["externalExecutionId"] = state.external_id
                if state.error or state.summary:
                    result["externalExecutionSummary"] = state.error or state.summary
                if state.external_url:
                    result["externalExecutionUrl"] = state.external_url
                output = {
                    "executionResult": result,
                    "outputArtifacts": [
                        {"name": n, "s3location": {"bucket": state.bucket, "key": k}}
                        for n, k in state.outputs.items()
                    ],
                }
                details.append(
                    {
                        "pipelineExecutionId": execution.pipeline_execution_id,
                        "actionExecutionId": f"{execution.pipeline_execution_id}-{action_name}",
                        "pipelineVersion": execution.pipeline_version,
                        "stageName": stage,
                        "actionName": action_name,
                        "startTime": state.started.timestamp(),
                        "lastUpdateTime": state.updated.timestamp(),
                        "status": state.status,
                        "input": {
                            "actionTypeId": {
                                "category": category,
                                "owner": "AWS",
                                "provider": provider,
                                "version": "1",
                            },
                            "inputArtifacts": [
                                {"name": n, "s3location": {"bucket": state.bucket, "key": k}}
                                for n, k in state.inputs.items()
                            ],
                        },
                        "output": output,
                    }
                )
    return json.dumps({"actionExecutionDetails": details})


def _timestamp(value):
    return value.timestamp() if isinstance(value, datetime) else str(value)


def _revisions(run: Run) -> list[tuple[str, str, str]]:
    """(source action name, repository, commit id) of the execution's pinned CodeCommit sources."""
    return [
        (action, repository, commit) for (repository, _), (action, commit) in run.source_revisions.items()
    ]


def _to_dict(self) -> dict:
    answer = _original_to_dict(self)
    run = getattr(self, "local_run", None)
    if run is not None:
        answer["trigger"] = run.trigger
        answer["artifactRevisions"] = [
            {"name": repository, "revisionId": commit, "revisionSummary": f"commit {commit}"}
            for _, repository, commit in _revisions(run)
        ]
    return answer


def _to_summary_dict(self) -> dict:
    answer = _original_to_summary_dict(self)
    run = getattr(self, "local_run", None)
    if run is not None:
        answer["trigger"] = run.trigger
        answer["sourceRevisions"] = [
            {"actionName": action, "revisionId": commit, "revisionSummary": f"commit {commit}"}
            for action, _, commit in _revisions(run)
        ]
        if self.status_summary:
            answer["statusSummary"] = self.status_summary
    return answer


_original_start = models.CodePipelineBackend.start_pipeline_execution
_original_to_dict = models.PipelineExecution.to_dict
_original_to_summary_dict = models.PipelineExecution.to_summary_dict
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    response = responses.CodePipelineResponse
    response.start_pipeline_execution = r_start_pipeline_execution
    response.get_pipeline_state = r_get_pipeline_state
    response.put_approval_result = r_put_approval_result
    response.stop_pipeline_execution = r_stop_pipeline_execution
    response.list_action_executions = r_list_action_executions
    models.PipelineExecution.to_dict = _to_dict
    models.PipelineExecution.to_summary_dict = _to_summary_dict
    models.CodePipelineBackend.list_pipelines = _list_pipelines
    _applied = True


def _list_pipelines(self) -> list[dict]:
    """ListPipelines with each pipeline's type and execution mode, as CodePipeline answers them."""
    answer = _original_list_pipelines(self)
    for summary in answer:
        declaration = self.pipelines[summary["name"]].pipeline
        summary["pipelineType"] = declaration.get("pipelineType") or "V1"
        summary["executionMode"] = declaration.get("executionMode") or "SUPERSEDED"
    return answer


_original_list_pipelines = models.CodePipelineBackend.list_pipelines
