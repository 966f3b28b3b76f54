"""What run_local.py --prod-load and --bad-model show after the lifecycle reached prod, through the APIs alone.

Both act as a person at a terminal would, against the embedded AWS: they send prod traffic with InvokeEndpoint,
change code with CodeCommit's PutFile, approve with UpdateModelPackage, and read what the services did with
DescribeEndpoint, DescribeScalingActivities, DescribeAlarmHistory and CodePipeline's executions.

- ``prod_load``: a traffic peak of ``rate`` requests per AWS minute, then a trickle of a tenth of it, while the
  variant's ``CurrentInstanceCount`` is printed as Application Auto Scaling changes it (target tracking on
  ``SageMakerVariantInvocationsPerInstance``): up under the peak, back down after it.
- ``bad_model``: a second model version whose serving code breaks the JSON answer (its staging tests ask for CSV,
  so it passes them), deployed to prod while prod traffic, a share of it asking for JSON, flows. The canary fleet
  answers errors, the 5XX alarm goes off during the bake, SageMaker rolls the endpoint back, the deploy pipeline's
  VerifyProd action fails saying so, and prod still serves the first version.

Periods are AWS's, run ``SMBUNDLE_TIME_SCALE`` times faster (run_local.py picks the scale; docs/local.md).
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from smbundle.local import time_scale
from smbundle.local.sample_data import generate_rows

VARIANT = "AllTraffic"
# What --prod-load and --bad-model ask of the project unless --project-parameter says otherwise, and how fast AWS's
# clocks run for them unless SMBUNDLE_TIME_SCALE is set (docs/local.md): an AWS minute in half a second.
PROD_LOAD_PARAMETERS = {"ProdMaxInstanceCount": "4", "ProdTargetInvocationsPerInstance": "10"}
BAD_MODEL_PARAMETERS = {
    "ProdMinInstanceCount": "2",
    "ProdDeploymentStrategy": "canary",  # of 25 % of the instances (the product's default), at least one
    "ProdBakeTimeSeconds": "180",
    "ProdAlarmRollback": "true",
}
PRODUCTION_TIME_SCALE = "120"
# Prod traffic while the bad model deploys, in requests per AWS minute.
BAD_MODEL_RATE = 30.0
# The peak lasts this many AWS minutes; then a tenth of the rate until prod is back at its minimum.
PEAK_MINUTES = 8
TRICKLE_MINUTES_AT_MOST = 40
INFERENCE_PATH = "pipelines/abalone/inference.py"
# What the second model version changes in the build repository's serving code: a refactoring of output_fn that
# breaks the JSON answer (Accept: application/json). The staging tests ask for CSV only, so it passes them; a share
# of prod's clients ask for JSON, and get a ModelError (the container answers 500, counted as a 5XX).
REGRESSION = """

# v2 (run_local.py --bad-model): output_fn "refactored"; the JSON answer no longer serializes numpy values.
_csv_output_fn = output_fn


def output_fn(prediction, accept):
    if "json" in str(accept):
        return json.dumps({"predictions": np.ravel(prediction)})
    return _csv_output_fn(prediction, accept)
"""


def _record(row: list) -> str:
    return ",".join(str(value) for value in row[:-1])  # the label is not sent


@dataclass
class Traffic:
    """Prod traffic from a background thread: ``rate()`` requests per AWS minute, a share asking for JSON."""

    runtime: object
    endpoint: str
    rate: Callable[[], float]
    json_share: float = 0.0
    sent: int = 0
    errors: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="prod-traffic", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        rows = generate_rows(500, seed=23)
        pick = random.Random(5)
        while not self.stopped.is_set():
            per_local_second = self.rate() * time_scale.factor() / 60
            if per_local_second <= 0:
                self.stopped.wait(0.05)
                continue
            started = time.monotonic()
            accept = "application/json" if pick.random() < self.json_share else "text/csv"
            try:
                self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint,
                    ContentType="text/csv",
                    Accept=accept,
                    Body=_record(pick.choice(rows)),
                )
            except Exception:  # noqa: BLE001 - a ModelError or a throttle is what this traffic measures
                self.errors += 1
            self.sent += 1
            self.stopped.wait(max(0.0, 1 / per_local_second - (time.monotonic() - started)))


def _aws_minutes(local_seconds: float) -> float:
    return local_seconds * time_scale.factor() / 60


def _instance_count(sagemaker, endpoint: str) -> tuple[str, int]:
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    variant = next(v for v in described["ProductionVariants"] if v["VariantName"] == VARIANT)
    return described["EndpointStatus"], int(variant.get("CurrentInstanceCount") or 0)


def prod_load(client, endpoint: str, rate: float, say: Callable[[str], None]) -> dict:
    """Drive prod at ``rate`` requests per AWS minute, then a tenth of it; report each instance count change."""
    sagemaker, scaling = client("sagemaker"), client("application-autoscaling")
    resource = f"endpoint/{endpoint}/variant/{VARIANT}"
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])
    if not targets["ScalableTargets"]:
        raise RuntimeError(
            f"prod endpoint {endpoint} has no scalable target: the project needs ProdMaxInstanceCount above "
            "ProdMinInstanceCount (run_local.py --prod-load sets it unless --project-parameter does)"
        )
    target = targets["ScalableTargets"][0]
    minimum, maximum = target["MinCapacity"], target["MaxCapacity"]
    phase = {"rate": float(rate)}
    traffic = Traffic(client("sagemaker-runtime"), endpoint, lambda: phase["rate"])
    started = time.monotonic()
    _, count = _instance_count(sagemaker, endpoint)
    history = [{"aws_minute": 0.0, "instances": count, "requests_per_minute": rate}]
    say(
        f"prod load: {rate:g} requests/min on {endpoint} ({count} instance(s), autoscaling {minimum}-{maximum})"
    )
    traffic.start()
    peak_over, achieved = False, 0.0
    try:
        while True:
            minute = _aws_minutes(time.monotonic() - started)
            if not peak_over and minute >= PEAK_MINUTES:
                peak_over = True
                phase["rate"] = rate / 10
                achieved = traffic.sent / minute
                say(
                    f"prod load: minute {minute:4.1f}: the peak is over ({achieved:.0f} requests/min sent), "
                    f"{phase['rate']:g} requests/min"
                )
            status, now = _instance_count(sagemaker, endpoint)
            if now != count:
                count = now
                history.append(
                    {"aws_minute": round(minute, 1), "instances": now, "requests_per_minute": phase["rate"]}
                )
                say(f"prod load: minute {minute:4.1f}: {now} instance(s) InService ({status})")
            if peak_over and count <= minimum and len(history) > 1:
                break
            if minute >= PEAK_MINUTES + TRICKLE_MINUTES_AT_MOST:
                raise RuntimeError(
                    f"prod did not scale back to {minimum} instance(s) within {minute:.0f} AWS minutes"
                )
            time.sleep(0.05)
    finally:
        traffic.stopped.set()
    activities = scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource)
    return {
        "endpoint": endpoint,
        "min_capacity": minimum,
        "max_capacity": maximum,
        "peak_requests_per_minute": rate,
        "peak_requests_per_minute_sent": round(achieved, 1),
        "requests_sent": traffic.sent,
        "errors": traffic.errors,
        "instance_counts": history,
        "scaling_activities": [
            {"Description": a["Description"], "StatusCode": a["StatusCode"], "Cause": a.get("Cause")}
            for a in activities["ScalingActivities"]
        ],
        "time_scale": time_scale.factor(),
    }


def push_regression(codecommit, repository: str, branch: str) -> str:
    """Commit the second version's serving code to the build repository, as `aws codecommit put-file` does."""
    head = codecommit.get_branch(repositoryName=repository, branchName=branch)["branch"]["commitId"]
    current = codecommit.get_file(repositoryName=repository, commitSpecifier=head, filePath=INFERENCE_PATH)
    content = (
        base64.b64decode(current["fileContent"])
        if isinstance(current["fileContent"], str)
        else current["fileContent"]
    )
    answer = codecommit.put_file(
        repositoryName=repository,
        branchName=branch,
        parentCommitId=head,
        filePath=INFERENCE_PATH,
        fileContent=content + REGRESSION.encode(),
        commitMessage="Stricter input parsing",
        name="run_local.py --bad-model",
        email="bad-model@example.com",
    )
    return answer["commitId"]


def _served_package(sagemaker, endpoint: str) -> tuple[dict, str]:
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    variant = next(v for v in config["ProductionVariants"] if v["VariantName"] == VARIANT)
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    return described, model["PrimaryContainer"].get("ModelPackageName", "")


def bad_model(
    run, names: dict, account: str, say: Callable[[str], None], rate: float = BAD_MODEL_RATE
) -> dict:
    """Deploy a second model version that fails part of prod's traffic (``rate`` requests per AWS minute while it
    deploys); return what happened (see the module)."""
    from smbundle.local import lifecycle

    sagemaker, codecommit, codepipeline = (
        run.client("sagemaker"),
        run.client("codecommit"),
        run.client("codepipeline"),
    )
    endpoint = names["prod_endpoint"]
    _, first_package = _served_package(sagemaker, endpoint)
    traffic = Traffic(run.client("sagemaker-runtime"), endpoint, lambda: rate, json_share=0.3)
    say(
        f"bad model: prod traffic {rate:g} requests/min on {endpoint}, 30 % of it asking for JSON "
        "(Accept: application/json)"
    )
    traffic.start()
    try:
        repository = f"{names['build_pipeline'].rsplit('-', 1)[0]}-modelbuild"
        branch = codecommit.get_repository(repositoryName=repository)["repositoryMetadata"]["defaultBranch"]
        before = set(lifecycle._event_started(codepipeline, names["build_pipeline"]))
        commit = push_regression(codecommit, repository, branch)
        say(f"bad model: committed {commit[:8]} to {repository} ({INFERENCE_PATH}: the JSON answer breaks)")
        build_execution = _started_by_event(codepipeline, names["build_pipeline"], before)
        build = lifecycle._follow(run, names["build_pipeline"], build_execution, "ModelBuild.v2")
        if build.status != "Succeeded":
            lifecycle._raise_pipeline_failure("ModelBuild.v2", build)
        second = sagemaker.list_model_packages(
            ModelPackageGroupName=names["group"], SortBy="CreationTime", SortOrder="Descending", MaxResults=1
        )["ModelPackageSummaryList"][0]["ModelPackageArn"]
        deploys = [
            lifecycle._follow(run, pipeline, execution, "ModelDeploy.v2")
            for pipeline, execution in lifecycle.change_approval(run, second, "Approved", account)
        ]
    finally:
        traffic.stopped.set()
    described, serving = _served_package(sagemaker, endpoint)
    alarm = f"sagemaker-{run.options.project_name}-prod-invocation-5xx-errors"
    history = run.client("cloudwatch").describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")
    alarmed = [h["HistorySummary"] for h in history["AlarmHistoryItems"] if "to ALARM" in h["HistorySummary"]]
    failed = next((d for d in deploys if d.status == "Failed"), None)
    result = {
        "first_package": first_package,
        "second_package": second,
        "prod_serves": serving,
        "endpoint_status": described["EndpointStatus"],
        "failure_reason": described.get("FailureReason"),
        "alarm": alarm,
        "alarm_history": alarmed,
        "deploy_status": [d.status for d in deploys],
        "deploy_failed_action": failed.failed_action.action if failed and failed.failed_action else None,
        "deploy_failure": _failure_line(failed),
        "traffic": {"requests": traffic.sent, "errors": traffic.errors},
        "time_scale": time_scale.factor(),
    }
    if serving != first_package or failed is None or result["deploy_failed_action"] != "VerifyProd":
        raise lifecycle.LifecycleFailed(
            "BadModel",
            f"the second version was not rolled back by its alarm: prod serves {serving}, the deploy pipeline "
            f"{'/'.join(result['deploy_status'])} at {result['deploy_failed_action']}: {result['deploy_failure']}",
        )
    say(f"bad model: {alarm} went to ALARM during the canary: {alarmed[0] if alarmed else '(no history)'}")
    say(f"bad model: SageMaker rolled {endpoint} back: {described.get('FailureReason')}")
    say(
        f"bad model: the deploy pipeline failed at {result['deploy_failed_action']}: {result['deploy_failure']}"
    )
    say(f"bad model: prod still serves {serving}")
    return result


def _failure_line(outcome) -> str | None:
    """What the failed action said: its command's error line, else CodePipeline's summary."""
    action = outcome.failed_action if outcome is not None else None
    if action is None:
        return None
    errors = [line for line in action.log_tail if line.startswith("error: ")]
    return errors[-1][len("error: ") :] if errors else action.message


EVENT_WAIT_SECONDS = 5.0


def _started_by_event(codepipeline, pipeline: str, before: set[str]) -> str:
    from smbundle.local import lifecycle

    deadline = time.monotonic() + EVENT_WAIT_SECONDS
    while time.monotonic() < deadline:
        started = [e for e in lifecycle._event_started(codepipeline, pipeline) if e not in before]
        if started:
            return started[0]
        time.sleep(0.05)
    raise lifecycle.LifecycleFailed(
        "BadModel", f"the commit to the build repository started no {pipeline} execution"
    )
