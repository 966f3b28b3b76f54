"""CodeBuild's build records as they are: what BatchGetBuilds, ListBuilds and the build's CloudWatch Logs say.

moto records a build when StartBuild is called, then answers every BatchGetBuilds with ``SUCCEEDED``, invented phase
durations and nine more phases each time it is asked. Here the local build (``executor.run_build``) records what
happened: the status, the phases with the times they really started and ended (the ``install`` phase, which runs
nothing locally, lasts no time and says so), the failing phase's context as CodeBuild words it ("Error while executing
command: ... Reason: exit status N"), the resolved source version, the initiator, and the log: the build's output in
``/aws/codebuild/<project>``, stream ``<build uuid>``, written as the project's service role (``logs/writer.py``),
with the deep link of the build's own Region.
"""

from __future__ import annotations

from datetime import UTC, datetime

from moto.codebuild.models import CodeBuildBackend, codebuild_backends

from smbundle.local.events import bus
from smbundle.local.logs import writer

PHASES = (
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
)
_applied = False


def _iso(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def _record(account: str, region: str, build_id: str) -> dict | None:
    backend = codebuild_backends[account][region]
    for history in backend.build_metadata_history.values():
        for build in history:
            if build["id"] == build_id:
                return build
    return None


def log_location(region: str, account: str, build_id: str) -> dict:
    project, _, stream = build_id.partition(":")
    group = f"/aws/codebuild/{project}"
    return {
        "groupName": group,
        "streamName": stream,
        "deepLink": (
            f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
            f"{group.replace('/', '$252F')}/log-events/{stream}"
        ),
        "cloudWatchLogsArn": f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}",
        "cloudWatchLogs": {"status": "ENABLED"},
        "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
    }


def phases(
    marks: list[tuple[str, float]], started: float, ended: float, failed: str | None, reason: str | None
):
    """The build's phases from the times its run phases began (``marks``: (PRE_BUILD|BUILD|POST_BUILD, epoch))."""
    first = marks[0][1] if marks else ended
    spans = {"SUBMITTED": (started, started), "QUEUED": (started, started), "PROVISIONING": (started, first)}
    spans["DOWNLOAD_SOURCE"] = spans["INSTALL"] = (first, first)
    for index, (phase, moment) in enumerate(marks):
        spans[phase] = (moment, marks[index + 1][1] if index + 1 < len(marks) else ended)
    for phase in ("UPLOAD_ARTIFACTS", "FINALIZING"):
        spans[phase] = (ended, ended)
    found = []
    for phase in PHASES:
        if phase == "COMPLETED":
            found.append({"phaseType": phase, "startTime": _iso(ended)})
            break
        if phase not in spans:
            continue
        begin, end = spans[phase]
        entry = {
            "phaseType": phase,
            "phaseStatus": "FAILED" if phase == failed else "SUCCEEDED",
            "startTime": _iso(begin),
            "endTime": _iso(end),
            "durationInSeconds": int(round(end - begin)),
        }
        if phase == "INSTALL":
            entry["contexts"] = [
                {"statusCode": "", "message": "install phase not run locally (docs/local.md)"}
            ]
        if phase == failed:
            entry["contexts"] = [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": reason or ""}]
        found.append(entry)
    return found


def finished(
    account: str,
    region: str,
    build_id: str,
    *,
    status: str,
    started: float,
    ended: float,
    marks: list[tuple[str, float]],
    failed_phase: str | None,
    reason: str | None,
    source_version: str | None,
    initiator: str,
) -> dict | None:
    """Record how a build ended (the moto record StartBuild made, updated in place); returns it."""
    build = _record(account, region, build_id)
    if build is None:
        return None
    build.update(
        startTime=_iso(started),
        endTime=_iso(ended),
        buildStatus=status,
        currentPhase="COMPLETED",
        buildComplete=True,
        phases=phases(marks, started, ended, failed_phase, reason),
        logs=log_location(region, account, build_id),
        initiator=initiator,
    )
    build["source"] = {"type": "CODEPIPELINE", "buildspec": build.get("source", {}).get("buildspec", "")}
    if source_version:
        build["resolvedSourceVersion"] = source_version
    _state_change(account, region, build)
    return build


def _state_change(account: str, region: str, build: dict) -> None:
    """CodeBuild's "CodeBuild Build State Change" event (IN_PROGRESS, then SUCCEEDED, FAILED...)."""
    detail = {
        "build-status": build["buildStatus"],
        "project-name": build["projectName"],
        "build-id": build["arn"],
        "current-phase": build["currentPhase"],
        "current-phase-context": "[]",
        "version": "1",
        "additional-information": {
            "initiator": build.get("initiator"),
            "build-complete": build.get("buildComplete", False),
            "logs": {
                "group-name": build["logs"].get("groupName"),
                "stream-name": build["logs"].get("streamName"),
                "deep-link": build["logs"].get("deepLink"),
            },
            "source-version": build.get("resolvedSourceVersion"),
        },
    }
    bus.put(
        "aws.codebuild",
        "CodeBuild Build State Change",
        detail,
        account=account,
        region=region,
        resources=[build["arn"]],
    )


def started(
    account: str, region: str, build_id: str, *, buildspec: str, initiator: str, environment: dict
) -> None:
    """What a build shows while it runs."""
    build = _record(account, region, build_id)
    if build is None:
        return
    build.update(
        currentPhase="BUILD",
        buildStatus="IN_PROGRESS",
        buildComplete=False,
        initiator=initiator,
        logs=log_location(region, account, build_id),
        source={"type": "CODEPIPELINE", "buildspec": buildspec},
        environment=environment,
    )
    _state_change(account, region, build)


def write_log(
    principal, region: str, account: str, build_id: str, lines: list[str], moments: list[float]
) -> None:
    """The build's output into its log stream, each line at the time its phase ran, as ``principal``."""
    location = log_location(region, account, build_id)
    events = [(int(moment * 1000), line) for line, moment in zip(lines, moments, strict=True)]
    writer.write(principal, region, account, location["groupName"], location["streamName"], events)


def apply() -> None:
    """BatchGetBuilds answers the records as they are (moto's invents an outcome on every call)."""
    global _applied
    if _applied:
        return

    def batch_get_builds(self, ids):
        return [
            build
            for history in self.build_metadata_history.values()
            for build in history
            if build["id"] in ids
        ]

    CodeBuildBackend.batch_get_builds = batch_get_builds
    _applied = True
