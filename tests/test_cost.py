"""The cost and capacity planner: the blog's table exactly, the 2048 MB trap, throttling, break-even, errors."""

from __future__ import annotations

import json
import os

import pytest

from smbundle import cost
from tests._in_process import run_script

BLOG = [
    "--runs-per-day",
    "1",
    "--peak-minutes",
    "15",
    "--peak-per-minute",
    "10000",
    "--steady-per-hour",
    "50",
    "--seconds-per-inference",
    "1",
    "--instance-type",
    "ml.m5.xlarge",
    "--days",
    "30",
]


def run(*args):
    completed = run_script("estimate_cost.py", *args, env=dict(os.environ))
    return completed.returncode, completed.stdout, completed.stderr


def estimate(**fields):
    profile = cost.Profile(**fields)
    return cost.estimate(profile, cost.resolve_prices(profile, cost.load_price_table()))


def test_blog_table_exactly():
    code, out, _ = run(*BLOG, "--memory-mb", "1024", "--json")
    result = json.loads(out)
    assert code == 0
    assert result["test_inferences_per_month"] == 4_500_000
    assert result["steady_inferences_per_month"] == 35_625
    assert result["inferences_per_month"] == 4_535_625
    assert result["inference_seconds_per_month"] == 4_535_625
    assert result["rounded"]["serverless_monthly_usd"] == 90.71
    assert result["rounded"]["instance_monthly_usd"] == 165.60
    assert result["serverless_data_usd"] == 0
    assert result["serverless_cheaper"] is True


def test_template_default_2048_mb_costs_more_than_the_instance():
    result = estimate(memory_mb=2048)
    assert round(result["serverless_monthly_usd"], 2) == 181.43
    assert result["serverless_cheaper"] is False
    assert "the instance is cheaper" in result["recommendation"]


def test_throttling_warning_by_littles_law():
    result = estimate(memory_mb=1024, max_concurrency=20)
    assert result["peak_concurrency_needed"] == pytest.approx(166.67, abs=0.01)
    assert result["throttling_expected"] is True
    assert result["max_concurrency_that_fits"] == 167
    assert result["latency_that_fits_s"] == pytest.approx(0.12)
    code, out, _ = run(*BLOG, "--memory-mb", "1024")
    assert "WARNING: throttling expected: the test peak needs 167 concurrent invocations" in out
    assert "service-quotas" in out
    fits = estimate(memory_mb=1024, max_concurrency=200)
    assert fits["throttling_expected"] is False


def test_break_even():
    result = estimate(memory_mb=1024)
    # $165.60 / $0.00002 per second = 8,280,000 inference seconds a month
    assert result["break_even_inference_seconds_per_month"] == pytest.approx(8_280_000)
    # (8,280,000 - 35,625 steady) / 30 days
    assert result["break_even_test_inferences_per_day"] == pytest.approx(274_812.5)
    at_break_even = estimate(memory_mb=1024, peak_per_minute=274_812.5 / 15)
    assert at_break_even["serverless_monthly_usd"] == pytest.approx(at_break_even["instance_monthly_usd"])


def test_data_processing_and_provisioned_concurrency():
    with_data = estimate(memory_mb=1024, request_kb=1, response_kb=1)
    assert with_data["serverless_data_usd"] == pytest.approx(4_535_625 * 2 / 1024 / 1024 * 0.016)
    with pytest.raises(cost.CostInputError, match="--pc-price-per-gb-second"):
        estimate(memory_mb=1024, provisioned_concurrency=2)
    profile = cost.Profile(memory_mb=1024, provisioned_concurrency=2)
    prices = cost.resolve_prices(profile, cost.load_price_table(), pc_per_gb_second=0.000005)
    result = cost.estimate(profile, prices)
    assert result["serverless_provisioned_concurrency_usd"] == pytest.approx(2 * 1 * 30 * 86400 * 0.000005)


def test_plot_is_a_png(tmp_path):
    path = tmp_path / "cost.png"
    code, out, _ = run(*BLOG, "--plot", str(path))
    assert code == 0 and path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert path.stat().st_size > 10_000


def test_all_memory_sizes_in_one_table():
    code, out, _ = run(*BLOG, "--memory-mb", "all", "--json")
    rows = json.loads(out)
    assert [r["memory_size_mb"] for r in rows] == list(cost.MEMORY_SIZES)
    assert [round(r["serverless_monthly_usd"]) for r in rows] == [91, 181, 272, 363, 454, 544]


def test_from_test_results(tmp_path):
    results = tmp_path / "test-results.json"
    results.write_text(
        json.dumps(
            {
                "latency_ms": {"mean": 40.0, "p50": 30.0},
                "throughput_per_min": 1200,
                "memory_size_mb": 2048,
                "max_concurrency": 20,
            }
        )
    )
    code, out, _ = run("--from-test-results", str(results), "--json")
    result = json.loads(out)
    assert code == 0
    assert result["seconds_per_inference"] == 0.04
    assert result["test_inferences_per_month"] == 1200 * 15 * 30
    assert result["peak_concurrency_needed"] == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memory-mb", "1500"], "--memory-mb 1500 does not exist: serverless offers 1024, 2048"),
        (["--peak-per-minute", "-5"], "--peak-per-minute must be a finite zero or positive number, got -5"),
        (["--instance-type", "ml.x9.huge"], "no price for instance type ml.x9.huge"),
        (["--region", "ap-south-2"], "no prices for region ap-south-2"),
        (
            ["--from-test-results", "/nonexistent.json"],
            "--from-test-results /nonexistent.json does not exist",
        ),
        (["--max-concurrency", "500"], "--max-concurrency must be between 1 and 200"),
        (["--instance-price-per-hour", "-1"], "--instance-price-per-hour must be a finite positive number"),
        (["--price-per-gb-second", "0"], "--price-per-gb-second must be a finite positive number"),
        (["--days", "nan"], "--days must be a finite positive number, got nan"),
        (["--steady-per-hour", "inf"], "--steady-per-hour must be a finite zero or positive number"),
        (["--provisioned-concurrency", "-2"], "--provisioned-concurrency must be zero or more"),
        (["--instance-count", "0"], "--instance-count must be at least 1"),
        (["--region", "mars-1"], "--region mars-1 is not an AWS Region with SageMaker"),
        (["--from-test-results", "/"], "--from-test-results / is a directory"),
        (["--from-test-results", "README.md"], "test results file README.md is not JSON"),
        (["--from-test-results", "pyproject.toml/x.json"], "does not exist"),
        (
            ["--plot", "/nonexistent/cost.png"],
            "--plot /nonexistent/cost.png: directory /nonexistent does not exist",
        ),
        (["--plot", "docs"], "--plot docs is a directory"),
        (["--days", "lots"], "argument --days: invalid float value: 'lots'"),
    ],
)
def test_bad_inputs_get_one_clear_line(args, message):
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert err.strip().startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_instance_with_an_explicit_price_works():
    code, out, _ = run("--instance-type", "ml.x9.huge", "--instance-price-per-hour", "1.0", "--json")
    assert code == 0 and json.loads(out)["instance_monthly_usd"] == 720.0


def test_a_json_file_of_another_shape_is_one_line(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    code, out, err = run("--from-test-results", str(path))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "has no latency_ms.mean or latency_ms.p50" in err


def test_model_monitor_jobs_cost_price_times_job_hours_times_runs():
    code, out, _ = run(
        "--monitoring-backend",
        "model-monitor",
        "--monitoring-instance-type",
        "ml.m5.xlarge",
        "--monitoring-runs-per-day",
        "24",
        "--json",
    )
    assert code == 0
    monitoring = json.loads(out)["monitoring"]
    assert monitoring["runs_per_month"] == 720
    assert monitoring["job_hours_per_month"] == pytest.approx(120)  # 720 runs x 10 minutes
    assert monitoring["monitoring_monthly_usd"] == pytest.approx(27.60)  # x $0.23/h, prices.json
    assert monitoring["monitoring_ceiling_monthly_usd"] == pytest.approx(
        82.80
    )  # every run at its 30-minute limit
    code, out, _ = run(
        "--monitoring-backend",
        "model-monitor",
        "--monitoring-runs-per-day",
        "4",
        "--monitoring-job-minutes",
        "15",
    )
    assert (
        "monitoring (Model Monitor): 4 runs/day x 15 min on ml.m5.xlarge ($0.23/h) = $6.90/month (at most $13.80 "
        "if every job took its 30-minute limit)" in out
    )
    code, out, _ = run()
    assert "monitoring" not in out  # only when asked


def test_the_project_check_adds_what_starts_each_run_and_its_metrics():
    """Per run: 2 CodePipeline V2 action minutes ($0.002) and a CodeBuild minute ($0.005); 10 metrics at $0.30;
    the job at an assumed 5 minutes."""
    code, out, _ = run("--monitoring-schedule", "cron(0 * ? * * *)", "--json")
    assert code == 0
    monitoring = json.loads(out)["monitoring"]
    assert monitoring["backend"] == "project" and monitoring["runs_per_month"] == 720
    assert monitoring["jobs_monthly_usd"] == pytest.approx(720 * 5 / 60 * 0.23)  # $13.80
    assert monitoring["orchestration_monthly_usd"] == pytest.approx(720 * (2 * 0.002 + 0.005 + 0.00001))
    assert monitoring["metrics_monthly_usd"] == pytest.approx(3.00)
    assert monitoring["monitoring_monthly_usd"] == pytest.approx(13.80 + 6.4872 + 3.00)
    code, out, _ = run("--monitoring-schedule", "cron(0 2 ? * * *)", "--json")
    daily = json.loads(out)["monitoring"]
    assert daily["runs_per_month"] == 30 and daily["monitoring_monthly_usd"] < 4
    code, out, _ = run("--monitoring-schedule", "cron(0 0/6 ? * * *)", "--json")
    assert json.loads(out)["monitoring"]["runs_per_day"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--monitoring-runs-per-day", "48"], "at most 24 (the schedules run at most hourly)"),
        (["--monitoring-schedule", "rate(1 hour)"], "is not cron(0 * ? * * *), cron(0 H ? * * *) or"),
        (
            ["--monitoring-schedule", "cron(0 * ? * * *)", "--monitoring-runs-per-day", "2"],
            "give one of them",
        ),
        (["--monitoring-backend", "cloudwatch"], "invalid choice: 'cloudwatch'"),
        (["--monitoring-job-minutes", "45"], "at most 30 (the monitoring job's MaxRuntimeInSeconds)"),
        (
            ["--monitoring-instance-type", "ml.p3.2xlarge"],
            "no monitoring (processing) price for ml.p3.2xlarge",
        ),
        (
            ["--monitoring-instance-type", "xlarge"],
            "--monitoring-instance-type must look like ml.<family>.<size>",
        ),
        (["--monitoring-price-per-hour", "-1"], "--monitoring-price-per-hour"),
    ],
)
def test_monitoring_inputs_that_cannot_work_are_one_line_usage_errors(args, message):
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


# -- prod: autoscaling and blue/green updates (the prod line) ------------------------------------------------
def prod_of(**fields):
    profile = cost.Profile(instance_type="ml.m5.large", **fields)
    return cost.estimate(profile, cost.resolve_prices(profile, cost.load_price_table()))["prod"]


def test_autoscaling_bills_the_peak_fleet_only_around_the_peaks():
    prod = prod_of(instance_count=1, max_instance_count=4, peak_per_minute=10_000, steady_per_hour=50)
    hourly = prod["fixed_at_min_monthly_usd"] / (24 * 30)
    assert (prod["steady_instances"], prod["peak_instances"]) == (1, 4)
    # 15 peak minutes + the scale-in lag a day at 4 instances, the rest of the day at 1
    peak_hours = (15 + cost.SCALE_IN_LAG_MINUTES) / 60
    assert prod["autoscaled_monthly_usd"] == pytest.approx(30 * (peak_hours * 4 + (24 - peak_hours)) * hourly)
    assert (
        prod["fixed_at_min_monthly_usd"] < prod["autoscaled_monthly_usd"] < prod["fixed_at_max_monthly_usd"]
    )
    assert not prod["peak_served_within_target"]  # 10,000/min needs 143 instances at 70 each


def test_blue_green_bakes_bill_a_second_fleet_per_update():
    canary = prod_of(instance_count=2, deployment_strategy="canary", bake_time_s=600, deploys_per_month=4)
    hourly = canary["fixed_at_min_monthly_usd"] / (2 * 24 * 30)
    assert canary["bakes_per_update"] == 2  # the canary's bake and the final one
    assert canary["rollout_monthly_usd"] == pytest.approx(4 * 2 * 2 * 600 / 3600 * hourly)
    linear = prod_of(instance_count=2, deployment_strategy="linear", linear_step_percent=25)
    assert linear["bakes_per_update"] == 4
    single = prod_of(instance_count=1, deployment_strategy="canary")
    assert (single["bakes_per_update"], single["deployment_strategy"]) == (1, "all-at-once")


def test_prod_flags_on_the_command_line():
    code, out, err = run(
        *BLOG, "--instance-type", "ml.m5.large", "--min-instances", "1", "--max-instances", "4"
    )
    assert code == 0, err
    assert "prod: 1-4 x ml.m5.large autoscaled (1 steady, 4 at the peak)" in out
    assert "blue/green updates (all-at-once, 1 x 600 s baking" in out
    code, out, err = run(
        *BLOG, "--json", "--max-instances", "3", "--instance-count", "2", "--bake-time-s", "300"
    )
    prod = json.loads(out)["prod"]
    assert (code, prod["max_instances"], prod["bake_time_s"], prod["deployment_strategy"]) == (
        0,
        3,
        300,
        "canary",
    )
    code, _, err = run(*BLOG, "--max-instances", "1", "--min-instances", "2")
    assert code == 2 and "--max-instances (1) must be at least" in err and err.count("\n") == 1
