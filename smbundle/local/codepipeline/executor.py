"""Run a provisioned CodePipeline locally, stage by stage and action by action, as its definition says.

The pipeline structure comes from ``GetPipeline`` on the (embedded) AWS, so a wrong stage order, a wrong artifact
name or a wrong project name in the product template fails here as it would in CodePipeline. Each action kind has a
handler; a provider the local runner cannot execute is reported as such instead of being skipped silently.

Every call is made by the principal AWS would use: the pipeline's role for what CodePipeline does (reading the
source branch, starting builds, the CloudFormation deploy action, approval notifications), the build project's
role for what a build does, and artifacts travel through the pipeline's S3 artifact store between them.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from botocore.exceptions import ClientError

from smbundle.local import boto_sessions
from smbundle.local.codebuild.executor import BuildspecError, run_build
from smbundle.local.codepipeline.artifacts import ArtifactStore
from smbundle.local.codepipeline.cloudformation_action import DeployError, deploy
from smbundle.local.iam import sessions
from smbundle.local.iam.sessions import RoleSession

log = logging.getLogger(__name__)


class ActionFailed(Exception):
    def __init__(
        self,
        message: str,
        *,
        command: str | None = None,
        log_tail: list[str] | None = None,
        detail: dict | None = None,
    ):
        super().__init__(message)
        self.command = command
        self.log_tail = log_tail or []
        self.detail = detail or {}


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
    inputs: dict[str, str] = field(default_factory=dict)  # artifact name -> object key in the artifact store
    outputs: dict[str, str] = field(default_factory=dict)
    bucket: str = ""


class ActionResults:
    """What a run's actions (``self.actions``) say: the first that failed, and each stage's status and seconds."""

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


@dataclass
class PipelineResult(ActionResults):
    pipeline: str
    status: str  # Succeeded | Failed | Stopped
    seconds: float
    actions: list[ActionRecord]
    artifacts: dict[str, Path]


# A reporter receives (event, record): event is "start" or "end".
Reporter = Callable[[str, ActionRecord], None]
# A source provider fills a directory with a repository branch's content and returns its revision (a commit id).
SourceProvider = Callable[[dict, Path], str | None]
# An approval handler returns normally to approve, raises StopPipeline to wait, ActionFailed to reject.
ApprovalHandler = Callable[[dict], None]


class PipelineRunner:
    """Runs a pipeline as CodePipeline does: as the pipeline's role, with the artifacts in its S3 store.

    It reads the pipeline's definition and project settings as the administrator (the process's own credentials, as
    the console would); every call the service makes on the pipeline's behalf is made as the role CodePipeline
    assumes, every call of a build as the role CodeBuild assumes, so the embedded IAM decides each one.
    """

    def __init__(
        self,
        region: str,
        workdir: Path,
        *,
        endpoint_url: str | None,
        source_provider: SourceProvider,
        approval_handler: ApprovalHandler,
        reporter: Reporter | None = None,
        local_build_overrides: dict[str, str] | None = None,
        run_name: str | None = None,
    ):
        self.run_name = run_name
        self.region = region
        self.workdir = Path(workdir)
        self.endpoint_url = endpoint_url
        self.source_provider = source_provider
        self.approval_handler = approval_handler
        self.reporter = reporter or (lambda event, record: None)
        self.local_build_overrides = local_build_overrides or {}

    def _client(self, service: str):
        return boto_sessions.admin_client(service, self.region, self.endpoint_url)

    def run(self, pipeline_name: str) -> PipelineResult:
        started = time.monotonic()
        declaration = self._client("codepipeline").get_pipeline(name=pipeline_name)["pipeline"]
        run_dir = (
            self.workdir / pipeline_name / self.run_name if self.run_name else self.workdir / pipeline_name
        )
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        store = declaration.get("artifactStore") or {}
        execution = _Execution(
            declaration=declaration,
            run_dir=run_dir,
            store=ArtifactStore(
                store.get("location", ""), pipeline_name, (store.get("encryptionKey") or {}).get("id")
            ),
            account=self._client("sts").get_caller_identity()["Account"],
        )
        records: list[ActionRecord] = []
        for stage in declaration["stages"]:
            actions = sorted(stage["actions"], key=lambda a: int(a.get("runOrder", 1)))
            for _, group in groupby(actions, key=lambda a: int(a.get("runOrder", 1))):
                for action in group:
                    record = self._run_action(stage["name"], action, execution)
                    records.append(record)
                    if record.status != "Succeeded":
                        return PipelineResult(
                            pipeline_name, record.status, time.monotonic() - started, records, execution.local
                        )
        return PipelineResult(
            pipeline_name, "Succeeded", time.monotonic() - started, records, execution.local
        )

    def _role(self, execution: _Execution) -> RoleSession:
        if execution.role is None:
            execution.role = sessions.assume(
                self.region,
                self.endpoint_url,
                execution.declaration["roleArn"],
                "codepipeline.amazonaws.com",
                f"{execution.declaration['name'][:40]}-{uuid.uuid4().hex[:8]}",
            )
        return execution.role

    def _run_action(self, stage: str, action: dict, execution: _Execution) -> ActionRecord:
        type_id = action["actionTypeId"]
        record = ActionRecord(stage, action["name"], f"{type_id['category']}/{type_id['provider']}")
        self.reporter("start", record)
        started = time.monotonic()
        action_dir = execution.run_dir / stage / action["name"]
        try:
            role = self._role(execution)
            inputs = {}
            for item in action.get("inputArtifacts", []):
                if item["name"] not in execution.keys:
                    raise ActionFailed(f"input artifact {item['name']} was not produced by an earlier action")
                inputs[item["name"]] = execution.keys[item["name"]]
            outputs = {
                item["name"]: action_dir / "output" / item["name"]
                for item in action.get("outputArtifacts", [])
            }
            handler = self._handler(type_id)
            step = _Step(role, execution, action_dir, inputs, outputs)
            record.inputs, record.bucket = dict(inputs), execution.store.bucket
            record.detail = handler(action.get("configuration", {}), step) or {}
            record.outputs = {name: execution.keys[name] for name in outputs if name in execution.keys}
            record.status = "Succeeded"
        except StopPipeline as stop:
            record.status, record.message = "Stopped", str(stop)
        except ActionFailed as exc:
            record.status, record.message = "Failed", str(exc)
            record.command, record.log_tail, record.detail = exc.command, exc.log_tail, exc.detail
        except (DeployError, BuildspecError, sessions.Denied, sessions.RoleUnusable) as exc:
            record.status, record.message = "Failed", str(exc)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            record.status = "Failed"
            record.message = f"{error.get('Code')}: {error.get('Message')}"
        record.seconds = time.monotonic() - started
        self.reporter("end", record)
        return record

    def _handler(self, type_id: dict):
        key = (type_id["category"], type_id["provider"])
        handlers = {
            ("Source", "CodeCommit"): self._source,
            ("Source", "CodeStarSourceConnection"): self._connection_source,
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

    def _arn(self, execution: _Execution, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{execution.account}:{resource}"

    def _source(self, configuration: dict, step: _Step) -> dict:
        repository, branch = configuration.get("RepositoryName"), configuration.get("BranchName", "main")
        # CodePipeline reads the branch and has CodeCommit archive it into the artifact store, as the pipeline role.
        step.role.client("codecommit").get_branch(repositoryName=repository, branchName=branch)
        repository_arn = self._arn(step.execution, "codecommit", repository)
        for action in ("codecommit:UploadArchive", "codecommit:GetUploadArchiveStatus"):
            step.role.authorize(action, repository_arn)
        ((name, target),) = step.outputs.items()
        target.mkdir(parents=True)
        revision = self.source_provider(configuration, target)
        step.produce(name, target, step.role)
        if revision:
            step.execution.revisions[name] = revision
        return {"repository": repository, "branch": branch, "commit": revision}

    def _connection_source(self, configuration: dict, step: _Step) -> dict:
        connection = configuration.get("ConnectionArn", "")
        service = connection.split(":")[2] if connection.count(":") >= 5 else "codeconnections"
        step.role.authorize(f"{service}:UseConnection", connection)
        raise ActionFailed(
            f"source {configuration.get('FullRepositoryId')} through connection {connection} cannot be fetched "
            "locally (no GitHub, GitLab or Bitbucket here); the pipeline role may use the connection"
        )

    def _codebuild(self, configuration: dict, step: _Step) -> dict:
        name = configuration["ProjectName"]
        projects = self._client("codebuild").batch_get_projects(names=[name])["projects"]
        if not projects:
            raise ActionFailed(f"build project {name} does not exist")
        if not step.inputs:
            raise ActionFailed(f"build action on {name} has no input artifact")
        codebuild = step.role.client("codebuild")
        build_id = codebuild.start_build(projectName=name)["build"]["id"]
        build_role = sessions.assume(
            self.region,
            self.endpoint_url,
            projects[0]["serviceRole"],
            "codebuild.amazonaws.com",
            f"AWSCodeBuild-{build_id.rsplit(':', 1)[-1]}",
        )
        primary_name = configuration.get("PrimarySource") or next(iter(step.inputs))
        sources = {n: step.consume(n, build_role) for n in step.inputs}
        source_dir = sources.pop(primary_name)
        action_vars = {
            v["name"]: v["value"] for v in json.loads(configuration.get("EnvironmentVariables") or "[]")
        }
        output_dir = next(iter(step.outputs.values()), step.action_dir / "output" / f"{name}-output")
        result = run_build(
            projects[0],
            source_dir,
            output_dir,
            region=self.region,
            endpoint_url=self.endpoint_url,
            secondary_sources=sources,
            action_variables=action_vars,
            local_overrides=self.local_build_overrides,
            log_dir=step.execution.run_dir / "logs",
            credentials=build_role.credentials,
            build_id=build_id,
            source_version=step.execution.revisions.get(primary_name),
            initiator=f"codepipeline/{step.execution.declaration['name']}",
        )
        if not result.succeeded:
            raise ActionFailed(
                f"build {name} failed in phase {result.phase}: {result.message}",
                command=result.command,
                log_tail=result.log_tail,
                detail={"project": name, "build_id": build_id, "log": str(result.log_path)},
            )
        for artifact_name, directory in step.outputs.items():
            step.produce(artifact_name, directory, build_role)
        return {
            "project": name,
            "build_id": build_id,
            "log": str(result.log_path),
            "artifact_files": result.artifact_files,
        }

    def _cloudformation(self, configuration: dict, step: _Step) -> dict:
        inputs = {name: step.consume(name, step.role) for name in step.inputs}
        stack = deploy(
            step.role.client("cloudformation"), configuration, inputs, self._client("cloudformation")
        )
        return {
            "stack": stack["StackName"],
            "status": stack["StackStatus"],
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        }

    def _approval(self, configuration: dict, step: _Step) -> dict:
        topic = configuration.get("NotificationArn")
        if topic:
            step.role.client("sns").publish(
                TopicArn=topic,
                Subject=f"APPROVAL NEEDED: {step.execution.declaration['name']}",
                Message=configuration.get("CustomData") or "Approval requested",
            )
        self.approval_handler(configuration)
        return {"summary": configuration.get("CustomData")}


@dataclass
class _Execution:
    declaration: dict
    run_dir: Path
    store: ArtifactStore
    account: str
    role: RoleSession | None = None
    keys: dict[str, str] = field(default_factory=dict)  # artifact name -> object key in the store
    local: dict[str, Path] = field(default_factory=dict)  # artifact name -> where it was produced
    revisions: dict[str, str] = field(default_factory=dict)  # source artifact name -> its commit id


@dataclass
class _Step:
    role: RoleSession
    execution: _Execution
    action_dir: Path
    inputs: dict[str, str]
    outputs: dict[str, Path]

    def consume(self, name: str, principal: RoleSession) -> Path:
        return self.execution.store.get(principal, self.inputs[name], self.action_dir / "input" / name)

    def produce(self, name: str, directory: Path, principal: RoleSession) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.execution.keys[name] = self.execution.store.put(principal, name, directory)
        self.execution.local[name] = directory
