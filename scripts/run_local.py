#!/usr/bin/env python3
"""Run the whole project lifecycle on the embedded AWS: publish, create a project, build, approve, deploy.

No AWS account is used: the embedded AWS (moto plus our extensions) is started in this process, or an already
running one is used with --endpoint-url / AWS_ENDPOINT_URL (scripts/local_aws.py).

Without --workdir the run works in a temporary directory under /tmp that is removed at the end (kept when the
run fails, or with --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# A local tool: it never uses real AWS, so no profile is read (a missing one, e.g. a left-over "admin", cannot fail
# it). Done before any import, as the embedded AWS's modules may start botocore sessions when imported.
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(_name, None)

from typing import TYPE_CHECKING  # noqa: E402

from smbundle import cli, validation  # noqa: E402
from smbundle.local.production_runs import (  # noqa: E402 - light: no embedded AWS
    BAD_MODEL_PARAMETERS,
    PEAK_MINUTES,
    PROD_LOAD_PARAMETERS,
    PRODUCTION_TIME_SCALE,
)

if TYPE_CHECKING:
    from smbundle.local.lifecycle import LifecycleFailed


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--project-name", default="serverless-demo", help="SageMaker project name (default: %(default)s)"
    )
    parser.add_argument(
        "--input-data",
        type=Path,
        help="CSV in the abalone schema (no header; sex, 7 measurements, rings). "
        "Default: a generated synthetic sample of that schema",
    )
    parser.add_argument("--workdir", type=Path, help="keep pipeline artifacts, exports and test results here")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary work directory (without --workdir)"
    )
    parser.add_argument(
        "--summary", type=Path, help="write the run summary JSON here (default: <workdir>/summary.json)"
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        help="Region of the embedded AWS (default: AWS_REGION, else us-east-1)",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="use an already running embedded AWS (scripts/local_aws.py) instead of starting one",
    )
    approval = parser.add_mutually_exclusive_group()
    approval.add_argument(
        "--auto-approve", action="store_true", default=True, help="grant the manual approval (default)"
    )
    approval.add_argument(
        "--stop-before-prod", action="store_true", help="stop at the manual approval before production"
    )
    parser.add_argument(
        "--project-parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the product template chosen at project creation, as in Studio (repeatable)",
    )
    parser.add_argument(
        "--target",
        choices=("servicecatalog", "s3"),
        default="servicecatalog",
        help="servicecatalog (default): publish a Service Catalog product and create the project from it; s3: publish "
        "an S3 project template (as publish_product.py --target s3 does, for the embedded Studio domain) and create "
        "the project through TemplateProviders as the Studio user, with the custom launch role as RoleARN (implies "
        "--roles custom)",
    )
    parser.add_argument(
        "--roles",
        choices=("managed", "custom"),
        help="managed (default): the SageMaker-managed project roles; custom: publish with the product's own roles "
        "stack (service_catalog/roles.yaml), as publish_product.py --roles custom does, and run under its roles "
        "(the default with --target s3, --prod-load and --bad-model, which need it)",
    )
    parser.add_argument(
        "--iam",
        choices=("on", "off"),
        default="on",
        help="enforce the project roles' IAM policies (default: on; off is for exploring only, and a run that "
        "passes with it off says nothing about AWS)",
    )
    parser.add_argument(
        "--existing-customer",
        action="store_true",
        help="run in an account that already uses SageMaker Model Monitor and Debugger (default: a new "
        "customer's, which cannot: both are closed to new customers); with an already running embedded AWS, "
        "start it with local_aws.py --existing-customer instead",
    )
    parser.add_argument(
        "--monitor",
        action="store_true",
        help="after prod is deployed: send it the model's held-out records, run a monitoring execution (Model "
        "Monitor, data quality) and print what it found (docs/monitoring.md)",
    )
    parser.add_argument(
        "--drift",
        action="append",
        default=[],
        metavar="FEATURE=FACTOR",
        help="with --monitor (implied): scale a measurement of that traffic, e.g. shell_weight=1.5 (repeatable)",
    )
    parser.add_argument(
        "--prod-load",
        type=float,
        metavar="RATE_PER_MIN",
        help="after prod is deployed (with autoscaling: ProdMaxInstanceCount 4 and ProdTargetInvocationsPerInstance "
        "10 unless --project-parameter says otherwise): send it RATE_PER_MIN requests per minute for "
        f"{PEAK_MINUTES} minutes, then a tenth of it, and print its instance count as autoscaling changes it",
    )
    parser.add_argument(
        "--bad-model",
        action="store_true",
        help="after prod is deployed (2 instances, canary updates with alarm rollback): commit a second model version "
        "whose JSON answers fail (its staging tests ask for CSV), and show its canary, the 5XX alarm, the rollback, the deploy "
        "pipeline failing and prod still serving the first version",
    )
    parser.add_argument(
        "--serve", action="store_true", help="keep the embedded AWS up afterwards (Ctrl-C stops it)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the summary JSON on stdout (progress lines go to stderr)",
    )
    return parser.parse_args(argv)


def project_parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise validation.UsageError(f"--project-parameter {pair!r} must look like KEY=VALUE")
        parameters[key] = value
    return parameters


def drift_factors(pairs: list[str]) -> dict[str, float]:
    from smbundle.local.monitoring_run import NUMERIC_FEATURES

    factors = {}
    for pair in pairs:
        feature, sep, raw = pair.partition("=")
        if not sep or feature not in NUMERIC_FEATURES:
            raise validation.UsageError(
                f"--drift {pair!r} must look like FEATURE=FACTOR with FEATURE one of {', '.join(NUMERIC_FEATURES)}"
            )
        try:
            factor = float(raw)
        except ValueError:
            factor = float("nan")
        if not factor > 0 or factor == float("inf"):
            raise validation.UsageError(f"--drift {pair!r}: FACTOR must be a positive number, like 1.5")
        factors[feature] = factor
    return factors


def check_args(args: argparse.Namespace) -> None:
    """Everything a careless command line can get wrong, before anything starts (exit 2)."""
    project_parameters(args.project_parameter)
    drift_factors(args.drift)
    if args.existing_customer and args.endpoint_url:
        raise validation.UsageError(
            "--existing-customer sets up the embedded AWS this run starts; with --endpoint-url (or AWS_ENDPOINT_URL) "
            "start that one with scripts/local_aws.py --existing-customer instead"
        )
    if (args.monitor or args.drift) and args.stop_before_prod:
        raise validation.UsageError(
            "--monitor and --drift need prod, which --stop-before-prod does not deploy; drop one of them"
        )
    roles_flags(args)
    production_flags(args)
    validation.project_name(args.project_name)
    validation.region(args.region)
    validation.endpoint_url(args.endpoint_url, cli.endpoint_source(args.endpoint_url))
    validation.runtime_settings()
    if args.input_data is not None:
        from smbundle.local import input_data

        input_data.check(args.input_data)
    if args.workdir is not None:
        validation.output_directory(args.workdir, "--workdir")
    if args.summary is not None:
        validation.output_file(args.summary, "--summary", create_parents=True)


def roles_flags(args: argparse.Namespace) -> None:
    """The flags that need the product's own roles: --roles custom is then the default, and managed is refused."""
    reasons = []
    if args.target == "s3":
        reasons.append(
            "--target s3 needs --roles custom: the SageMaker-managed launch role trusts only Service Catalog, so "
            "CloudFormation cannot assume it as the template provider's RoleARN (docs/publish.md, 'Both targets')"
        )
    reasons.extend(
        f"{flag} needs --roles custom: the managed CloudFormation role may not create scalable targets or alarms "
        "(application-autoscaling:RegisterScalableTarget, cloudwatch:PutMetricAlarm)"
        for flag in production_wanted(args)
    )
    if reasons and args.roles == "managed":
        raise validation.UsageError(reasons[0])
    if args.roles is None:
        args.roles = "custom" if reasons else "managed"


def production_wanted(args: argparse.Namespace) -> list[str]:
    return [
        flag
        for flag, on in (("--prod-load", args.prod_load is not None), ("--bad-model", args.bad_model))
        if on
    ]


# What one sender reaches locally at the default time scale (an AWS minute in half a second: 2 requests a second per
# request a minute).
MAX_PROD_LOAD = 120


def production_flags(args: argparse.Namespace) -> None:
    """--prod-load and --bad-model: their checks, and the time scale they imply (their roles: roles_flags)."""
    wanted = production_wanted(args)
    if args.prod_load is not None and not 0 < args.prod_load <= MAX_PROD_LOAD:
        raise validation.UsageError(
            f"--prod-load must be between 0 and {MAX_PROD_LOAD} requests per minute, got {args.prod_load:g} "
            "(one local sender, with AWS's minutes shortened by SMBUNDLE_TIME_SCALE)"
        )
    if wanted and args.stop_before_prod:
        raise validation.UsageError(
            f"{wanted[0]} needs prod, which --stop-before-prod does not deploy; drop one of them"
        )
    if wanted and args.endpoint_url and not os.environ.get("SMBUNDLE_TIME_SCALE"):
        raise validation.UsageError(
            f"{wanted[0]} paces its traffic in AWS minutes on the embedded AWS's clock: with --endpoint-url (or "
            f"AWS_ENDPOINT_URL), start local_aws.py with SMBUNDLE_TIME_SCALE={PRODUCTION_TIME_SCALE} and set the same "
            "here"
        )
    if wanted:
        # Before the embedded AWS starts (or, with --endpoint-url, for pacing the traffic: give local_aws.py the same).
        os.environ.setdefault("SMBUNDLE_TIME_SCALE", PRODUCTION_TIME_SCALE)  # an AWS minute in half a second


def production_parameters(args: argparse.Namespace, given: dict[str, str]) -> dict[str, str]:
    """The project parameters --prod-load and --bad-model need, unless --project-parameter says otherwise."""
    chosen = {}
    if args.prod_load is not None:
        chosen.update(PROD_LOAD_PARAMETERS)
    if args.bad_model:
        chosen.update(BAD_MODEL_PARAMETERS)
    return {**chosen, **given}


# The deploy pipeline's first run, at project creation: its build fails, as on AWS, until a model is approved.
FIRST_DEPLOY = "ModelDeploy.OnCreation /"


class Progress:
    """One line per stage and action as it starts and ends, like the CodePipeline console."""

    def __init__(self, stream):
        self.stream = stream
        self.started = time.monotonic()

    def __call__(self, event: str, name: str, status: str | None, seconds: float | None) -> None:
        clock = f"[{time.monotonic() - self.started:6.1f}s]"
        if event == "note":
            print(f"{clock} {name}", file=self.stream, flush=True)
            return
        if event == "start":
            line = f"{clock} {name:<62} InProgress"
        else:
            took = f"{seconds:.2f} s" if seconds is not None else ""
            line = f"{clock} {name:<62} {status:<10} {took}"
            if status == "Failed" and name.startswith(FIRST_DEPLOY):
                line += '  (expected while no model is approved: "first runs" below says why it failed)'
        print(line, file=self.stream, flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    source = cli.endpoint_source(args.endpoint_url)
    return cli.run(lambda: run(args), endpoint_url=args.endpoint_url, source=source)


def run(args: argparse.Namespace) -> int:
    check_args(args)
    # The run never uses real AWS (no profile is read, see above); any keys are accepted.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    if args.endpoint_url:
        from smbundle.local.probe import check_embedded, check_project_name_free

        check_embedded(args.endpoint_url, cli.endpoint_source(args.endpoint_url))
        check_project_name_free(args.endpoint_url, args.region, args.project_name)
    # Imported once the command line and the endpoint are known to be good: a mistake is answered without a second
    # of imports.
    from smbundle.local.lifecycle import LifecycleFailed, LocalRunOptions, run_lifecycle

    temporary = args.workdir is None
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="smbundle-local-"))).resolve()
    summary_path = args.summary or (None if temporary and not args.keep else workdir / "summary.json")
    server = None
    try:
        endpoint_url = args.endpoint_url
        if not endpoint_url:
            from smbundle.local import server as embedded
            from smbundle.local.codebuild import warm_python

            server = embedded.start(
                region=args.region, iam=args.iam == "on", existing_customer=args.existing_customer
            )
            warm_python.launchers()  # the lifecycle's builds come next: their Python imports while it publishes
            endpoint_url = server.url
        options = LocalRunOptions(
            workdir=workdir,
            project_name=args.project_name,
            region=args.region,
            endpoint_url=endpoint_url,
            input_data=args.input_data,
            stop_before_prod=args.stop_before_prod,
            project_parameters=production_parameters(args, project_parameters(args.project_parameter)),
            monitor=args.monitor or bool(args.drift),
            drift=drift_factors(args.drift),
            roles=args.roles,
            target=args.target,
            prod_load=args.prod_load,
            bad_model=args.bad_model,
        )
        try:
            summary = run_lifecycle(options, Progress(sys.stderr if args.json else sys.stdout))
        except LifecycleFailed as failure:
            report_failure(failure, workdir)
            temporary = False  # the logs are what the user needs now
            return cli.EXIT_FAILURE
        if summary_path:
            summary_path.parent.mkdir(parents=True, exist_ok=True)
            summary_path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        if args.json:
            print(json.dumps(summary, indent=2, default=str))
        else:
            print_digest(summary, summary_path, workdir if not temporary or args.keep else None)
            approval_lines(summary.get("waiting_for_approval"), args.serve)
        if args.serve:
            serve(endpoint_url, args)
        return 0
    finally:
        if server:
            server.stop()
        if temporary and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def report_failure(failure: LifecycleFailed, workdir: Path) -> None:
    cli.error(f"stage {failure.stage} failed: {failure}")
    if failure.action:
        print(f"  action:  {failure.action}", file=sys.stderr)
    if failure.command:
        print(f"  command: {failure.command}", file=sys.stderr)
    for line in failure.log_tail:
        print(f"  | {line}", file=sys.stderr)
    print(f"  logs and artifacts: {workdir}", file=sys.stderr)


def serve(endpoint_url: str, args: argparse.Namespace) -> None:
    """Keep the embedded AWS up until Ctrl-C or SIGTERM (then the work directory is cleaned up as usual)."""
    from smbundle.local.probe import export_line

    out = sys.stderr if args.json else sys.stdout
    print(f"AWS_ENDPOINT_URL={endpoint_url}", file=out, flush=True)
    print(f"# AWS CLI (v1 and v2) and boto3: {export_line(endpoint_url, args.region)}", file=out, flush=True)
    print(
        f"try: aws sagemaker describe-endpoint --endpoint-name {args.project_name}-staging",
        file=out,
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


def print_digest(summary: dict, summary_path: Path | None, workdir: Path | None) -> None:
    staging = (summary.get("staging") or {}).get("DescribeEndpoint", {})
    prod = (summary.get("prod") or {}).get("DescribeEndpointConfig", {})
    results = summary.get("test_results") or {}
    print()
    mse = (
        ((summary["model_package"].get("metrics") or {}).get("regression_metrics") or {}).get("mse") or {}
    ).get("value")
    print(
        f"model package:  {summary['model_package']['ModelPackageArn']} "
        f"({summary['model_package']['ModelApprovalStatus']})"
        + (f", test MSE {mse:.4f}" if mse is not None else "")
    )
    if staging:
        serverless = staging["ProductionVariants"][0].get("CurrentServerlessConfig")
        print(
            f"staging:        {staging['EndpointName']} {staging['EndpointStatus']} serverless {json.dumps(serverless)}"
        )
    if prod:
        variant = prod["ProductionVariants"][0]
        capture = prod.get("DataCaptureConfig", {})
        watched = prod_watch(summary)
        print(
            f"prod:           {variant.get('InstanceType')} x{variant.get('InitialInstanceCount')}, "
            f"data capture {'on' if capture.get('EnableCapture') else 'off'} "
            f"({capture.get('InitialSamplingPercentage')} %){watched}"
        )
    if results:
        latency = results.get("latency_ms", {})
        print(
            f"staging test:   {'passed' if results.get('passed') else 'FAILED'}, "
            f"{results.get('invocations')} invocations, {results.get('errors')} errors, "
            f"{results.get('throttles')} throttles, p50 {latency.get('p50')} ms, p99 {latency.get('p99')} ms "
            "(local runtime, simulated cold starts)"
        )
        replay = results.get("replay") or {}
        if "measured_mse" in replay:
            print(
                f"replay:         {replay['status']}, the endpoint's MSE {replay['measured_mse']:.4f} on "
                f"{replay['rows']} held-out raw records (registered {replay['registered_mse']:.4f})"
            )
        elif replay:
            print(f"replay:         {replay.get('status')}: {replay.get('reason')}")
    for line in cost_lines(summary.get("cost_estimate") or {}):
        print(line)
    for line in monitoring_lines(summary.get("monitoring")):
        print(line)
    first_runs = summary.get("first_runs") or {}
    if first_runs:
        print(f"first runs:     {'; '.join(first_run(label, run) for label, run in first_runs.items())}")
    if workdir:
        print(f"work directory: {workdir}")
    print(
        f"summary:        {summary_path}"
        if summary_path
        else "summary:        not kept (--summary PATH or --keep)"
    )


def approval_lines(waiting: dict | None, serving: bool) -> None:
    """How to approve production with the AWS CLI when the run stopped at the approval."""
    if not waiting:
        return
    print(
        f"prod approval:  {waiting['pipelineName']} waits at {waiting['stageName']}/{waiting['actionName']}; "
        + (
            "approve it with the AWS CLI (environment below):"
            if serving
            else "this run's embedded AWS stops now: add --serve to keep it up, then approve with the AWS CLI:"
        )
    )
    print(
        f"                aws codepipeline put-approval-result --pipeline-name {waiting['pipelineName']} "
        f"--stage-name {waiting['stageName']} --action-name {waiting['actionName']} "
        f"--token {waiting['token']} --result summary=approved,status=Approved"
    )


def prod_watch(summary: dict) -> str:
    """How prod's data quality is watched, as the digest's prod line says it."""
    schedule = (summary.get("prod") or {}).get("DescribeMonitoringSchedule")
    if schedule:
        expression = schedule["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"]
        return f", monitored by Model Monitor ({expression}, data quality)"
    watch = summary.get("prod_monitoring") or {}
    if watch.get("backend") == "project":
        return f", watched by the project's data-quality check ({watch['schedule_expression']})"
    return ", not monitored"


def first_run(label: str, run: dict) -> str:
    """How a pipeline's run on creation ended (the deploy pipeline's fails until a model is approved, as on AWS)."""
    if "failed_action" not in run:
        return f"{label} pipeline {run['status']}"
    reason = run.get("reason") or ""
    expected = "no Approved model package" in reason or "does not exist yet" in reason
    why = "as expected before a model is approved" if label == "deploy" and expected else reason
    return f"{label} pipeline {run['status']} at {run['failed_action']} ({why})"


def monitoring_lines(monitoring: dict | None) -> list[str]:
    """What the check of --monitor found (and what such runs cost)."""
    if not monitoring:
        return []
    if monitoring.get("backend") == "project":
        return project_check_lines(monitoring)
    execution = monitoring["execution"]
    drift = ", ".join(f"{k} x{v:g}" for k, v in monitoring["drift"].items())
    lines = [
        f"monitoring:     {monitoring['requests_sent']} held-out records sent to prod"
        + (f" ({drift})" if drift else "")
        + f", {monitoring['records_analyzed']} captured and analyzed; execution {execution['MonitoringExecutionStatus']}"
        + (f": {execution['FailureReason']}" if execution.get("FailureReason") else "")
    ]
    for violation in monitoring["violations"]:
        lines.append(
            f"                violation: {violation['feature_name']} {violation['constraint_check_type']}: "
            f"{violation['description']}"
        )
    if execution["MonitoringExecutionStatus"] == "Completed":
        lines.append("                no violations: the traffic matches the model's data-quality baseline")
    lines.append(f"                report: {monitoring['report']}/constraint_violations.json")
    cost = monitoring.get("cost") or {}
    if "monitoring_monthly_usd" in cost:
        lines.append(
            f"                cost: {cost['runs_per_day']:g} runs/day on {cost['instance_type']} = "
            f"${cost['monitoring_monthly_usd']:,.2f}/month at {cost['minutes_per_job']:g} min per run (assumed; at most "
            f"${cost['monitoring_ceiling_monthly_usd']:,.2f}), scripts/estimate_cost.py --monitoring-runs-per-day"
        )
    return lines


def project_check_lines(monitoring: dict) -> list[str]:
    """What the project's data-quality check found, the event a team can route, and what the schedule costs."""
    drift = ", ".join(f"{k} x{v:g}" for k, v in monitoring["drift"].items())
    execution = monitoring["execution"]
    lines = [
        f"monitoring:     {monitoring['requests_sent']} held-out records sent to prod"
        + (f" ({drift})" if drift else "")
        + f", {monitoring['records_analyzed']} captured and checked by the project's data-quality check: "
        + execution["status"]
    ]
    for violation in monitoring["violations"]:
        lines.append(
            f"                violation: {violation['feature_name']} {violation['constraint_check_type']}: "
            f"{violation['description']}"
        )
    if not monitoring["violations"]:
        lines.append("                no violations: the traffic matches the model's data-quality baseline")
    lines.append(f"                report: {monitoring['report']}/constraint_violations.json")
    lines.append(
        f"                metrics: {len(monitoring['metrics'])} in CloudWatch (SageMakerProjects/DataQuality, "
        "e.g. violations, feature_baseline_drift_<feature>)"
    )
    fail = monitoring.get("fail_step")
    if fail:
        lines.append(
            f"                event: step {fail['StepName']} of {monitoring['pipeline']} {fail['StepStatus']} "
            "('SageMaker Model Building Pipeline Execution Step Status Change', routable with EventBridge)"
        )
    retraining = monitoring.get("retraining")
    if retraining:
        lines.append(
            f"                retraining: {first_run('build', retraining)} (RetrainOnDataQualityViolation)"
        )
    elif fail:
        lines.append(
            "                retraining: off (create the project with RetrainOnDataQualityViolation=true)"
        )
    cost = monitoring.get("cost") or {}
    if "monitoring_monthly_usd" in cost:
        lines.append(
            f"                cost: ${cost['monitoring_monthly_usd']:,.2f}/month on {monitoring['schedule_expression']} "
            f"(jobs at an assumed {cost['minutes_per_job']:g} min, their start, metrics; "
            "scripts/estimate_cost.py --monitoring-schedule)"
        )
    return lines


def cost_lines(estimate: dict) -> list[str]:
    """The cost planner's verdict, saying which traffic it assumes and that the latency is the local one."""
    if "serverless_monthly_usd" not in estimate:
        if not estimate.get("error"):
            return []
        return [
            f"cost:           not estimated: {estimate['error']} (flags of scripts/estimate_cost.py, which reads "
            "the staging test's test-results.json with --from-test-results)"
        ]
    verdict = "serverless is cheaper" if estimate["serverless_cheaper"] else "the instance is cheaper"
    lines = [
        f"cost:           serverless {estimate['memory_size_mb']} MB ${estimate['serverless_monthly_usd']:,.2f}/month "
        f"vs prod's {estimate['instance_type']} x{estimate['instance_count']} "
        f"${estimate['instance_monthly_usd']:,.2f}/month: {verdict}",
        f"                traffic assumed: {estimate['test_inferences_per_month']:,.0f} test + "
        f"{estimate['steady_inferences_per_month']:,.0f} steady inferences/month (the AWS blog's profile), at the "
        f"{estimate['seconds_per_inference'] * 1000:.1f} ms mean latency measured locally (not an AWS figure)",
    ]
    if estimate["throttling_expected"]:
        lines.append(
            f"                at that latency the test peak needs {estimate['peak_concurrency_slots']} concurrent "
            f"invocations against MaxConcurrency {estimate['max_concurrency']}: expect throttling"
        )
    if estimate.get("prod"):  # prod's min/max instances and blue/green bakes at the same traffic
        from smbundle.cost import prod_line

        lines.append(f"                {prod_line(estimate['prod'])}")
    return lines


if __name__ == "__main__":
    cli.exit_at_once(main())
