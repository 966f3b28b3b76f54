"""Run a CodeBuild project's buildspec on this machine, the way CodeBuild runs it in its container.

What is faithful: the buildspec comes from the project's ``source.buildspec`` (a path in the primary source, or
inline YAML); the environment is exactly what CodeBuild would give the commands (the project's environment
variables, the buildspec's ``env.variables``, the ``CODEBUILD_*`` variables, the region) and nothing of the host's
own environment besides ``PATH``/``HOME``/locale; secondary sources appear as ``CODEBUILD_SRC_DIR_<name>``; the
``pre_build``, ``build`` and ``post_build`` commands run in one shell session, in order, and the first failing
command fails the build; the ``artifacts`` section decides what the output artifact holds.

What differs, on purpose: the ``install`` phase is skipped (its ``runtime-versions`` and ``pip install`` lines
would fetch from the network); the dependencies come from the environment this process runs in, whose ``bin``
directory leads ``PATH``. ``AWS_ENDPOINT_URL`` points every AWS call at the embedded AWS.

Before running anything, the commands are checked for ``$VARIABLE`` references that neither the project nor the
buildspec nor CodeBuild sets: on AWS such a variable silently expands to an empty string and the build fails
later with a confusing message; here the build fails at once and names the variable and the project.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from smbundle.local import warm_imports
from smbundle.local.codebuild import builds, warm_python
from smbundle.local.iam import enforcement, principals

log = logging.getLogger(__name__)

SKIPPED_PHASES = ("install",)
RUN_PHASES = ("pre_build", "build", "post_build")
# Variables CodeBuild itself provides inside every build container.
CODEBUILD_PROVIDED = frozenset(
    {
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "CODEBUILD_BUILD_ARN",
        "CODEBUILD_BUILD_ID",
        "CODEBUILD_BUILD_IMAGE",
        "CODEBUILD_BUILD_NUMBER",
        "CODEBUILD_BUILD_SUCCEEDING",
        "CODEBUILD_INITIATOR",
        "CODEBUILD_KMS_KEY_ID",
        "CODEBUILD_RESOLVED_SOURCE_VERSION",
        "CODEBUILD_SOURCE_VERSION",
        "CODEBUILD_SRC_DIR",
        "CODEBUILD_START_TIME",
        "HOME",
        "PATH",
        "PWD",
        "OLDPWD",
    }
)
# $NAME, ${NAME}; ${NAME:-default} and ${NAME-default} carry their own fallback and are not "unset" reads.
_VAR_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")
_EXPORT = re.compile(r"\bexport\s+([A-Za-z_][A-Za-z0-9_]*)=|^\s*([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)
_COMMAND_MARK = "[Container] Running command "
_PHASE_MARK = "[Container] Entering phase "


class BuildspecError(Exception):
    """The buildspec cannot run as written (missing file, bad YAML, unset variable)."""


@dataclass
class BuildResult:
    project: str
    status: str  # SUCCEEDED | FAILED
    seconds: float
    log_path: Path
    phase: str | None = None
    command: str | None = None
    message: str | None = None
    log_tail: list[str] = field(default_factory=list)
    artifact_files: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


def load_buildspec(project: dict, source_dir: Path) -> tuple[dict, str]:
    """The buildspec of ``project`` (a ``batch_get_projects`` entry) and where it came from."""
    spec = (project.get("source") or {}).get("buildspec") or "buildspec.yml"
    if "\n" in spec or spec.lstrip().startswith("version"):
        text, origin = spec, "inline buildspec"
    else:
        path = source_dir / spec
        if not path.is_file():
            raise BuildspecError(
                f"build project {project['name']} names buildspec {spec!r}, which is not in its source"
            )
        text, origin = path.read_text(), spec
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BuildspecError(f"{origin} of build project {project['name']} is not valid YAML: {exc}") from exc
    if not isinstance(parsed, dict) or "phases" not in parsed:
        raise BuildspecError(f"{origin} of build project {project['name']} has no 'phases' section")
    return parsed, origin


def phase_commands(buildspec: dict, phase: str) -> list[str]:
    commands = ((buildspec.get("phases") or {}).get(phase) or {}).get("commands") or []
    return [str(c) for c in commands]


def project_variables(project: dict) -> dict[str, str]:
    """PLAINTEXT environment variables of the project (others cannot be resolved locally)."""
    variables = {}
    for var in (project.get("environment") or {}).get("environmentVariables") or []:
        if var.get("type", "PLAINTEXT") != "PLAINTEXT":
            raise BuildspecError(
                f"build project {project['name']} variable {var['name']} is of type {var['type']}, "
                "which the local runner cannot resolve; use PLAINTEXT for local runs"
            )
        variables[var["name"]] = str(var.get("value", ""))
    return variables


def unset_references(commands: list[str], available: set[str]) -> list[str]:
    """Variables the commands read that nothing sets (in order of first use)."""
    defined = set(available)
    missing: list[str] = []
    for command in commands:
        for match in _VAR_REF.finditer(command):
            if match.group(2):
                continue
            name = match.group(1) or match.group(3)
            if name not in defined and name not in missing:
                missing.append(name)
        for match in _EXPORT.finditer(command):
            defined.add(match.group(1) or match.group(2))
    return missing


def _base_environment(credentials=None) -> dict[str, str]:
    """PATH/HOME/locale of this machine, and the credentials the build's commands sign with: the service role's
    session when given (as CodeBuild provides it), else this process's own keys."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "/usr/bin:/bin")]),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    if credentials is not None:
        env.update(credentials.environment())
    else:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            if os.environ.get(name):
                env[name] = os.environ[name]
    return env


def _script(buildspec: dict, timings: Path | None = None) -> str:
    lines = ["set -e", 'cd "$CODEBUILD_SRC_DIR"']
    for phase in RUN_PHASES:
        commands = phase_commands(buildspec, phase)
        if not commands:
            continue
        if timings is not None:
            lines.append(
                f"printf '%s %s\\n' \"$(date +%s.%N)\" {phase.upper()} >> {_shell_quote(str(timings))}"
            )
        lines.append(f"echo {_shell_quote(_PHASE_MARK + phase.upper())}")
        for command in commands:
            lines.append(f"echo {_shell_quote(_COMMAND_MARK + command)}")
            lines.append(command)
    return "\n".join(lines) + "\n"


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def collect_artifacts(buildspec: dict, source_dir: Path, output_dir: Path) -> list[str]:
    """Copy what the buildspec's ``artifacts`` section selects into ``output_dir``."""
    section = buildspec.get("artifacts") or {}
    patterns = [str(p) for p in section.get("files") or []]
    base = source_dir / section.get("base-directory", ".")
    discard_paths = str(section.get("discard-paths", "no")).lower() in ("yes", "true")
    output_dir.mkdir(parents=True, exist_ok=True)
    copied: list[str] = []
    files = sorted(p for p in base.rglob("*") if p.is_file())
    for pattern in patterns:
        matched = [p for p in files if _glob_match(p.relative_to(base).as_posix(), pattern)]
        if not matched:
            raise BuildspecError(f"artifacts file pattern {pattern!r} matched nothing in {base}")
        for path in matched:
            relative = Path(path.name) if discard_paths else path.relative_to(base)
            target = output_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied.append(relative.as_posix())
    return sorted(set(copied))


def _glob_match(relative: str, pattern: str) -> bool:
    if pattern in ("**/*", "**"):
        return True
    if pattern.startswith("**/"):
        return fnmatch.fnmatch(relative, pattern[3:]) or fnmatch.fnmatch(relative, pattern)
    return fnmatch.fnmatch(relative, pattern)


def run_build(
    project: dict,
    source_dir: Path,
    output_dir: Path,
    *,
    region: str,
    endpoint_url: str | None,
    secondary_sources: dict[str, Path] | None = None,
    action_variables: dict[str, str] | None = None,
    local_overrides: dict[str, str] | None = None,
    log_dir: Path | None = None,
    credentials=None,
    build_id: str | None = None,
    source_version: str | None = None,
    initiator: str = "codepipeline/local",
) -> BuildResult:
    """Run ``project``'s buildspec over ``source_dir``; the output artifact lands in ``output_dir``.

    ``action_variables`` are the CodePipeline action's ``EnvironmentVariables`` (they override the project's).
    ``local_overrides`` are documented tuning knobs of the local run (for example a shorter poll interval);
    they are added after the variable check, so they can never hide a variable the project fails to set.
    ``credentials`` are the project's service role session (every AWS call of the commands is made as that role).
    ``source_version`` is the primary source's revision (a CodeCommit commit id): CODEBUILD_RESOLVED_SOURCE_VERSION.
    The build's record (BatchGetBuilds) and its CloudWatch Logs stream are written as the build goes (``builds``).
    """
    name = project["name"]
    started = time.monotonic()
    started_at = time.time()
    log_dir = log_dir or output_dir.parent
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    buildspec, origin = load_buildspec(project, source_dir)

    build_id = build_id or f"{name}:{uuid.uuid4()}"
    env = _base_environment(credentials)
    env.update(project_variables(project))
    env.update({k: str(v) for k, v in ((buildspec.get("env") or {}).get("variables") or {}).items()})
    env.update(action_variables or {})
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "CODEBUILD_SRC_DIR": str(source_dir),
            "CODEBUILD_BUILD_ID": build_id,
            "CODEBUILD_BUILD_NUMBER": "1",
            "CODEBUILD_INITIATOR": initiator,
            "CODEBUILD_BUILD_IMAGE": (project.get("environment") or {}).get("image", ""),
            "CODEBUILD_BUILD_SUCCEEDING": "1",
        }
    )
    if source_version:
        env["CODEBUILD_RESOLVED_SOURCE_VERSION"] = source_version
    for artifact_name, path in (secondary_sources or {}).items():
        env[f"CODEBUILD_SRC_DIR_{artifact_name}"] = str(path)

    commands = [c for phase in RUN_PHASES for c in phase_commands(buildspec, phase)]
    missing = unset_references(commands, set(env) | CODEBUILD_PROVIDED)
    if missing:
        names = ", ".join(f"${m}" for m in missing)
        raise BuildspecError(
            f"{origin} reads {names}, which build project {name} does not set: "
            "add it to the project's Environment.EnvironmentVariables in the product template"
        )
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    # Stands in for the skipped install phase's `pip install .`: the checked-out code comes first on the path.
    env["PYTHONPATH"] = str(source_dir)
    env.update(local_overrides or {})
    launchers = warm_python.launchers()
    if launchers is not None:
        env["PATH"] = os.pathsep.join([str(launchers), env["PATH"]])

    timeout_minutes = int(project.get("timeoutInMinutes") or 60)
    account = project.get("arn", "::::000000000000").split(":")[4]
    principal = principals.for_access_key(account, credentials.access_key_id) if credentials else None
    builds.started(
        account,
        region,
        build_id,
        buildspec=origin,
        initiator=initiator,
        environment={
            k: v for k, v in (project.get("environment") or {}).items() if k != "environmentVariables"
        },
    )
    try:  # CodeBuild creates the build's log stream as the service role before it runs anything
        builds.write_log(principal, region, account, build_id, [], [])
    except enforcement.AccessDenied as denial:
        builds.finished(
            account,
            region,
            build_id,
            status="FAILED",
            started=started_at,
            ended=time.time(),
            marks=[],
            failed_phase="PROVISIONING",
            reason=f"ACCESS_DENIED: {denial}",
            source_version=source_version,
            initiator=initiator,
        )
        return BuildResult(name, "FAILED", 0.0, log_path, "PROVISIONING", None, f"ACCESS_DENIED: {denial}")
    timings = log_dir / f"{name}.{uuid.uuid4().hex[:8]}.phases"
    log.info("running %s (%s) in %s", name, origin, source_dir)
    warm_imports.start()  # the server waits on this build: a good time to import what its steps will need
    with open(log_path, "w") as log_file:
        try:
            completed = subprocess.run(
                ["bash", "-c", _script(buildspec, timings)],
                cwd=source_dir,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=timeout_minutes * 60,
                check=False,
            )
            returncode = completed.returncode
        except subprocess.TimeoutExpired:
            returncode = None
    lines = log_path.read_text(errors="replace").splitlines()
    phase, command = _last_marks(lines)
    seconds = time.monotonic() - started
    tail = list(deque(lines, maxlen=15))
    marks = _phase_times(timings)
    if returncode != 0:
        reason = (
            f"build timed out after {timeout_minutes} minutes"
            if returncode is None
            else f"command exited with code {returncode}"
        )
        result = BuildResult(name, "FAILED", seconds, log_path, phase, command, reason, tail)
        context = f"Error while executing command: {command}. Reason: exit status {returncode}"
    else:
        files = collect_artifacts(buildspec, source_dir, output_dir) if buildspec.get("artifacts") else []
        result = BuildResult(name, "SUCCEEDED", seconds, log_path, log_tail=tail, artifact_files=files)
        context = None
    ended_at = time.time()
    builds.write_log(principal, region, account, build_id, lines, _line_times(lines, marks, started_at))
    builds.finished(
        account,
        region,
        build_id,
        status=result.status,
        started=started_at,
        ended=ended_at,
        marks=marks,
        failed_phase=marks[-1][0] if marks and not result.succeeded else None,
        reason=context,
        source_version=source_version,
        initiator=initiator,
    )
    return result


def _phase_times(path: Path) -> list[tuple[str, float]]:
    """(phase, epoch seconds) of each run phase as it began (the build script notes them beside its log)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    finally:
        path.unlink(missing_ok=True)
    marks = []
    for line in text.splitlines():
        moment, _, phase = line.partition(" ")
        marks.append((phase.strip(), float(moment)))
    return marks


def _line_times(lines: list[str], marks: list[tuple[str, float]], started: float) -> list[float]:
    """Each log line's time: the time its phase began (the build prints the phase marks in the same order)."""
    moments, current, index = [], started, 0
    for line in lines:
        if line.startswith(_PHASE_MARK) and index < len(marks):
            current = marks[index][1]
            index += 1
        moments.append(current)
    return moments


def last_command(lines: list[str]) -> str | None:
    """The last command a build log says it ran."""
    return _last_marks(lines)[1]


def _last_marks(lines: list[str]) -> tuple[str | None, str | None]:
    phase = command = None
    for line in lines:
        if line.startswith(_PHASE_MARK):
            phase = line[len(_PHASE_MARK) :].strip()
        elif line.startswith(_COMMAND_MARK):
            command = line[len(_COMMAND_MARK) :]
    return phase, command
