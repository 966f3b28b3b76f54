"""Run a provisioned CodePipeline locally, stage by stage and action by action, as its definition says.

The pipeline structure comes from ``GetPipeline`` on the (embedded) AWS, so a wrong stage order, a wrong artifact
name or a wrong project name in the product template fails here as it would in CodePipeline. Each action kind has a
handler; a provider the local runner cannot execute is reported as such instead of being skipped silently.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from smbundle.local.codebuild.executor import BuildspecError, run_build
from smbundle.local.codepipeline.cloudformation_action import DeployError, deploy

log = logging.getLogger(__name__)


class ActionFailed(Exception):
    def __init__(self, message: str, *, command: str | None = None, log_tail: list[str] | None = None):
        super().__init__(message)
        self.command = command
        self.log_tail = log_tail or []


class StopPipeline(Exception):
    """Raised by an approval handler to leave the execution waiting at a manual approval."""


@dataclass
class ActionRecord:
    stage: str
    action: str
    provider: str
    status: str = "InProgress"  # InProgress | Succeeded | Failed | Stopped
    seconds: float = 0.0
    message: str | None = None
    command: str | None = None
    log_tail: list[str] = field(default_factory=list)
    detail: dict = field(default_factory=dict)


@dataclass
class PipelineResult:
    pipeline: str
    status: str  # Succeeded | Failed | Stopped
    seconds: float
    actions: list[ActionRecord]
    artifacts: dict[str, Path]

    @property
    def failed_action(self) -> ActionRecord | None:
        return next((a for a in self.actions if a.status == "Failed"), None)

    def stage_status(self) -> dict[str, dict]:
        stages: dict[str, dict] = {}
        for record in self.actions:
            entry = stages.setdefault(record.stage, {"status": "Succeeded", "seconds": 0.0})
            entry["seconds"] = round(entry["seconds"] + record.seconds, 3)
            if record.status != "Succeeded":
                entry["status"] = record.status
        return stages


# A reporter receives (event, record): event is "start" or "end".
Reporter = Callable[[str, ActionRecord], None]
# A source provider fills a directory with a repository branch's content.
SourceProvider = Callable[[dict, Path], None]
# An approval handler returns normally to approve, raises StopPipeline to wait, ActionFailed to reject.
ApprovalHandler = Callable[[dict], None]


class PipelineRunner:
    def __init__(
        self,
        session,
        workdir: Path,
        *,
        endpoint_url: str | None,
        source_provider: SourceProvider,
        approval_handler: ApprovalHandler,
        reporter: Reporter | None = None,
        local_build_overrides: dict[str, str] | None = None,
    ):
        self.session = session
        self.workdir = Path(workdir)
        self.endpoint_url = endpoint_url
        self.source_provider = source_provider
        self.approval_handler = approval_handler
        self.reporter = reporter or (lambda event, record: None)
        self.local_build_overrides = local_build_overrides or {}

    def _client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def run(self, pipeline_name: str) -> PipelineResult:
        started = time.monotonic()
        declaration = self._client("codepipeline").get_pipeline(name=pipeline_name)["pipeline"]
        run_dir = self.workdir / pipeline_name
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        artifacts: dict[str, Path] = {}
        records: list[ActionRecord] = []
        status = "Succeeded"
        for stage in declaration["stages"]:
            actions = sorted(stage["actions"], key=lambda a: int(a.get("runOrder", 1)))
            for _, group in groupby(actions, key=lambda a: int(a.get("runOrder", 1))):
                for action in group:
                    record = self._run_action(stage["name"], action, artifacts, run_dir)
                    records.append(record)
                    if record.status != "Succeeded":
                        status = record.status
                        return PipelineResult(
                            pipeline_name, status, time.monotonic() - started, records, artifacts
                        )
        return PipelineResult(pipeline_name, status, time.monotonic() - started, records, artifacts)

    def _run_action(
        self, stage: str, action: dict, artifacts: dict[str, Path], run_dir: Path
    ) -> ActionRecord:
        type_id = action["actionTypeId"]
        record = ActionRecord(stage, action["name"], f"{type_id['category']}/{type_id['provider']}")
        self.reporter("start", record)
        started = time.monotonic()
        try:
            inputs = {}
            for item in action.get("inputArtifacts", []):
                if item["name"] not in artifacts:
                    raise ActionFailed(f"input artifact {item['name']} was not produced by an earlier action")
                inputs[item["name"]] = artifacts[item["name"]]
            outputs = {item["name"]: run_dir / item["name"] for item in action.get("outputArtifacts", [])}
            handler = self._handler(type_id)
            record.detail = handler(action.get("configuration", {}), inputs, outputs) or {}
            artifacts.update(outputs)
            record.status = "Succeeded"
        except StopPipeline as stop:
            record.status, record.message = "Stopped", str(stop)
        except ActionFailed as exc:
            record.status, record.message = "Failed", str(exc)
            record.command, record.log_tail = exc.command, exc.log_tail
        except (DeployError, BuildspecError) as exc:
            record.status, record.message = "Failed", str(exc)
        record.seconds = time.monotonic() - started
        self.reporter("end", record)
        return record

    def _handler(self, type_id: dict):
        key = (type_id["category"], type_id["provider"])
        handlers = {
            ("Source", "CodeCommit"): self._source,
            ("Build", "CodeBuild"): self._codebuild,
            ("Test", "CodeBuild"): self._codebuild,
            ("Deploy", "CloudFormation"): self._cloudformation,
            ("Approval", "Manual"): self._approval,
        }
        if key not in handlers:
            raise ActionFailed(
                f"action provider {key[0]}/{key[1]} cannot run locally "
                "(the local runner supports CodeCommit, CodeBuild, CloudFormation and manual approvals)"
            )
        return handlers[key]

    def _source(self, configuration: dict, inputs: dict, outputs: dict[str, Path]) -> dict:
        (target,) = outputs.values()
        target.mkdir(parents=True)
        self.source_provider(configuration, target)
        return {"repository": configuration.get("RepositoryName"), "branch": configuration.get("BranchName")}

    def _codebuild(self, configuration: dict, inputs: dict[str, Path], outputs: dict[str, Path]) -> dict:
        name = configuration["ProjectName"]
        projects = self._client("codebuild").batch_get_projects(names=[name])["projects"]
        if not projects:
            raise ActionFailed(f"build project {name} does not exist")
        if not inputs:
            raise ActionFailed(f"build action on {name} has no input artifact")
        primary_name = configuration.get("PrimarySource") or next(iter(inputs))
        source_dir = inputs[primary_name]
        secondary = {n: p for n, p in inputs.items() if n != primary_name}
        action_vars = {
            v["name"]: v["value"] for v in json.loads(configuration.get("EnvironmentVariables") or "[]")
        }
        output_dir = next(iter(outputs.values()), source_dir.parent / f"{name}-output")
        result = run_build(
            projects[0],
            source_dir,
            output_dir,
            region=self.session.region_name,
            endpoint_url=self.endpoint_url,
            secondary_sources=secondary,
            action_variables=action_vars,
            local_overrides=self.local_build_overrides,
            log_dir=self.workdir / "logs",
        )
        if not result.succeeded:
            raise ActionFailed(
                f"build {name} failed in phase {result.phase}: {result.message}",
                command=result.command,
                log_tail=result.log_tail,
            )
        return {"project": name, "log": str(result.log_path), "artifact_files": result.artifact_files}

    def _cloudformation(self, configuration: dict, inputs: dict[str, Path], outputs: dict) -> dict:
        stack = deploy(self._client("cloudformation"), configuration, inputs)
        return {
            "stack": stack["StackName"],
            "status": stack["StackStatus"],
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        }

    def _approval(self, configuration: dict, inputs: dict, outputs: dict) -> dict:
        self.approval_handler(configuration)
        return {"summary": configuration.get("CustomData")}
