"""test/test.py with careless flags: one line on stderr, exit 2, before any request and without a results file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("staging_test_flags", REPO / "test" / "test.py")
staging_test = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(staging_test)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--wait-timeout-s", "-1"], "--wait-timeout-s must be a finite number more than zero, got -1"),
        (["--poll-s", "0"], "--poll-s must be a finite number more than zero"),
        (["--duration-s", "nan"], "--duration-s must be a finite number zero or more, got nan"),
        (["--mse-tolerance", "-0.1"], "--mse-tolerance must be a finite number zero or more"),
        (["--max-p99-ms", "-1"], "--max-p99-ms must be a finite number zero or more"),
        (["--max-error-rate", "5"], "--max-error-rate is a fraction between 0 and 1, got 5"),
        (["--max-throttle-retries", "-1"], "--max-throttle-retries must be zero or more"),
        (["--concurrency", "0"], "--concurrency must be >= 1"),
        (["--concurrency", "ten"], "argument --concurrency: invalid int value: 'ten'"),
        (["--sample-file", "missing.csv"], "--sample-file missing.csv is not a file"),
        (["--export-test-results", "."], "--export-test-results .: not a writable file"),
        (["--export-test-results", "nowhere/results.json"], "not a writable file in an existing directory"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        staging_test.main(args)
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []
