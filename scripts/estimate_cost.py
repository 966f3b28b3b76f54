#!/usr/bin/env python3
"""Serverless staging vs an instance: monthly cost, break-even, and whether the test traffic fits MaxConcurrency.

Defaults are the AWS blog's scenario at the template's 2048 MB: one 15-minute test run a day at 10,000
invocations per minute, 50 per hour otherwise, 1 s per inference, against an ml.m5.xlarge, 30 days.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smbundle import cli, cost, validation  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--peak-per-minute", type=float, help="invocations per minute during a test run (10000)"
    )
    parser.add_argument("--peak-minutes", type=float, default=15, help="length of a test run in minutes")
    parser.add_argument("--runs-per-day", type=float, default=1)
    parser.add_argument(
        "--steady-per-hour", type=float, default=50, help="invocations per hour outside test runs"
    )
    parser.add_argument("--seconds-per-inference", type=float, help="mean latency in seconds (1.0)")
    parser.add_argument("--memory-mb", help="1024..6144, or 'all' for a row per size (2048)")
    parser.add_argument("--max-concurrency", type=int, help="serverless MaxConcurrency (20)")
    parser.add_argument("--provisioned-concurrency", type=int, default=0)
    parser.add_argument("--instance-type", default="ml.m5.xlarge")
    parser.add_argument(
        "--instance-count",
        "--min-instances",
        dest="instance_count",
        type=int,
        default=1,
        help="instances of the compared instance and prod's minimum (ProdMinInstanceCount) (1)",
    )
    prod = parser.add_argument_group("prod autoscaling and blue/green updates (the prod line)")
    prod.add_argument(
        "--max-instances", type=int, help="prod's ProdMaxInstanceCount (default: no autoscaling)"
    )
    prod.add_argument(
        "--target-invocations-per-instance",
        type=float,
        default=70,
        help="ProdTargetInvocationsPerInstance (70)",
    )
    prod.add_argument(
        "--deployment-strategy", default="canary", help="ProdDeploymentStrategy: canary, linear, all-at-once"
    )
    prod.add_argument("--linear-step-percent", type=int, default=25, help="ProdLinearStepPercent (25)")
    prod.add_argument(
        "--bake-time-s", type=float, default=600, help="ProdBakeTimeSeconds: two fleets bill meanwhile (600)"
    )
    prod.add_argument("--deploys-per-month", type=float, default=4, help="prod updates a month (4)")
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        help="Region whose prices to use (default: AWS_REGION, else us-east-1)",
    )
    parser.add_argument(
        "--request-kb", type=float, default=0.0, help="payload in per invocation (data processing)"
    )
    parser.add_argument("--response-kb", type=float, default=0.0, help="payload out per invocation")
    parser.add_argument("--price-per-gb-second", type=float, help="override the serverless price")
    parser.add_argument("--instance-price-per-hour", type=float, help="override the instance price")
    parser.add_argument(
        "--pc-price-per-gb-second", type=float, help="provisioned concurrency price (not in the file)"
    )
    parser.add_argument(
        "--from-test-results", type=Path, help="staging test results JSON: measured latency and rate"
    )
    monitoring = parser.add_argument_group(
        "prod's data-quality monitoring (added when any of these is given)"
    )
    monitoring.add_argument(
        "--monitoring-backend",
        choices=cost.MONITORING_BACKENDS,
        help="the project's own check (project, the default: its jobs, the CodePipeline and CodeBuild run that "
        "starts each one, its CloudWatch metrics) or SageMaker Model Monitor (model-monitor: its jobs)",
    )
    monitoring.add_argument(
        "--monitoring-schedule",
        metavar="EXPRESSION",
        help="the product's MonitoringScheduleExpression, e.g. 'cron(0 2 ? * * *)' (instead of --monitoring-runs-per-day)",
    )
    monitoring.add_argument(
        "--monitoring-instance-type",
        help="instance type of the monitoring jobs (ml.m5.xlarge, the template's)",
    )
    monitoring.add_argument(
        "--monitoring-runs-per-day",
        type=float,
        help="monitoring runs per day (24: the templates' hourly schedule)",
    )
    monitoring.add_argument(
        "--monitoring-job-minutes",
        type=float,
        help="minutes each job bills (assumed 5 for the project's check, 10 for Model Monitor: read yours from "
        "DescribeProcessingJob)",
    )
    monitoring.add_argument(
        "--monitoring-price-per-hour", type=float, help="override the monitoring (processing) instance price"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--plot", type=Path, help="write a PNG of cost against daily test volume")
    return parser.parse_args(argv)


def build_profiles(args) -> list[cost.Profile]:
    measured = cost.from_test_results(args.from_test_results) if args.from_test_results else {}

    def pick(name, flag_value, default):
        if flag_value is not None:
            return flag_value
        return measured.get(name, default)

    memory_arg = args.memory_mb if args.memory_mb is not None else str(measured.get("memory_mb", 2048))
    if memory_arg == "all":
        memories = list(cost.MEMORY_SIZES)
    else:
        try:
            memories = [int(memory_arg)]
        except ValueError:
            raise cost.CostInputError(
                f"--memory-mb must be a number of MB or 'all', got {memory_arg!r}"
            ) from None
    return [
        cost.Profile(
            peak_per_minute=pick("peak_per_minute", args.peak_per_minute, 10_000),
            peak_minutes=args.peak_minutes,
            runs_per_day=args.runs_per_day,
            steady_per_hour=args.steady_per_hour,
            seconds_per_inference=pick("seconds_per_inference", args.seconds_per_inference, 1.0),
            memory_mb=memory,
            max_concurrency=pick("max_concurrency", args.max_concurrency, 20),
            provisioned_concurrency=args.provisioned_concurrency,
            instance_type=args.instance_type,
            instance_count=args.instance_count,
            max_instance_count=args.max_instances,
            target_invocations_per_instance=args.target_invocations_per_instance,
            deployment_strategy=args.deployment_strategy,
            linear_step_percent=args.linear_step_percent,
            bake_time_s=args.bake_time_s,
            deploys_per_month=args.deploys_per_month,
            days=args.days,
            region=args.region,
            request_kb=args.request_kb,
            response_kb=args.response_kb,
        )
        for memory in memories
    ]


def monitoring_profile(args) -> cost.MonitoringProfile | None:
    given = (
        args.monitoring_backend,
        args.monitoring_schedule,
        args.monitoring_instance_type,
        args.monitoring_runs_per_day,
        args.monitoring_job_minutes,
        args.monitoring_price_per_hour,
    )
    if all(v is None for v in given):
        return None
    defaults = cost.MonitoringProfile()
    runs = defaults.runs_per_day
    if args.monitoring_schedule is not None:
        runs = cost.runs_per_day(args.monitoring_schedule)
    elif args.monitoring_runs_per_day is not None:
        runs = args.monitoring_runs_per_day
    return cost.MonitoringProfile(
        instance_type=args.monitoring_instance_type or defaults.instance_type,
        runs_per_day=runs,
        minutes_per_job=args.monitoring_job_minutes,
        days=args.days,
        region=args.region,
        backend=args.monitoring_backend or defaults.backend,
    )


def print_report(results: list[dict]) -> None:
    first = results[0]
    print(
        f"traffic: {first['test_inferences_per_month']:,.0f} test + {first['steady_inferences_per_month']:,.0f} steady "
        f"= {first['inferences_per_month']:,.0f} inferences/month, {first['inference_seconds_per_month']:,.0f} "
        f"inference seconds at {first['seconds_per_inference']:g} s"
    )
    print(
        f"{'memory':>8} {'compute':>11} {'data':>9} {'prov.conc.':>11} {'serverless':>12} {'instance':>11} {'difference':>12}"
    )
    for r in results:
        print(
            f"{r['memory_size_mb']:>5} MB ${r['serverless_compute_usd']:>10,.2f} ${r['serverless_data_usd']:>8,.2f} "
            f"${r['serverless_provisioned_concurrency_usd']:>10,.2f} ${r['serverless_monthly_usd']:>11,.2f} "
            f"${r['instance_monthly_usd']:>10,.2f} ${r['difference_usd']:>11,.2f}"
        )
    for r in results:
        print(
            f"break-even at {r['memory_size_mb']} MB: {r['break_even_inference_seconds_per_month']:,.0f} inference "
            f"seconds/month, i.e. {r['break_even_test_inferences_per_day']:,.0f} test inferences/day"
        )
    print(
        f"peak concurrency needed (Little's law): {first['peak_concurrency_needed']:.1f} "
        f"vs MaxConcurrency {first['max_concurrency']}"
    )
    if first["throttling_expected"]:
        fit = (
            f"MaxConcurrency {first['max_concurrency_that_fits']}"
            if first["max_concurrency_that_fits"]
            else "no MaxConcurrency (above the 200 limit)"
        )
        print(
            f"WARNING: throttling expected: the test peak needs {first['peak_concurrency_slots']} concurrent "
            f"invocations; would fit: {fit}, or a latency of at most {first['latency_that_fits_s']:.3f} s"
        )
    print(f"note: {first['quota_caveat']}")
    for r in results:
        print(f"recommendation ({r['memory_size_mb']} MB): {r['recommendation']}")
    print(cost.prod_line(first["prod"]))


def check_args(args) -> None:
    """Values no estimate can use, before anything is computed or written (exit 2)."""
    for flag in (
        "peak_per_minute",
        "peak_minutes",
        "runs_per_day",
        "steady_per_hour",
        "request_kb",
        "response_kb",
    ):
        validation.number(getattr(args, flag), "--" + flag.replace("_", "-"))
    for flag in ("seconds_per_inference", "days", "price_per_gb_second", "instance_price_per_hour"):
        validation.number(getattr(args, flag), "--" + flag.replace("_", "-"), positive=True)
    validation.number(args.pc_price_per_gb_second, "--pc-price-per-gb-second", positive=True)
    for flag in ("monitoring_runs_per_day", "monitoring_job_minutes", "monitoring_price_per_hour"):
        validation.number(getattr(args, flag), "--" + flag.replace("_", "-"), positive=True)
    if args.monitoring_schedule is not None and args.monitoring_runs_per_day is not None:
        raise validation.UsageError(
            "--monitoring-schedule and --monitoring-runs-per-day both say how often; give one of them"
        )
    if args.monitoring_instance_type is not None and not re.fullmatch(
        r"ml\.[a-z0-9]+\.[a-z0-9]+", args.monitoring_instance_type
    ):
        raise validation.UsageError(
            f"--monitoring-instance-type must look like ml.<family>.<size>, got {args.monitoring_instance_type!r}"
        )
    if args.provisioned_concurrency < 0:
        raise validation.UsageError(
            f"--provisioned-concurrency must be zero or more, got {args.provisioned_concurrency}"
        )
    if args.instance_count < 1:
        raise validation.UsageError(f"--instance-count must be at least 1, got {args.instance_count}")
    validation.region(args.region)
    if args.from_test_results is not None:
        validation.input_file(args.from_test_results, "--from-test-results")
    if args.plot is not None:
        validation.output_file(args.plot, "--plot")


def main(argv=None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: report(args))


def report(args) -> int:
    check_args(args)
    try:
        profiles = build_profiles(args)
        table = cost.load_price_table()
        results = []
        for profile in profiles:
            prices = cost.resolve_prices(
                profile,
                table,
                args.price_per_gb_second,
                args.instance_price_per_hour,
                args.pc_price_per_gb_second,
            )
            results.append(cost.estimate(profile, prices))
        if args.plot:
            from smbundle.cost_plot import plot

            plot(profiles[0], prices, results[0], args.plot)
        watched = monitoring_profile(args)
        monitoring = (
            cost.monitoring_estimate(watched, table, args.monitoring_price_per_hour) if watched else None
        )
    except cost.CostInputError as exc:
        raise validation.UsageError(str(exc)) from None
    if monitoring:
        for result in results:
            result["monitoring"] = monitoring
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
    else:
        print_report(results)
        if monitoring:
            print(cost.monitoring_line(monitoring))
        if args.plot:
            print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
