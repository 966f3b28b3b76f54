"""Shared fixtures: a clean AWS environment and moto with our extensions applied."""

from __future__ import annotations

import gc
import os

import pytest
from moto import mock_aws

from smbundle.local import apply_extensions

REGION = "us-east-1"


@pytest.fixture(scope="session", autouse=True)
def short_local_waits():
    """The embedded AWS's waits made short with its documented knobs (docs/local.md), for the whole session and
    every process it starts: the staging test's load phase lasts 0.25 s instead of 2 s, a cold start takes 0.1 s
    plus the model's download instead of 1 s plus it, and AWS's clocks run 6000 times faster (a prod update's new
    fleet and its 600 s bake take 0.13 s, a metric minute 10 ms). Tests about metrics, alarms, autoscaling and
    traffic shifting set their own values (600)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SMBUNDLE_LOAD_DURATION_SECONDS", "0.25")
        patch.setenv("SMBUNDLE_COLD_START_BASE_SECONDS", "0.1")
        patch.setenv("SMBUNDLE_TIME_SCALE", "6000")
        yield


def pytest_configure(config):
    """One set of warm build workers (smbundle/local/codebuild/warm_python.py) for the whole run: the process that
    starts the test workers starts them, and every test worker and every script a test starts uses them, instead of
    each importing the SageMaker Python SDK again (3 s of CPU each)."""
    from smbundle.local.codebuild import warm_python

    if warm_python.SHARED not in os.environ and warm_python.enabled():
        directory = warm_python.launchers()
        if directory is not None:
            os.environ[warm_python.SHARED] = str(directory)


# The collector in a test worker. A worker ends with over a million objects (the libraries, botocore's models, moto's
# backends, what each module's embedded AWS left), and every full collection walks them all: 16 s of the suite's CPU
# went to collections with smbundle.gc_tuning's thresholds alone. What is alive when a module starts (the imports,
# the earlier modules' leftovers) is frozen (gc.freeze: moved out of the collector's sight, never walked or freed
# again), and the young generations are collected less often: 4 s. The cost is memory (a worker peaks at about
# 1.2 GB): a reference cycle among frozen objects that later becomes garbage is never freed, and an exception
# raised while finalizing one is never reported.
WORKER_GC_THRESHOLDS = (50_000, 20, 20)
_frozen_module = None


def pytest_collection_finish(session):
    gc.set_threshold(*WORKER_GC_THRESHOLDS)  # the first module's first test freezes what collecting made


def pytest_runtest_setup(item):
    global _frozen_module
    if item.module is not _frozen_module:
        _frozen_module = item.module
        gc.freeze()


# The modules that take longest, longest first (wall seconds in a parallel run: 27, 22, 20, 18, 14, 13, 11, 11, 9,
# 8, 7, 7). xdist gives each worker whole modules (--dist loadscope, one module's fixtures set up once), in the
# order of the collection (the Makefile turns off xdist's own order, by number of tests, which handed out the
# long modules with few tests last): a worker's last modules are short ones, and the workers end together.
HEAVIEST_FIRST = (
    "tests/test_lifecycle.py",
    "tests/test_project_updates.py",
    "tests/test_scripts_local.py",
    "tests/test_roles_stack.py",
    "tests/test_monitoring.py",
    "tests/test_permissions_truth.py",
    "tests/test_warm_build_commands.py",
    "tests/test_run_local_script.py",
    "seed_code/build/tests/test_cli.py",
    "tests/test_stack_updates.py",
    "tests/test_s3_lifecycle.py",
    "tests/test_s3_template_updates.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {module: index for index, module in enumerate(HEAVIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # the rest keep their order


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """Fake credentials and a region; never let a developer's real profile or endpoint leak in."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


@pytest.fixture
def aws():
    """moto (all services) with the embedded-AWS extensions applied. Not while an embedded AWS server runs in this
    process (a module's server fixture): they share moto's backends, and the end of this one resets them."""
    from smbundle.local.codepipeline.executions import settings

    apply_extensions()
    assert not settings.endpoint_url, (
        f"an embedded AWS runs in this process ({settings.endpoint_url}): move the test"
    )
    with mock_aws():
        yield


@pytest.fixture
def existing_customer():
    """The embedded account as one that already uses SageMaker Model Monitor and Debugger (a new customer's by
    default: both are closed to new customers)."""
    from smbundle.local.sagemaker import availability

    availability.set_existing_customer(True)
    yield
    availability.set_existing_customer(False)
