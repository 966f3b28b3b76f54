"""Serverless staging vs an instance: monthly cost, break-even, and whether the test traffic fits MaxConcurrency.

Traffic profile (as in the AWS blog): ``runs_per_day`` test runs of ``peak_minutes`` minutes at
``peak_per_minute`` invocations per minute, and ``steady_per_hour`` invocations per hour the rest of the day.
Serverless bills inference seconds (per millisecond, priced by memory size) plus data processed in and out;
an instance bills every hour of the month. Peak concurrency follows Little's law: arrival rate x latency.

Prod (:func:`prod_estimate`): the same traffic on prod's instances, autoscaled between ``instance_count`` and
``max_instance_count`` by target tracking at ``target_invocations_per_instance``, plus the second fleet every
blue/green update runs while it bakes (``bake_time_s`` per traffic step).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

PRICES_FILE = Path(__file__).with_name("data") / "prices.json"
MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)
MAX_CONCURRENCY_LIMIT = 200
KB_PER_GB = 1024 * 1024
QUOTA_CAVEAT = (
    "serverless concurrency is also capped per account and Region across all serverless endpoints (200 by the "
    "documentation, 10 reported on some newer accounts): check `aws service-quotas list-service-quotas "
    "--service-code sagemaker` before relying on MaxConcurrency"
)


class CostInputError(ValueError):
    """An input the model cannot use; the message says which and how to fix it."""


@dataclass
class Profile:
    peak_per_minute: float = 10_000
    peak_minutes: float = 15
    runs_per_day: float = 1
    steady_per_hour: float = 50
    seconds_per_inference: float = 1.0
    memory_mb: int = 2048
    max_concurrency: int = 20
    provisioned_concurrency: int = 0
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    days: float = 30
    region: str = "us-east-1"
    request_kb: float = 0.0
    response_kb: float = 0.0
    # prod: autoscaling between instance_count and max_instance_count (None: instance_count, no autoscaling)
    max_instance_count: int | None = None
    target_invocations_per_instance: float = 70
    deployment_strategy: str = "canary"
    linear_step_percent: int = 25
    bake_time_s: float = 600
    deploys_per_month: float = 4


@dataclass
class Prices:
    per_gb_second: float
    data_in_per_gb: float
    data_out_per_gb: float
    instance_per_hour: float
    pc_per_gb_second: float | None = None


def load_price_table(path: Path = PRICES_FILE) -> dict:
    return json.loads(path.read_text())


def resolve_prices(
    profile: Profile, table: dict, per_gb_second=None, instance_per_hour=None, pc_per_gb_second=None
):
    region = table["regions"].get(profile.region)
    if region is None and (per_gb_second is None or instance_per_hour is None):
        known = ", ".join(sorted(table["regions"]))
        raise CostInputError(
            f"no prices for region {profile.region} (known: {known}); give --price-per-gb-second and "
            "--instance-price-per-hour"
        )
    region = region or {"data_in_per_gb": 0.016, "data_out_per_gb": 0.016, "instances_per_hour": {}}
    if instance_per_hour is None:
        instance_per_hour = region["instances_per_hour"].get(profile.instance_type)
        if instance_per_hour is None:
            known = ", ".join(sorted(region["instances_per_hour"]))
            raise CostInputError(
                f"no price for instance type {profile.instance_type} in {profile.region} (known: {known}); "
                "give --instance-price-per-hour"
            )
    if profile.provisioned_concurrency and pc_per_gb_second is None:
        pc_per_gb_second = region.get("provisioned_concurrency_per_gb_second")
        if pc_per_gb_second is None:
            raise CostInputError(
                "provisioned concurrency prices are not in the price file (they were not in any source we could "
                "verify): give --pc-price-per-gb-second from https://aws.amazon.com/sagemaker/pricing/"
            )
    return Prices(
        per_gb_second=per_gb_second if per_gb_second is not None else region["serverless_per_gb_second"],
        data_in_per_gb=region["data_in_per_gb"],
        data_out_per_gb=region["data_out_per_gb"],
        instance_per_hour=instance_per_hour,
        pc_per_gb_second=pc_per_gb_second,
    )


def validate(profile: Profile) -> None:
    numbers = {
        "peak-per-minute": profile.peak_per_minute,
        "peak-minutes": profile.peak_minutes,
        "runs-per-day": profile.runs_per_day,
        "steady-per-hour": profile.steady_per_hour,
        "request-kb": profile.request_kb,
        "response-kb": profile.response_kb,
        "provisioned-concurrency": profile.provisioned_concurrency,
    }
    for name, value in numbers.items():
        if value < 0 or not math.isfinite(value):
            raise CostInputError(f"--{name} must be zero or positive, got {value}")
    if profile.seconds_per_inference <= 0:
        raise CostInputError(f"--seconds-per-inference must be positive, got {profile.seconds_per_inference}")
    if profile.days <= 0:
        raise CostInputError(f"--days must be positive, got {profile.days}")
    if profile.instance_count < 1:
        raise CostInputError(f"--instance-count must be at least 1, got {profile.instance_count}")
    if profile.memory_mb not in MEMORY_SIZES:
        raise CostInputError(
            f"--memory-mb {profile.memory_mb} does not exist: serverless offers {', '.join(map(str, MEMORY_SIZES))}"
        )
    if not 1 <= profile.max_concurrency <= MAX_CONCURRENCY_LIMIT:
        raise CostInputError(
            f"--max-concurrency must be between 1 and {MAX_CONCURRENCY_LIMIT}, got {profile.max_concurrency}"
        )
    if profile.provisioned_concurrency > profile.max_concurrency:
        raise CostInputError("--provisioned-concurrency must not exceed --max-concurrency")
    if profile.runs_per_day * profile.peak_minutes > 24 * 60:
        raise CostInputError("--runs-per-day x --peak-minutes is longer than a day")
    maximum = profile.max_instance_count
    if maximum is not None and maximum < profile.instance_count:
        raise CostInputError(
            f"--max-instances ({maximum}) must be at least --min-instances/--instance-count ({profile.instance_count})"
        )
    if not profile.target_invocations_per_instance > 0:
        raise CostInputError(
            f"--target-invocations-per-instance must be positive, got {profile.target_invocations_per_instance}"
        )
    if profile.deployment_strategy not in DEPLOYMENT_STRATEGIES:
        raise CostInputError(
            f"--deployment-strategy must be one of {', '.join(DEPLOYMENT_STRATEGIES)}, got {profile.deployment_strategy!r}"
        )
    if not 10 <= profile.linear_step_percent <= 50:
        raise CostInputError(
            f"--linear-step-percent must be between 10 and 50, got {profile.linear_step_percent}"
        )
    if not 0 <= profile.bake_time_s <= 3600:
        raise CostInputError(f"--bake-time-s must be between 0 and 3600, got {profile.bake_time_s}")
    if profile.deploys_per_month < 0 or not math.isfinite(profile.deploys_per_month):
        raise CostInputError(f"--deploys-per-month must be zero or positive, got {profile.deploys_per_month}")


def estimate(profile: Profile, prices: Prices) -> dict:
    """Every figure of the report; money unrounded (``*_usd``) with display copies rounded to cents."""
    validate(profile)
    memory_gb = profile.memory_mb / 1024
    per_second = prices.per_gb_second * memory_gb
    test = profile.peak_per_minute * profile.peak_minutes * profile.runs_per_day * profile.days
    steady_hours_per_day = 24 - profile.runs_per_day * profile.peak_minutes / 60
    steady = profile.steady_per_hour * steady_hours_per_day * profile.days
    inferences = test + steady
    seconds = inferences * profile.seconds_per_inference
    compute = seconds * per_second
    data_per_inference = (
        profile.request_kb / KB_PER_GB * prices.data_in_per_gb
        + profile.response_kb / KB_PER_GB * prices.data_out_per_gb
    )
    data = inferences * data_per_inference
    month_seconds = profile.days * 24 * 3600
    provisioned = (
        profile.provisioned_concurrency * memory_gb * month_seconds * prices.pc_per_gb_second
        if profile.provisioned_concurrency
        else 0.0
    )
    serverless = compute + data + provisioned
    instance = prices.instance_per_hour * 24 * profile.days * profile.instance_count

    # Break-even: where serverless costs as much as the instance.
    cost_per_inference = profile.seconds_per_inference * per_second + data_per_inference
    budget = instance - provisioned
    break_even_inferences = budget / cost_per_inference if budget > 0 else 0.0
    break_even_seconds = break_even_inferences * profile.seconds_per_inference
    break_even_test_per_day = max(0.0, (break_even_inferences - steady) / profile.days)

    # Little's law at the test peak.
    needed = profile.peak_per_minute / 60 * profile.seconds_per_inference
    needed_slots = math.ceil(needed - 1e-9) if needed > 0 else 0
    throttling = needed_slots > profile.max_concurrency
    fits_latency = profile.max_concurrency * 60 / profile.peak_per_minute if profile.peak_per_minute else None
    cheaper = serverless < instance
    result = {
        "region": profile.region,
        "memory_size_mb": profile.memory_mb,
        "instance_type": profile.instance_type,
        "instance_count": profile.instance_count,
        "days": profile.days,
        "seconds_per_inference": profile.seconds_per_inference,
        "test_inferences_per_month": test,
        "steady_inferences_per_month": steady,
        "inferences_per_month": inferences,
        "inference_seconds_per_month": seconds,
        "serverless_compute_usd": compute,
        "serverless_data_usd": data,
        "serverless_provisioned_concurrency_usd": provisioned,
        "serverless_monthly_usd": serverless,
        "instance_monthly_usd": instance,
        "difference_usd": instance - serverless,
        "serverless_cheaper": cheaper,
        "break_even_inference_seconds_per_month": break_even_seconds,
        "break_even_test_inferences_per_day": break_even_test_per_day,
        "peak_concurrency_needed": needed,
        "peak_concurrency_slots": needed_slots,
        "max_concurrency": profile.max_concurrency,
        "throttling_expected": throttling,
        "max_concurrency_that_fits": needed_slots if needed_slots <= MAX_CONCURRENCY_LIMIT else None,
        "latency_that_fits_s": fits_latency,
        "quota_caveat": QUOTA_CAVEAT,
        "prices": asdict(prices),
    }
    result["rounded"] = {k: round(v, 2) for k, v in result.items() if k.endswith("_usd")}
    result["recommendation"] = recommendation(result)
    result["prod"] = prod_estimate(profile, prices)
    return result


# -- prod: autoscaling and blue/green updates ----------------------------------------------------------------
DEPLOYMENT_STRATEGIES = ("canary", "linear", "all-at-once")
# After a peak the peak fleet bills a while longer: target tracking scales in only after its low alarm has seen a
# run of low one-minute datapoints (an assumption of about 15: check yours with aws cloudwatch describe-alarms
# --alarm-name-prefix TargetTracking-endpoint/), and not faster than the template's ScaleInCooldown (600 s).
SCALE_IN_LAG_MINUTES = 15 + 10


def instances_for(rate_per_minute: float, target: float, minimum: int, maximum: int) -> int:
    """The instances target tracking settles on for a steady rate: enough to keep each at or under the target."""
    needed = math.ceil(rate_per_minute / target - 1e-9) if rate_per_minute > 0 else 0
    return min(max(needed, minimum), maximum)


def traffic_steps(strategy: str, linear_step_percent: int = 25, minimum_instances: int = 1) -> int:
    """Bakes in one blue/green update: the final one, plus the canary's, plus one per linear step before the last.
    A single-instance fleet goes all at once (a step must be at most half of the fleet)."""
    if strategy == "all-at-once" or minimum_instances < 2:
        return 1
    if strategy == "canary":
        return 2
    return math.ceil(100 / linear_step_percent)


def prod_estimate(profile: Profile, prices: Prices) -> dict:
    """Prod's instance bill with autoscaling, against a fixed fleet of the minimum and one sized for the peak,
    and what the blue/green updates add (the new fleet bills alongside the old one while it bakes; provisioning
    it takes minutes more, not counted)."""
    minimum = profile.instance_count
    maximum = profile.max_instance_count or minimum
    target = profile.target_invocations_per_instance
    peak = instances_for(profile.peak_per_minute, target, minimum, maximum)
    steady = instances_for(profile.steady_per_hour / 60, target, minimum, maximum)
    peak_hours = min(24.0, profile.runs_per_day * (profile.peak_minutes + SCALE_IN_LAG_MINUTES) / 60)
    if peak == steady:
        peak_hours = 0.0
    hours = profile.days * (peak_hours * peak + (24 - peak_hours) * steady)
    autoscaled = hours * prices.instance_per_hour
    steps = traffic_steps(profile.deployment_strategy, profile.linear_step_percent, minimum)
    rollout_hours = profile.deploys_per_month * steady * steps * profile.bake_time_s / 3600
    rollout = rollout_hours * prices.instance_per_hour
    unscaled = math.ceil(profile.peak_per_minute / target - 1e-9) if profile.peak_per_minute else minimum
    return {
        "instance_type": profile.instance_type,
        "min_instances": minimum,
        "max_instances": maximum,
        "autoscaling": maximum > minimum,
        "target_invocations_per_instance": target,
        "peak_instances": peak,
        "steady_instances": steady,
        "peak_instances_needed": max(unscaled, minimum),
        "peak_served_within_target": unscaled <= maximum,
        "instance_hours_per_month": hours,
        "autoscaled_monthly_usd": autoscaled,
        "fixed_at_min_monthly_usd": minimum * 24 * profile.days * prices.instance_per_hour,
        "fixed_at_max_monthly_usd": maximum * 24 * profile.days * prices.instance_per_hour,
        "deployment_strategy": profile.deployment_strategy
        if minimum >= 2 or profile.deployment_strategy == "all-at-once"
        else "all-at-once",
        "bakes_per_update": steps,
        "bake_time_s": profile.bake_time_s,
        "deploys_per_month": profile.deploys_per_month,
        "rollout_instance_hours_per_month": rollout_hours,
        "rollout_monthly_usd": rollout,
        "prod_monthly_usd": autoscaled + rollout,
        "scale_in_lag_minutes": SCALE_IN_LAG_MINUTES,
    }


def prod_line(prod: dict) -> str:
    """One line on prod's bill: autoscaling (or the fixed fleet) and the blue/green updates."""
    fleet = (
        f"{prod['min_instances']}-{prod['max_instances']} x {prod['instance_type']} autoscaled "
        f"({prod['steady_instances']} steady, {prod['peak_instances']} at the peak) "
        f"${prod['autoscaled_monthly_usd']:,.2f}/month vs ${prod['fixed_at_max_monthly_usd']:,.2f} fixed at "
        f"{prod['max_instances']}"
        if prod["autoscaling"]
        else f"{prod['min_instances']} x {prod['instance_type']} ${prod['autoscaled_monthly_usd']:,.2f}/month"
    )
    rollout = (
        f"; {prod['deploys_per_month']:g} blue/green updates ({prod['deployment_strategy']}, "
        f"{prod['bakes_per_update']} x {prod['bake_time_s']:g} s baking with two fleets) "
        f"+${prod['rollout_monthly_usd']:,.2f}"
    )
    short = (
        ""
        if prod["peak_served_within_target"] or not prod["autoscaling"]
        else f"; the peak needs {prod['peak_instances_needed']} instances at the target: above the maximum"
    )
    return f"prod: {fleet}{rollout}{short}"


def recommendation(result: dict) -> str:
    verdict = "serverless is cheaper" if result["serverless_cheaper"] else "the instance is cheaper"
    money = (
        f"serverless ${result['serverless_monthly_usd']:,.2f}/month vs {result['instance_type']} "
        f"${result['instance_monthly_usd']:,.2f} ({verdict})"
    )
    if result["throttling_expected"]:
        fix = (
            f"raise MaxConcurrency to {result['max_concurrency_that_fits']}"
            if result["max_concurrency_that_fits"]
            else f"cut the peak rate or the latency (at most {result['latency_that_fits_s']:.3f} s fits)"
        )
        return (
            f"{money}; but the test peak needs {result['peak_concurrency_slots']} concurrent invocations "
            f"against MaxConcurrency {result['max_concurrency']}: {fix}, or expect throttling"
        )
    if result["serverless_cheaper"]:
        return f"use serverless staging: {money}"
    return f"keep an instance for staging: {money} (serverless only pays off below the break-even)"


def memory_curves(profile: Profile, prices: Prices, test_per_day_max: float, points: int = 60) -> dict:
    """Monthly serverless cost against daily test volume, one curve per memory size (for the plot)."""
    xs = [test_per_day_max * i / (points - 1) for i in range(points)]
    curves = {}
    for memory in MEMORY_SIZES:
        per_second = prices.per_gb_second * memory / 1024
        steady = (
            profile.steady_per_hour * (24 - profile.runs_per_day * profile.peak_minutes / 60) * profile.days
        )
        data = (
            profile.request_kb * prices.data_in_per_gb + profile.response_kb * prices.data_out_per_gb
        ) / KB_PER_GB
        curves[memory] = [
            (x * profile.days + steady) * (profile.seconds_per_inference * per_second + data) for x in xs
        ]
    return {"test_inferences_per_day": xs, "serverless_usd": curves}


def from_test_results(path: Path) -> dict:
    """Latency (mean, else p50, in seconds) and achieved rate from the staging test's results JSON."""
    try:
        results = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CostInputError(f"test results file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise CostInputError(f"test results file {path} is not JSON: {exc}") from None
    latency = results.get("latency_ms") if isinstance(results, dict) else None
    milliseconds = (latency.get("mean") or latency.get("p50")) if isinstance(latency, dict) else None
    if not isinstance(milliseconds, int | float) or milliseconds <= 0:
        raise CostInputError(
            f"{path} has no latency_ms.mean or latency_ms.p50: is it a staging test results file?"
        )
    measured = {"seconds_per_inference": milliseconds / 1000}
    if results.get("throughput_per_min"):
        measured["peak_per_minute"] = float(results["throughput_per_min"])
    if results.get("memory_size_mb"):
        measured["memory_mb"] = int(results["memory_size_mb"])
    if results.get("max_concurrency"):
        measured["max_concurrency"] = int(results["max_concurrency"])
    return measured


def estimate_from_test_results(results: dict, **profile_fields) -> dict:
    """The estimate at the latency a staging test measured (used by the local lifecycle's summary)."""
    latency = results.get("latency_ms") or {}
    milliseconds = latency.get("mean") or latency.get("p50")
    fields = dict(profile_fields)
    if milliseconds:
        fields["seconds_per_inference"] = milliseconds / 1000
    if results.get("memory_size_mb"):
        fields["memory_mb"] = int(results["memory_size_mb"])
    if results.get("max_concurrency"):
        fields["max_concurrency"] = int(results["max_concurrency"])
    profile = Profile(**fields)
    return estimate(profile, resolve_prices(profile, load_price_table()))


# -- prod's data-quality monitoring --------------------------------------------------------------------------
MONITORING_BACKENDS = ("project", "model-monitor")


@dataclass
class MonitoringProfile:
    """Prod's data-quality checks. Each run is a processing job billed for its instance time; the project's own
    check (``backend`` "project") also pays the CodePipeline and CodeBuild run that starts it, and CloudWatch for the
    metrics it publishes."""

    instance_type: str = "ml.m5.xlarge"
    runs_per_day: float = 24  # hourly, the template's default schedule
    minutes_per_job: float | None = None  # an assumption (10 for Model Monitor, 5 for the project's check)
    max_runtime_seconds: float = 1800  # the templates' StoppingCondition: no run bills more
    instance_count: int = 1
    days: float = 30
    region: str = "us-east-1"
    backend: str = "project"
    pipeline_action_minutes: float = 2  # Source and Build actions, each rounded up to a minute
    build_minutes: float = 1  # the CodeBuild run that starts the check (start_check.py)
    metrics: int = 10  # per-feature drift (8 abalone features), violations, records analyzed

    @property
    def job_minutes(self) -> float:
        if self.minutes_per_job is not None:
            return self.minutes_per_job
        return 5.0 if self.backend == "project" else 10.0


def runs_per_day(expression: str) -> int:
    """Runs a day of the schedule forms the templates accept (hourly, daily at H, every N hours from H)."""
    if expression.strip() == "cron(0 * ? * * *)":
        return 24
    match = re.fullmatch(r"cron\(0 (\d{1,2})(?:/(\d{1,2}))? \? \* \* \*\)", expression.strip())
    if not match or not 0 <= int(match[1]) <= 23 or (match[2] and not 1 <= int(match[2]) <= 24):
        raise CostInputError(
            f"schedule {expression!r} is not cron(0 * ? * * *), cron(0 H ? * * *) or cron(0 H/N ? * * *)"
        )
    return len(range(int(match[1]), 24, int(match[2]) if match[2] else 24))


def monitoring_estimate(profile: MonitoringProfile, table: dict, price_per_hour: float | None = None) -> dict:
    """Monthly cost of the monitoring runs: the jobs (price per hour x hours per job x runs per month, and its
    ceiling at each run's MaxRuntimeInSeconds) and, for the project's check, what starts them and its metrics."""
    if profile.backend not in MONITORING_BACKENDS:
        raise CostInputError(
            f"--monitoring-backend must be one of {', '.join(MONITORING_BACKENDS)}, got {profile.backend!r}"
        )
    if not 0 < profile.runs_per_day <= 24 or not math.isfinite(profile.runs_per_day):
        raise CostInputError(
            f"--monitoring-runs-per-day must be above 0 and at most 24 (the schedules run at most hourly), got "
            f"{profile.runs_per_day:g}"
        )
    if not 0 < profile.job_minutes <= profile.max_runtime_seconds / 60:
        raise CostInputError(
            f"--monitoring-job-minutes must be above 0 and at most {profile.max_runtime_seconds / 60:g} (the "
            f"monitoring job's MaxRuntimeInSeconds), got {profile.job_minutes:g}"
        )
    region = table["regions"].get(profile.region) or {}
    if price_per_hour is None:
        price_per_hour = (region.get("monitoring_instances_per_hour") or {}).get(profile.instance_type)
        if price_per_hour is None:
            known = ", ".join(sorted(region.get("monitoring_instances_per_hour") or {})) or "none"
            raise CostInputError(
                f"no monitoring (processing) price for {profile.instance_type} in {profile.region} (known: {known}); "
                "give --monitoring-price-per-hour"
            )
    runs = profile.runs_per_day * profile.days
    hours = runs * profile.job_minutes / 60 * profile.instance_count
    ceiling_hours = runs * profile.max_runtime_seconds / 3600 * profile.instance_count
    jobs = hours * price_per_hour
    result = {
        "backend": profile.backend,
        "instance_type": profile.instance_type,
        "instance_count": profile.instance_count,
        "runs_per_day": profile.runs_per_day,
        "runs_per_month": runs,
        "minutes_per_job": profile.job_minutes,
        "max_runtime_seconds": profile.max_runtime_seconds,
        "price_per_hour": price_per_hour,
        "job_hours_per_month": hours,
        "jobs_monthly_usd": jobs,
        "orchestration_monthly_usd": 0.0,
        "metrics_monthly_usd": 0.0,
        "note": "prod only (serverless staging cannot be monitored); on top of prod's instance",
    }
    if profile.backend == "project":
        rates = region.get("check_orchestration")
        if rates is None:
            raise CostInputError(
                f"no CodePipeline/CodeBuild/CloudWatch prices for {profile.region} in prices.json"
            )
        per_run = (
            profile.pipeline_action_minutes * rates["codepipeline_v2_per_action_minute"]
            + profile.build_minutes * rates["codebuild_general1_small_per_minute"]
            + rates["cloudwatch_put_metric_data_per_1000"] / 1000
        )
        result["orchestration_monthly_usd"] = runs * per_run
        result["metrics_monthly_usd"] = profile.metrics * rates["cloudwatch_metric_per_month"]
        result["orchestration_runs"] = (
            f"per run {profile.pipeline_action_minutes:g} CodePipeline action minutes and "
            f"{profile.build_minutes:g} CodeBuild minute"
        )
        result["metrics"] = profile.metrics
    extra = result["orchestration_monthly_usd"] + result["metrics_monthly_usd"]
    result["monitoring_monthly_usd"] = jobs + extra
    result["monitoring_ceiling_monthly_usd"] = ceiling_hours * price_per_hour + extra
    return result


def project_check_estimate(expression: str, region: str = "us-east-1", **fields) -> dict:
    """The project's data-quality check on ``expression``, at the defaults (prices from prices.json)."""
    profile = MonitoringProfile(
        runs_per_day=runs_per_day(expression), region=region, backend="project", **fields
    )
    return monitoring_estimate(profile, load_price_table())


def monitoring_line(result: dict) -> str:
    jobs = (
        f"{result['runs_per_day']:g} runs/day x {result['minutes_per_job']:g} min on {result['instance_type']} "
        f"(${result['price_per_hour']:g}/h)"
    )
    if result["backend"] == "project":
        total = (
            f"${result['jobs_monthly_usd']:,.2f}/month for the jobs ({jobs}) + "
            f"${result['orchestration_monthly_usd']:,.2f} to start them ({result['orchestration_runs']}) + "
            f"${result['metrics_monthly_usd']:,.2f} for {result['metrics']} CloudWatch metrics = "
            f"${result['monitoring_monthly_usd']:,.2f}/month"
        )
        label = "the project's data-quality check"
    else:
        total = f"{jobs} = ${result['monitoring_monthly_usd']:,.2f}/month"
        label = "Model Monitor"
    return (
        f"monitoring ({label}): {total} (at most ${result['monitoring_ceiling_monthly_usd']:,.2f} if every job took "
        f"its {result['max_runtime_seconds'] / 60:g}-minute limit); {result['note']}"
    )
