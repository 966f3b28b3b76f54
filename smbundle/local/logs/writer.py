"""Writing CloudWatch Logs as a service does on AWS: into moto's Logs backend, as the role that writes them there.

CodeBuild writes a build's output to ``/aws/codebuild/<project>`` (stream: the build id's uuid) as the build
project's service role; SageMaker writes a processing job's to ``/aws/sagemaker/ProcessingJobs``, a training job's
to ``/aws/sagemaker/TrainingJobs`` (stream ``<job name>/algo-1-<epoch seconds>``) and an endpoint's to
``/aws/sagemaker/Endpoints/<endpoint name>`` (stream ``<variant>/<instance id>``) as the job's or the model's
execution role. Each call (``logs:CreateLogGroup`` when the group is new, ``logs:CreateLogStream``,
``logs:PutLogEvents``) is authorized by the embedded IAM first; a denial is raised to the writer, which fails as
the service fails without its logs permission. ``aws logs tail``, ``get-log-events`` and ``filter-log-events`` read
them back.
"""

from __future__ import annotations

import threading
import time

from moto.logs.models import logs_backends

from smbundle.local.iam import enforcement
from smbundle.local.iam.principals import Principal

_lock = threading.Lock()


def log_group_arn(region: str, account: str, group: str, stream: str | None = None) -> str:
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    return f"{arn}:log-stream:{stream}" if stream is not None else f"{arn}:*"


def now_ms() -> int:
    return int(time.time() * 1000)


def write(
    principal: Principal | None,
    region: str,
    account: str,
    group: str,
    stream: str,
    events: list[tuple[int, str]],
) -> None:
    """Append ``events`` ((epoch milliseconds, message), in order) to ``group``/``stream``, creating both as
    needed, as ``principal`` (None: not checked, the administrator)."""
    backend = logs_backends[account][region]

    def authorize(action: str, resource: str) -> None:
        if principal is not None:
            enforcement.authorize(principal, action, resource, None, region)

    with _lock:
        if group not in backend.groups:
            authorize("logs:CreateLogGroup", log_group_arn(region, account, group))
            backend.create_log_group(group, {})
        if stream not in backend.groups[group].streams:
            authorize("logs:CreateLogStream", log_group_arn(region, account, group, stream))
            backend.create_log_stream(group, stream)
        if not events:
            return
        authorize("logs:PutLogEvents", log_group_arn(region, account, group, stream))
        batch = [{"timestamp": moment, "message": message or " "} for moment, message in events]
        for start in range(0, len(batch), 10_000):
            backend.put_log_events(group, stream, batch[start : start + 10_000])
