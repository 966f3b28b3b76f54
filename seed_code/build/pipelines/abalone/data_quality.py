"""The project's data-quality analyzer: baselines at build time, checks of prod's captured requests on a schedule.

It does what SageMaker Model Monitor's analyzer container does for data quality, in plain Python (standard library,
plus boto3 for the check), so that projects work in accounts that cannot use Model Monitor (closed to new
customers since 2026-07-30). Its files follow Model Monitor's documented formats, so what reads Model Monitor's
reports reads these, and a baseline made here also serves Model Monitor (``MonitoringBackend`` ``model-monitor``).

Two commands, each run as a SageMaker processing job:

- ``baseline``: the build pipeline's ``BaselineAbaloneDataQuality`` step. Computes ``statistics.json`` and suggests
  ``constraints.json`` from the records the endpoint will receive (the training records without their label), and
  copies this file next to them: every later check of the model version runs the code that made its baseline.
- ``check``: the deploy repository's data-quality pipeline (``monitoring/``). Reads prod's captured requests of an
  analysis window from S3, computes their statistics and checks them against the deployed model version's baseline;
  writes ``statistics.json``, ``constraint_violations.json`` and ``summary.json`` (what the pipeline's condition
  reads) and publishes CloudWatch metrics: ``feature_baseline_drift_<feature>`` (the distance below, per feature),
  ``violations`` and ``records_analyzed``, dimension ``Endpoint``.

The files follow the documented schemas (SageMaker developer guide: "Schema for Statistics", "Schema for
Constraints", "Schema for Violations"):

- statistics: ``dataset.item_count``; per feature ``name``, ``inferred_type`` (``Integral``, ``Fractional``,
  ``String``, ``Unknown``) and either ``numerical_statistics`` (``common.num_present`` / ``num_missing``, ``mean``,
  ``sum``, ``std_dev``, ``min``, ``max``, ``distribution.kll``: 10 equal-width ``buckets`` and a quantile ``sketch``
  with parameters ``c`` and ``k`` whose level *i* items each stand for 2^i values) or ``string_statistics``
  (``common``, ``distinct_count``, ``distribution.categorical.buckets``);
- constraints: per feature ``inferred_type``, ``completeness`` (the baseline's share of present values),
  ``num_constraints.is_non_negative``, ``string_constraints.domains`` (the observed values of a low-cardinality
  string feature); ``monitoring_config`` with the analyzer's defaults: ``datatype_check_threshold`` 1.0,
  ``domain_content_threshold`` 1.0, ``distribution_constraints`` (``comparison_threshold`` 0.1,
  ``comparison_method`` ``Robust``, ``categorical_comparison_threshold`` 0.1, ``categorical_drift_method``
  ``LInfinity``);
- violations: ``feature_name``, ``constraint_check_type``, ``description``.

The checks, as the developer guide defines them:

- ``data_type_check``: the share of present values of the baseline's type (an Integral value is also a
  Fractional one; anything is a String) is below ``datatype_check_threshold``;
- ``completeness_check``: the share of present values is below the baseline's ``completeness``;
- ``baseline_drift_check``: the distance between the baseline's and the current distribution exceeds the
  threshold. Numerical features: the L-infinity distance between the two cumulative distribution functions (the
  baseline's from its sketch); ``Simple`` compares it with ``comparison_threshold``; ``Robust`` also requires the
  distance to be significant by the two-sample Kolmogorov-Smirnov test at 99 % for the two sample sizes (the guide
  says only that it is "based on the two-sample Kolmogorov-Smirnov test" and meant for small samples; this is our
  reading). String features: the largest difference of a value's share (``LInfinity``) against
  ``categorical_comparison_threshold``;
- ``categorical_values_check``: the share of values inside the baseline's domain is below
  ``domain_content_threshold``;
- ``missing_column_check`` / ``extra_column_check``: fewer or more columns than the baseline has.

Descriptions use the analyzer's wording where we found it published (data type, numerical drift) and ours
elsewhere. ``num_constraints.is_non_negative`` is suggested but, as no documented check uses it, not checked.

Feature names: a CSV dataset with a header names its features; without one they are ``_c0``, ``_c1``, ... A
monitoring job names the captured columns after the baseline's features, by position.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
from dataclasses import dataclass

INTEGRAL, FRACTIONAL, STRING, UNKNOWN = "Integral", "Fractional", "String", "Unknown"
NUMERIC = (INTEGRAL, FRACTIONAL)
BUCKETS = 10
SKETCH_K = 2048
SKETCH_C = 0.64
DOMAIN_MAX_VALUES = 20  # a string feature with at most this many distinct values gets a domain constraint
KS_ALPHA = 0.01  # the significance of the Robust comparison's two-sample Kolmogorov-Smirnov test
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)")

DEFAULT_MONITORING_CONFIG = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}


class AnalysisError(Exception):
    """The job cannot analyze its input; the message is the job's failure reason."""


@dataclass
class Dataset:
    names: list[str]
    rows: list[list[str | None]]  # None: a missing value

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=len(self.names))

    def column(self, index: int) -> list[str | None]:
        return [row[index] if index < len(row) else None for row in self.rows]


def value_type(value: str) -> str:
    if _INTEGER.fullmatch(value):
        return INTEGRAL
    if _NUMBER.fullmatch(value):
        return FRACTIONAL
    return STRING


def _cell(value: str) -> str | None:
    value = value.strip()
    return value if value else None


def read_csv(text: str, header: bool) -> Dataset:
    lines = [row for row in csv.reader(io.StringIO(text)) if row]
    if header:
        if not lines:
            raise AnalysisError("the dataset has no header row")
        names, lines = [n.strip() for n in lines[0]], lines[1:]
    else:
        names = []
    rows = [[_cell(v) for v in row] for row in lines]
    width = max((len(r) for r in rows), default=len(names))
    names = names + [f"_c{i}" for i in range(len(names), width)]
    return Dataset(names, rows)


def read_dataset(files: list[bytes], dataset_format: dict) -> Dataset:
    """A baselining job's input, in the job's ``dataset_format`` (only CSV is analyzed locally)."""
    if "csv" not in dataset_format:
        raise AnalysisError(
            f"dataset_format {json.dumps(dataset_format)} cannot be analyzed locally (CSV only)"
        )
    header = bool(dataset_format["csv"].get("header", True))
    datasets = [read_csv(data.decode("utf-8-sig"), header) for data in files]
    if not datasets:
        raise AnalysisError("the baseline dataset has no files")
    names = max((d.names for d in datasets), key=len)
    return Dataset(names, [row for d in datasets for row in d.rows])


# -- captured data ---------------------------------------------------------------------------------------------
def _payload(section: dict) -> tuple[str, str]:
    """(text, content type) of a captureData section."""
    data = section.get("data", "")
    if section.get("encoding") == "BASE64":
        data = base64.b64decode(data).decode("utf-8", errors="replace")
    return data, (section.get("observedContentType") or "").split(";")[0].strip().lower()


def _rows(section: dict | None) -> list[list[str | None]] | None:
    if section is None:
        return None
    text, content_type = _payload(section)
    if section.get("encoding") == "JSON" or content_type == "application/json":
        value = json.loads(text)
        items = value if isinstance(value, list) else [value]
        return [
            [
                None if v in (None, "") else str(v)
                for v in (item.values() if isinstance(item, dict) else [item])
            ]
            for item in items
        ]
    return [[_cell(v) for v in row] for row in csv.reader(io.StringIO(text)) if row]


def capture_dataset(records: list[dict], feature_names: list[str]) -> Dataset:
    """The rows a monitoring job analyzes: per captured event, the output's fields first, then the input's (the
    dataset format's ``output_columns_position`` ``START``), for each line of the payload."""
    rows: list[list[str | None]] = []
    for record in records:
        data = record.get("captureData") or {}
        inputs, outputs = _rows(data.get("endpointInput")), _rows(data.get("endpointOutput"))
        if inputs is not None and outputs is not None and len(inputs) != len(outputs):
            raise AnalysisError(
                f"event {(record.get('eventMetadata') or {}).get('eventId')}: {len(inputs)} input line(s) but "
                f"{len(outputs)} output line(s)"
            )
        count = len(inputs if inputs is not None else outputs or [])
        for i in range(count):
            rows.append(
                (outputs[i] if outputs is not None else []) + (inputs[i] if inputs is not None else [])
            )
    width = max((len(r) for r in rows), default=0)
    names = list(feature_names[:width]) + [f"_c{i}" for i in range(len(feature_names), width)]
    return Dataset(names, rows)


# -- statistics ------------------------------------------------------------------------------------------------
def infer_type(values: list[str]) -> str:
    """A column's type: String if any present value is not a number, else Fractional if any is, else Integral."""
    if not values:
        return UNKNOWN
    kinds = {value_type(v) for v in values}
    if STRING in kinds:
        return STRING
    return FRACTIONAL if FRACTIONAL in kinds else INTEGRAL


def _sketch(values: list[float]) -> list[list[float]]:
    """A quantile sketch of sorted values: level i keeps every 2^i-th value, the first level that fits in k."""
    level, items = 0, values
    while len(items) > SKETCH_K:
        level += 1
        items = values[(2**level) // 2 :: 2**level]
    return [[] for _ in range(level)] + [list(items)]


def _buckets(values: list[float], low: float, high: float) -> list[dict]:
    width = (high - low) / BUCKETS
    counts = [0] * BUCKETS
    for value in values:
        index = BUCKETS - 1 if width == 0 else min(BUCKETS - 1, int((value - low) / width))
        counts[index] += 1
    return [
        {"lower_bound": low + i * width, "upper_bound": low + (i + 1) * width, "count": float(counts[i])}
        for i in range(BUCKETS)
    ]


def _numbers(values: list[str]) -> list[float]:
    return [float(v) for v in values if value_type(v) in NUMERIC]


def feature_statistics(name: str, column: list[str | None]) -> dict:
    present = [v for v in column if v is not None]
    common = {"num_present": len(present), "num_missing": len(column) - len(present)}
    kind = infer_type(present)
    if kind in (STRING, UNKNOWN):
        counts: dict[str, int] = {}
        for value in present:
            counts[value] = counts.get(value, 0) + 1
        return {
            "name": name,
            "inferred_type": kind,
            "string_statistics": {
                "common": common,
                "distinct_count": float(len(counts)),
                "distribution": {
                    "categorical": {
                        "buckets": [{"value": v, "count": float(c)} for v, c in sorted(counts.items())]
                    }
                },
            },
        }
    numbers = sorted(_numbers(present))
    total = math.fsum(numbers)
    mean = total / len(numbers)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in numbers) / len(numbers))
    return {
        "name": name,
        "inferred_type": kind,
        "numerical_statistics": {
            "common": common,
            "mean": mean,
            "sum": total,
            "std_dev": std,
            "min": numbers[0],
            "max": numbers[-1],
            "distribution": {
                "kll": {
                    "buckets": _buckets(numbers, numbers[0], numbers[-1]),
                    "sketch": {
                        "parameters": {"c": SKETCH_C, "k": float(SKETCH_K)},
                        "data": _sketch(numbers),
                    },
                }
            },
        },
    }


def statistics(dataset: Dataset) -> dict:
    return {
        "version": 0.0,
        "dataset": {"item_count": len(dataset.rows)},
        "features": [
            feature_statistics(dataset.names[i] if i < len(dataset.names) else f"_c{i}", dataset.column(i))
            for i in range(dataset.width)
        ],
    }


def suggest_constraints(stats: dict) -> dict:
    features = []
    for feature in stats["features"]:
        section = feature.get("numerical_statistics") or feature.get("string_statistics")
        common = section["common"]
        total = common["num_present"] + common["num_missing"]
        constraint = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            "completeness": common["num_present"] / total if total else 0.0,
        }
        if "numerical_statistics" in feature:
            constraint["num_constraints"] = {"is_non_negative": feature["numerical_statistics"]["min"] >= 0}
        else:
            values = [b["value"] for b in section["distribution"]["categorical"]["buckets"]]
            if 0 < len(values) <= DOMAIN_MAX_VALUES:
                constraint["string_constraints"] = {"domains": values}
        features.append(constraint)
    return {"version": 0.0, "features": features, "monitoring_config": DEFAULT_MONITORING_CONFIG}


def suggest_baseline(dataset: Dataset) -> tuple[dict, dict]:
    """A baselining job: (statistics.json, constraints.json) of the dataset."""
    if not dataset.rows:
        raise AnalysisError("the baseline dataset has no rows")
    stats = statistics(dataset)
    return stats, suggest_constraints(stats)


# -- checks ----------------------------------------------------------------------------------------------------
def _percent(value: float) -> str:
    return f"{value * 100:g}%"


def _weighted_items(feature: dict) -> tuple[list[float], list[float]]:
    sketch = feature["numerical_statistics"]["distribution"]["kll"]["sketch"]
    items, weights = [], []
    for level, values in enumerate(sketch["data"]):
        items.extend(values)
        weights.extend([float(2**level)] * len(values))
    order = sorted(range(len(items)), key=items.__getitem__)
    return [items[i] for i in order], [weights[i] for i in order]


def linf_distance(baseline_feature: dict, current: list[float]) -> float:
    """The largest absolute difference between the baseline's and the current cumulative distributions."""
    items, weights = _weighted_items(baseline_feature)
    if not items or not current:
        return 0.0
    current = sorted(current)
    total = math.fsum(weights)
    points = sorted(set(items) | set(current))
    distance, i, j, cumulative = 0.0, 0, 0, 0.0
    for point in points:
        while i < len(items) and items[i] <= point:
            cumulative += weights[i]
            i += 1
        while j < len(current) and current[j] <= point:
            j += 1
        distance = max(distance, abs(cumulative / total - j / len(current)))
    return distance


def ks_critical(n: int, m: int, alpha: float = KS_ALPHA) -> float:
    """The two-sample Kolmogorov-Smirnov critical distance for samples of n and m values."""
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def _type_matches(value: str, expected: str) -> bool:
    kind = value_type(value)
    if expected in (STRING, UNKNOWN):
        return True
    if expected == FRACTIONAL:
        return kind in NUMERIC
    return kind == expected


def _violation(name: str, check: str, description: str) -> dict:
    return {"feature_name": name, "constraint_check_type": check, "description": description}


def _check_feature(
    name: str, column: list[str | None], baseline: dict | None, constraint: dict, config: dict
) -> list[dict]:
    violations = []
    present = [v for v in column if v is not None]
    expected = constraint.get("inferred_type", UNKNOWN)
    overrides = constraint.get("monitoringConfigOverrides") or {}
    datatype_threshold = float(overrides.get("datatype_check_threshold", config["datatype_check_threshold"]))
    if present and expected in (INTEGRAL, FRACTIONAL):
        share = sum(_type_matches(v, expected) for v in present) / len(present)
        if share < datatype_threshold:
            violations.append(
                _violation(
                    name,
                    "data_type_check",
                    f"Data type match requirement is not met. Expected data type: {expected}, Expected match: "
                    f"{_percent(datatype_threshold)}. Observed: Only {_percent(share)} of data is {expected}.",
                )
            )
    if column and "completeness" in constraint:
        completeness = len(present) / len(column)
        if completeness < float(constraint["completeness"]):
            violations.append(
                _violation(
                    name,
                    "completeness_check",
                    f"Data completeness requirement is not met. Expected: {_percent(float(constraint['completeness']))}"
                    f" of data present. Observed: Only {_percent(completeness)} of data is present.",
                )
            )
    domain = (constraint.get("string_constraints") or {}).get("domains")
    if domain and present:
        allowed = set(domain)
        inside = sum(v in allowed for v in present) / len(present)
        threshold = float(overrides.get("domain_content_threshold", config["domain_content_threshold"]))
        if inside < threshold:
            outside = sorted({v for v in present if v not in allowed})[:5]
            violations.append(
                _violation(
                    name,
                    "categorical_values_check",
                    f"Data domain content requirement is not met. Expected: {_percent(threshold)} of values in "
                    f"the baseline's domain {sorted(allowed)}. Observed: Only {_percent(inside)}; values outside "
                    f"it: {outside}.",
                )
            )
    distribution = dict(
        config.get("distribution_constraints") or {}, **overrides.get("distribution_constraints", {})
    )
    if baseline is not None and present and distribution.get("perform_comparison", "Enabled") == "Enabled":
        violations.extend(_drift(name, present, baseline, distribution))
    return violations


def distance(present: list[str], baseline: dict) -> float | None:
    """How far the present values are from the baseline feature's distribution: the L-infinity distance between
    the cumulative distributions (numerical) or the largest change of a value's share (categorical, LInfinity);
    None when there is nothing to compare."""
    if "numerical_statistics" in baseline:
        numbers = _numbers(present)
        return linf_distance(baseline, numbers) if numbers else None
    if not present:
        return None
    buckets = baseline["string_statistics"]["distribution"]["categorical"]["buckets"]
    base_total = sum(b["count"] for b in buckets) or 1.0
    shares = {b["value"]: b["count"] / base_total for b in buckets}
    counts: dict[str, int] = {}
    for value in present:
        counts[value] = counts.get(value, 0) + 1
    return max(abs(shares.get(v, 0.0) - counts.get(v, 0) / len(present)) for v in set(shares) | set(counts))


def _drift(name: str, present: list[str], baseline: dict, distribution: dict) -> list[dict]:
    gap = distance(present, baseline)
    if gap is None:
        return []
    if "numerical_statistics" in baseline:
        threshold = float(distribution.get("comparison_threshold", 0.1))
        method = str(
            distribution.get("comparison_method") or distribution.get("comparion_method") or "Robust"
        )
        if method.lower() in ("robust", "linf_robust"):
            n = int(baseline["numerical_statistics"]["common"]["num_present"])
            drifted = gap > threshold and gap > ks_critical(n, len(_numbers(present)))
        elif method.lower() in ("simple", "linf_simple"):
            drifted = gap > threshold
        else:
            raise AnalysisError(f"comparison_method {method!r} is neither Simple nor Robust")
        if not drifted:
            return []
        return [
            _violation(
                name,
                "baseline_drift_check",
                f"Numerical distance: {gap} exceeds numerical threshold: {threshold}",
            )
        ]
    method = str(distribution.get("categorical_drift_method", "LInfinity"))
    if method != "LInfinity":
        raise AnalysisError(f"categorical_drift_method {method!r} is not supported (LInfinity only)")
    threshold = float(distribution.get("categorical_comparison_threshold", 0.1))
    if gap <= threshold:
        return []
    return [
        _violation(
            name,
            "baseline_drift_check",
            f"Categorical distance: {gap} exceeds categorical threshold: {threshold}",
        )
    ]


def drift_distances(dataset: Dataset, baseline_statistics: dict) -> dict[str, float]:
    """Each baseline feature's distance (see :func:`distance`) in the dataset, by position; features with nothing
    to compare are left out."""
    distances = {}
    for index, feature in enumerate(baseline_statistics.get("features") or []):
        if index >= dataset.width:
            break
        gap = distance([v for v in dataset.column(index) if v is not None], feature)
        if gap is not None:
            distances[feature["name"]] = gap
    return distances


def monitor(dataset: Dataset, baseline_statistics: dict | None, constraints: dict) -> tuple[dict, dict]:
    """A monitoring job: (statistics.json of the current data, constraint_violations.json)."""
    if not dataset.rows:
        raise AnalysisError("Job inputs had no data")
    current = statistics(dataset)
    config = dict(DEFAULT_MONITORING_CONFIG, **(constraints.get("monitoring_config") or {}))
    if config.get("evaluate_constraints", "Enabled") != "Enabled":
        return current, {"violations": []}
    expected = constraints.get("features") or []
    baseline_features = {f["name"]: f for f in (baseline_statistics or {}).get("features", [])}
    violations = []
    width = dataset.width
    if width < len(expected):
        violations.append(
            _violation(
                ", ".join(c["name"] for c in expected[width:]),
                "missing_column_check",
                f"There are missing columns in current dataset. Number of columns in current dataset: {width}, "
                f"Number of columns in baseline constraints: {len(expected)}",
            )
        )
    elif width > len(expected):
        violations.append(
            _violation(
                ", ".join(dataset.names[len(expected) : width]),
                "extra_column_check",
                f"There are extra columns in current dataset. Number of columns in current dataset: {width}, "
                f"Number of columns in baseline constraints: {len(expected)}",
            )
        )
    for index, constraint in enumerate(expected[:width]):
        violations.extend(
            _check_feature(
                constraint["name"],
                dataset.column(index),
                baseline_features.get(constraint["name"]),
                constraint,
                config,
            )
        )
    return current, {"violations": violations}


# -- the commands ----------------------------------------------------------------------------------------------
STATISTICS, CONSTRAINTS, VIOLATIONS, SUMMARY = (
    "statistics.json",
    "constraints.json",
    "constraint_violations.json",
    "summary.json",
)
METRICS_NAMESPACE = "SageMakerProjects/DataQuality"


class CommandError(Exception):
    """One line for the job's log; the command exits 1."""


def _json_file(path: str) -> dict:
    """A JSON file, or the one JSON file in a directory (a processing input of a single object lands in one)."""
    import pathlib

    target = pathlib.Path(path)
    if target.is_dir():
        found = sorted(target.glob("*.json"))
        if len(found) != 1:
            raise CommandError(f"{path} must hold exactly one .json file, found {len(found)}")
        target = found[0]
    try:
        return json.loads(target.read_text())
    except FileNotFoundError:
        raise CommandError(f"{path} does not exist") from None
    except ValueError as exc:
        raise CommandError(f"{path} is not JSON: {exc}") from None


def _write(directory: str, name: str, content: dict) -> None:
    import pathlib

    folder = pathlib.Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(content, indent=2) + "\n")


def run_baseline(dataset_dir: str, output_dir: str, header: bool = True) -> dict:
    """statistics.json and constraints.json of every file under ``dataset_dir``, and this file, to ``output_dir``."""
    import pathlib
    import shutil

    source = pathlib.Path(dataset_dir)
    if not source.is_dir():
        raise CommandError(f"--dataset-dir {dataset_dir} is not a directory")
    files = [p.read_bytes() for p in sorted(source.rglob("*")) if p.is_file()]
    stats, constraints = suggest_baseline(read_dataset(files, {"csv": {"header": header}}))
    _write(output_dir, STATISTICS, stats)
    _write(output_dir, CONSTRAINTS, constraints)
    shutil.copyfile(__file__, pathlib.Path(output_dir) / "data_quality.py")
    return stats


def _moment(raw: str):
    from datetime import datetime, timezone

    value = raw.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--window-end {raw!r} is not an ISO 8601 time") from None
    # timezone.utc, not datetime.UTC: the processing containers' Python may be older than 3.11
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # noqa: UP017


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise CommandError(f"--capture-uri {uri!r} is not s3://bucket/prefix")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix.rstrip("/") + "/"


def captured_records(s3, capture_uri: str, begin, end) -> list[dict]:
    """The records captured in [begin, end): ``<capture_uri>/<variant>/yyyy/mm/dd/hh/*.jsonl``, as SageMaker's
    data capture lays them out, read hour by hour of the window."""
    from datetime import timedelta

    bucket, prefix = _split(capture_uri)
    pages = s3.get_paginator("list_objects_v2")
    variants = [
        common["Prefix"]
        for page in pages.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        for common in page.get("CommonPrefixes", [])
    ]
    hour = begin.replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < end:
        hours.append(hour)
        hour += timedelta(hours=1)
    records = []
    for variant in variants:
        for moment in hours:
            for page in pages.paginate(Bucket=bucket, Prefix=f"{variant}{moment:%Y/%m/%d/%H}/"):
                for item in page.get("Contents", []):
                    if not item["Key"].endswith(".jsonl"):
                        continue
                    body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8")
                    for line in body.splitlines():
                        if not line.strip():
                            continue
                        record = json.loads(line)
                        when = (record.get("eventMetadata") or {}).get("inferenceTime", "")
                        try:
                            inferred = _moment(when)
                        except CommandError:
                            continue
                        if begin <= inferred < end:
                            records.append(record)
    return records


def check(
    dataset: Dataset, baseline_statistics: dict, constraints: dict, endpoint: str, begin, end
) -> tuple[dict, dict, dict]:
    """(statistics.json, constraint_violations.json, summary.json) of one check."""
    window = {"start": begin.isoformat(), "end": end.isoformat()}
    if not dataset.rows:
        empty = {"version": 0.0, "dataset": {"item_count": 0}, "features": []}
        summary = {
            "endpoint": endpoint,
            "window": window,
            "status": "NoData",
            "records_analyzed": 0,
            "violation_count": 0,
            "violations": "none",
            "distances": {},
            "message": "no captured requests in the window: nothing to check",
        }
        return empty, {"violations": []}, summary
    stats, report = monitor(dataset, baseline_statistics, constraints)
    found = report["violations"]
    listed = "; ".join(f"{v['feature_name']} {v['constraint_check_type']}" for v in found) or "none"
    summary = {
        "endpoint": endpoint,
        "window": window,
        "status": "CompletedWithViolations" if found else "Completed",
        "records_analyzed": len(dataset.rows),
        "violation_count": len(found),
        "violations": listed,
        "distances": drift_distances(dataset, baseline_statistics),
        "message": f"{len(found)} violation(s): {listed}" if found else "the requests match the baseline",
    }
    return stats, report, summary


def publish_metrics(cloudwatch, namespace: str, summary: dict, when) -> int:
    """The check's metrics: per-feature drift distance, violations, records analyzed (dimension Endpoint)."""
    dimensions = [{"Name": "Endpoint", "Value": summary["endpoint"]}]
    data = [
        {"MetricName": "violations", "Value": float(summary["violation_count"]), "Unit": "Count"},
        {"MetricName": "records_analyzed", "Value": float(summary["records_analyzed"]), "Unit": "Count"},
    ] + [
        {"MetricName": f"feature_baseline_drift_{name}", "Value": float(gap), "Unit": "None"}
        for name, gap in sorted(summary["distances"].items())
    ]
    for item in data:
        item.update(Dimensions=dimensions, Timestamp=when)
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 1000])
    return len(data)


def run_check(args) -> dict:
    from datetime import timedelta

    import boto3
    from botocore.config import Config

    if not 1 <= args.window_hours <= 24 * 31:
        raise CommandError(f"--window-hours must be between 1 and 744, got {args.window_hours}")
    end = _moment(args.window_end)
    begin = end - timedelta(hours=args.window_hours)
    baseline = _json_file(args.baseline_statistics)
    constraints = _json_file(args.baseline_constraints)
    config = Config(retries={"mode": "standard"})
    records = captured_records(boto3.client("s3", config=config), args.capture_uri, begin, end)
    names = [f["name"] for f in constraints.get("features") or baseline.get("features", [])]
    stats, report, summary = check(
        capture_dataset(records, names), baseline, constraints, args.endpoint_name, begin, end
    )
    for name, content in ((STATISTICS, stats), (VIOLATIONS, report), (SUMMARY, summary)):
        _write(args.output_dir, name, content)
    if args.metrics_namespace:
        publish_metrics(boto3.client("cloudwatch", config=config), args.metrics_namespace, summary, end)
    return summary


def _parser():
    import argparse

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    baseline = commands.add_parser("baseline", help="statistics.json and constraints.json of a dataset")
    baseline.add_argument("--dataset-dir", required=True, help="CSV files, with a header naming the features")
    baseline.add_argument("--no-header", action="store_true", help="the CSV files have no header row")
    baseline.add_argument("--output-dir", required=True)
    checking = commands.add_parser("check", help="check captured requests against a baseline")
    checking.add_argument("--capture-uri", required=True, help="s3://<DestinationS3Uri>/<endpoint name>")
    checking.add_argument("--endpoint-name", required=True)
    checking.add_argument("--baseline-statistics", required=True, help="statistics.json (or its directory)")
    checking.add_argument("--baseline-constraints", required=True, help="constraints.json (or its directory)")
    checking.add_argument("--window-end", required=True, help="ISO 8601 end of the analysis window")
    checking.add_argument("--window-hours", type=int, default=1, help="length of the window (default: 1)")
    checking.add_argument("--output-dir", required=True)
    checking.add_argument(
        "--metrics-namespace",
        default=METRICS_NAMESPACE,
        help="CloudWatch namespace of the metrics (default: %(default)s; empty: publish none)",
    )
    return parser


def main(argv=None) -> int:
    import sys

    args = _parser().parse_args(argv)
    try:
        if args.command == "baseline":
            stats = run_baseline(args.dataset_dir, args.output_dir, header=not args.no_header)
            print(f"baseline of {stats['dataset']['item_count']} records written to {args.output_dir}")
        else:
            summary = run_check(args)
            print(
                f"{summary['endpoint']}: {summary['records_analyzed']} records from {summary['window']['start']} "
                f"to {summary['window']['end']}: {summary['status']}: {summary['message']}"
            )
    except (CommandError, AnalysisError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # an AWS call that failed (botocore's errors): one line, not a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
