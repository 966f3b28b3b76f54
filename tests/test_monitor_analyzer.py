"""The Model Monitor analyzer's data-quality contract: statistics, suggested constraints and the checks."""

from __future__ import annotations

import base64

import pytest

from smbundle.local.sagemaker import analyzer
from smbundle.local.sample_data import generate_rows

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
def abalone():
    rows = records(generate_rows(4177, seed=11))
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
