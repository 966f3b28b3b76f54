"""Follow a pipeline execution through the CodePipeline API, as the console does, and answer its approvals.

Works against any embedded AWS endpoint: it reads ``ListActionExecutions`` (each action's status, times, output
artifacts and log link) and ``GetPipelineExecution``, reports each action's start and end, and when a manual
approval waits it asks ``decide`` (a reviewer) and answers with ``PutApprovalResult``; a reviewer that returns
None leaves the execution waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from smbundle.local.codebuild.executor import last_command
from smbundle.local.codepipeline.executor import ActionRecord, ActionResults

# decide(stage, action, summary) -> "Approved" | "Rejected" | None (leave it waiting)
Reviewer = Callable[[str, str, str | None], str | None]


@dataclass
class Outcome(ActionResults):
    pipeline: str
    execution_id: str
    status: str  # Succeeded | Failed | Stopped | WaitingForApproval
    actions: list[ActionRecord] = field(default_factory=list)
    artifacts: dict[str, dict] = field(default_factory=dict)  # artifact name -> {"bucket", "key"}
    summary: str | None = None


def _record(detail: dict) -> ActionRecord:
    provider = detail["input"]["actionTypeId"]
    result = detail.get("output", {}).get("executionResult", {})
    record = ActionRecord(
        detail["stageName"],
        detail["actionName"],
        f"{provider['category']}/{provider['provider']}",
        status={"InProgress": "InProgress", "Succeeded": "Succeeded"}.get(detail["status"], "Failed"),
        seconds=max(0.0, _seconds(detail["lastUpdateTime"]) - _seconds(detail["startTime"])),
    )
    if record.status == "Failed":
        record.message = result.get("externalExecutionSummary")
        log = _log_path(result.get("externalExecutionUrl"))
        if log is not None:
            lines = log.read_text(errors="replace").splitlines()
            record.command = last_command(lines)
            record.log_tail = list(deque(lines, maxlen=15))
    return record


def _seconds(value) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def _log_path(url: str | None) -> Path | None:
    if not url or not url.startswith("file:"):
        return None
    path = Path(unquote(urlparse(url).path))
    return path if path.is_file() else None


def watch(
    codepipeline,
    pipeline: str,
    execution_id: str,
    report: Callable[[str, ActionRecord], None],
    decide: Reviewer | None = None,
    poll_seconds: float = 0.1,
    timeout_seconds: float = 3600.0,
) -> Outcome:
    """Follow one execution until it ends or waits for an approval nobody gives; returns what happened."""
    reported: dict[tuple[str, str], str] = {}
    deadline = time.monotonic() + timeout_seconds
    answered: set[str] = set()
    while True:
        # The execution's status first: when it has ended, the action list read after it is complete.
        execution = codepipeline.get_pipeline_execution(
            pipelineName=pipeline, pipelineExecutionId=execution_id
        )["pipelineExecution"]
        details = codepipeline.list_action_executions(
            pipelineName=pipeline, filter={"pipelineExecutionId": execution_id}
        )["actionExecutionDetails"]
        details.sort(key=lambda d: _seconds(d["startTime"]))
        outcome = Outcome(pipeline, execution_id, "InProgress")
        waiting = None
        for detail in details:
            key = (detail["stageName"], detail["actionName"])
            record = _record(detail)
            if key not in reported:
                report("start", ActionRecord(record.stage, record.action, record.provider))
                reported[key] = "InProgress"
            if record.status != "InProgress" and reported[key] == "InProgress":
                report("end", record)
                reported[key] = record.status
            outcome.actions.append(record)
            for artifact in detail.get("output", {}).get("outputArtifacts", []):
                outcome.artifacts[artifact["name"]] = artifact["s3location"]
            if record.status == "InProgress" and record.provider == "Approval/Manual":
                waiting = detail
        outcome.summary = execution.get("statusSummary")
        if execution["status"] != "InProgress":
            outcome.status = execution["status"]
            return outcome
        if waiting is not None and waiting["actionExecutionId"] not in answered:
            verdict = decide(waiting["stageName"], waiting["actionName"], None) if decide else None
            if verdict is None:
                outcome.status = "WaitingForApproval"
                return outcome
            _answer(codepipeline, pipeline, waiting, verdict)
            answered.add(waiting["actionExecutionId"])
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"pipeline {pipeline} execution {execution_id} still running after {timeout_seconds} s"
            )
        time.sleep(poll_seconds)


def _answer(codepipeline, pipeline: str, detail: dict, verdict: str) -> None:
    state = codepipeline.get_pipeline_state(name=pipeline)
    for stage in state["stageStates"]:
        if stage["stageName"] != detail["stageName"]:
            continue
        for action in stage["actionStates"]:
            token = (action.get("latestExecution") or {}).get("token")
            if action["actionName"] == detail["actionName"] and token:
                codepipeline.put_approval_result(
                    pipelineName=pipeline,
                    stageName=detail["stageName"],
                    actionName=detail["actionName"],
                    result={"summary": f"{verdict} by run_local", "status": verdict},
                    token=token,
                )
                return


def started_executions(codepipeline, pipeline: str, trigger_type: str) -> list[str]:
    """Ids of the pipeline's executions started by ``trigger_type`` (e.g. CreatePipeline), oldest first."""
    summaries = codepipeline.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"]
    return [
        s["pipelineExecutionId"]
        for s in reversed(summaries)
        if (s.get("trigger") or {}).get("triggerType") == trigger_type
    ]
