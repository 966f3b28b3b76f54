"""The project's data-quality analyzer: Model Monitor's statistics, constraints and checks, and its two commands."""

from __future__ import annotations

import base64
import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from pipelines.abalone import data_quality as analyzer

NAMES = [
    "sex",
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
]


def records(rows):
    return [[None if v == "" else str(v) for v in row[:8]] for row in rows]


@pytest.fixture(scope="module")
def abalone(make_abalone_rows):
    rows = records(make_abalone_rows(4177, seed=11))
    baseline = analyzer.Dataset(NAMES, rows[:2900])
    stats, constraints = analyzer.suggest_baseline(baseline)
    return stats, constraints, rows[2900:3500]


def current(rows):
    return analyzer.Dataset(list(NAMES), [list(r) for r in rows])


def violations(abalone, rows):
    stats, constraints, _ = abalone
    return analyzer.monitor(current(rows), stats, constraints)[1]["violations"]


def test_statistics_and_constraints_follow_the_documented_schema(abalone):
    stats, constraints, _ = abalone
    assert stats["dataset"]["item_count"] == 2900
    features = {f["name"]: f for f in stats["features"]}
    assert list(features) == NAMES
    assert features["sex"]["inferred_type"] == "String"
    sex = features["sex"]["string_statistics"]
    assert sex["common"] == {"num_present": 2900, "num_missing": 0}
    assert sex["distinct_count"] == 3
    assert sorted(b["value"] for b in sex["distribution"]["categorical"]["buckets"]) == ["F", "I", "M"]
    shell = features["shell_weight"]
    assert shell["inferred_type"] == "Fractional"
    numbers = shell["numerical_statistics"]
    assert set(numbers) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    kll = numbers["distribution"]["kll"]
    assert len(kll["buckets"]) == 10 and sum(b["count"] for b in kll["buckets"]) == 2900
    assert kll["buckets"][0]["lower_bound"] == numbers["min"] and kll["buckets"][-1][
        "upper_bound"
    ] == pytest.approx(numbers["max"])
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
    weight = sum(len(level) * 2**i for i, level in enumerate(kll["sketch"]["data"]))
    assert abs(weight - 2900) <= 2  # each level-i item stands for 2^i values

    by_name = {c["name"]: c for c in constraints["features"]}
    assert by_name["sex"]["string_constraints"] == {"domains": ["F", "I", "M"]}
    assert by_name["length"] == {
        "name": "length",
        "inferred_type": "Fractional",
        "completeness": 1.0,
        "num_constraints": {"is_non_negative": True},
    }
    config = constraints["monitoring_config"]
    assert config["datatype_check_threshold"] == 1.0
    assert config["distribution_constraints"]["comparison_threshold"] == 0.1
    assert config["distribution_constraints"]["comparison_method"] == "Robust"


def test_held_out_records_from_the_same_distribution_pass(abalone):
    assert violations(abalone, abalone[2]) == []


def test_a_scaled_feature_drifts_and_is_named(abalone):
    drifted = [[*r[:7], str(float(r[7]) * 1.5)] for r in abalone[2]]
    (violation,) = violations(abalone, drifted)
    assert violation["feature_name"] == "shell_weight"
    assert violation["constraint_check_type"] == "baseline_drift_check"
    assert violation["description"].startswith("Numerical distance: ")
    assert "exceeds numerical threshold: 0.1" in violation["description"]


def test_a_string_in_a_numeric_column_fails_the_data_type_check(abalone):
    rows = [list(r) for r in abalone[2]]
    rows[3][2] = "wide"
    found = [v for v in violations(abalone, rows) if v["constraint_check_type"] == "data_type_check"]
    assert [v["feature_name"] for v in found] == ["diameter"]
    assert (
        "Expected data type: Fractional, Expected match: 100%. Observed: Only 99.8" in found[0]["description"]
    )


def test_a_column_missing_in_more_rows_than_the_baseline_allows_fails_completeness(abalone):
    rows = [list(r) for r in abalone[2]]
    for row in rows[::10]:
        row[3] = None
    found = [v for v in violations(abalone, rows) if v["constraint_check_type"] == "completeness_check"]
    assert [v["feature_name"] for v in found] == ["height"]
    assert "Expected: 100% of data present. Observed: Only 90% of data is present." in found[0]["description"]


def test_unknown_categories_and_missing_columns(abalone):
    rows = [list(r) for r in abalone[2]]
    rows[0][0] = "U"
    kinds = {(v["feature_name"], v["constraint_check_type"]) for v in violations(abalone, rows)}
    assert kinds == {("sex", "categorical_values_check")}
    short = [r[:7] for r in abalone[2]]
    (missing,) = violations(abalone, short)
    assert missing["constraint_check_type"] == "missing_column_check"
    assert missing["feature_name"] == "shell_weight"


def test_robust_comparison_needs_enough_samples_where_simple_does_not():
    baseline = analyzer.Dataset(["x"], [[str(i / 1000)] for i in range(1000)])
    stats, constraints = analyzer.suggest_baseline(baseline)
    few = current([["0.1"], ["0.2"], ["0.3"], ["0.4"], ["0.45"]])
    few.names = ["x"]
    assert analyzer.monitor(few, stats, constraints)[1]["violations"] == []
    constraints["monitoring_config"] = dict(
        constraints["monitoring_config"],
        distribution_constraints=dict(
            constraints["monitoring_config"]["distribution_constraints"], comparison_method="Simple"
        ),
    )
    (drift,) = analyzer.monitor(few, stats, constraints)[1]["violations"]
    assert drift["constraint_check_type"] == "baseline_drift_check"


def test_captured_events_become_rows_output_first():
    event = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": base64.b64encode(b"M,0.455,,0.095\n").decode(),
                "encoding": "BASE64",
            },
            "endpointOutput": {
                "observedContentType": "text/csv",
                "mode": "OUTPUT",
                "data": "9.5\n",
                "encoding": "CSV",
            },
        }
    }
    dataset = analyzer.capture_dataset([event], ["rings", "sex", "length"])
    assert dataset.rows == [["9.5", "M", "0.455", None, "0.095"]]
    assert dataset.names == ["rings", "sex", "length", "_c3", "_c4"]
    with pytest.raises(analyzer.AnalysisError, match="Job inputs had no data"):
        analyzer.monitor(analyzer.capture_dataset([], NAMES), None, {"features": []})


# -- the commands, as the processing jobs run them -----------------------------------------------------------------
def capture_line(record: str, when: datetime) -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": record,
                    "encoding": "CSV",
                }
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }
    )


@pytest.fixture
def baseline_dir(tmp_path, make_abalone_rows):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    with (dataset / "baseline.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(NAMES)
        writer.writerows(row[:8] for row in make_abalone_rows(2000, seed=3))
    out = tmp_path / "baseline"
    assert analyzer.main(["baseline", "--dataset-dir", str(dataset), "--output-dir", str(out)]) == 0
    return out


def test_the_baseline_command_writes_statistics_constraints_and_itself(baseline_dir):
    assert sorted(p.name for p in baseline_dir.iterdir()) == [
        "constraints.json",
        "data_quality.py",
        "statistics.json",
    ]
    assert json.loads((baseline_dir / "statistics.json").read_text())["dataset"]["item_count"] == 2000
    assert (baseline_dir / "data_quality.py").read_bytes() == Path(analyzer.__file__).read_bytes()


@pytest.fixture
def captured(make_abalone_rows):
    """Prod's captured requests in S3, as data capture lays them out: 300 in the last hour, 50 older ones."""
    end = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

    def put(rows, when, name):
        body = "\n".join(capture_line(",".join(str(v) for v in row[:8]), when) for row in rows)
        key = f"datacapture/demo-prod/demo-prod/AllTraffic/{when:%Y/%m/%d/%H}/{name}.jsonl"
        boto3.client("s3").put_object(Bucket="sagemaker-project-p-1", Key=key, Body=body)

    def make(factor: float = 1.0):
        boto3.client("s3").create_bucket(Bucket="sagemaker-project-p-1")
        rows = [[*r[:7], round(r[7] * factor, 4)] for r in make_abalone_rows(300, seed=9)]
        put(rows[:150], end - timedelta(minutes=50), "a")
        put(rows[150:], end - timedelta(minutes=5), "b")
        put(make_abalone_rows(50, seed=4), end - timedelta(hours=3), "old")
        return end

    return make


def check_args(baseline_dir, out, end):
    return [
        "check",
        "--capture-uri",
        "s3://sagemaker-project-p-1/datacapture/demo-prod/demo-prod",
        "--endpoint-name",
        "demo-prod",
        "--baseline-statistics",
        str(baseline_dir / "statistics.json"),
        "--baseline-constraints",
        str(baseline_dir / "constraints.json"),
        "--window-end",
        end.isoformat().replace("+00:00", "Z"),
        "--output-dir",
        str(out),
    ]


def test_the_check_reads_the_windows_captures_and_publishes_metrics(baseline_dir, captured, tmp_path):
    (tmp_path / "constraints").mkdir()  # a processing input of one object lands in a directory of its own
    (baseline_dir / "constraints.json").rename(tmp_path / "constraints" / "constraints.json")
    with mock_aws():
        end = captured(1.6)
        arguments = check_args(baseline_dir, tmp_path / "report", end)
        arguments[arguments.index("--baseline-constraints") + 1] = str(tmp_path / "constraints")
        assert analyzer.main(arguments) == 0
        metrics = boto3.client("cloudwatch").list_metrics(Namespace="SageMakerProjects/DataQuality")[
            "Metrics"
        ]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["records_analyzed"] == 300  # the 50 records of three hours ago are outside the window
    assert summary["status"] == "CompletedWithViolations"
    assert "shell_weight baseline_drift_check" in summary["violations"]
    assert summary["violation_count"] == len(
        json.loads((tmp_path / "report" / "constraint_violations.json").read_text())["violations"]
    )
    names = {m["MetricName"] for m in metrics}
    assert {"violations", "records_analyzed", "feature_baseline_drift_shell_weight"} <= names
    assert {"feature_baseline_drift_sex", "feature_baseline_drift_length"} <= names
    assert all(m["Dimensions"] == [{"Name": "Endpoint", "Value": "demo-prod"}] for m in metrics)


def test_a_window_without_captures_is_no_data_not_a_failure(baseline_dir, captured, tmp_path):
    with mock_aws():
        end = captured() + timedelta(hours=5)
        assert analyzer.main([*check_args(baseline_dir, tmp_path / "r", end), "--metrics-namespace", ""]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert (summary["status"], summary["violation_count"], summary["records_analyzed"]) == ("NoData", 0, 0)


def test_check_problems_are_one_line(baseline_dir, captured, tmp_path, capsys):
    with mock_aws():
        end = captured()
        arguments = check_args(baseline_dir, tmp_path / "r", end)
        arguments[arguments.index("--window-end") + 1] = "yesterday"
        assert analyzer.main(arguments) == 1
        assert capsys.readouterr().err.strip() == "error: --window-end 'yesterday' is not an ISO 8601 time"
        arguments = check_args(tmp_path / "nowhere", tmp_path / "r", end)
        assert analyzer.main(arguments) == 1
        assert capsys.readouterr().err.strip().endswith("statistics.json does not exist")
