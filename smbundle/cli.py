"""The edge every script shares: one line on stderr per error, exit 2 for usage errors and 1 for failures.

``run(body)`` calls the script's body and turns what can go wrong (a bad value, missing credentials or profile,
an endpoint nobody answers at, an AWS error, a file system error, Ctrl-C) into one line that says what is wrong
and what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Callable
from urllib.parse import urlparse

from smbundle import gc_tuning

gc_tuning.collect_less_often()  # every script imports this module first, before the libraries that are costly

from botocore.exceptions import (  # noqa: E402
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from smbundle import validation  # noqa: E402
from smbundle.validation import UsageError  # noqa: E402

EXIT_FAILURE = 1
EXIT_USAGE = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line (``error: --flag: what is wrong; see --help``), exit 2."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def error(self, message: str):
        error(f"{message} (see {self.prog} --help)")
        raise SystemExit(EXIT_USAGE)


class Failure(Exception):
    """The command could not do its work; the message is one line with what to do."""


def error(message: str) -> None:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def warning(message: str) -> None:
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def exit_at_once(code: int) -> None:
    """Exit with ``code`` once the exit handlers have run and the output is flushed, skipping the rest of the
    interpreter's finalization.

    For the scripts that ran the embedded AWS in-process: they have already stopped it and removed their files (the
    exit handlers stop its worker processes and remove theirs), and tearing down its thousands of modules and
    objects would add seconds to every run for nothing.
    """
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def aws_session(profile: str | None, region: str | None):
    """The boto3 session of a command that calls AWS, from its --profile and --region (else AWS_PROFILE, AWS_REGION
    and the config files, as the AWS CLI reads them); the Region it ends up with is checked. boto3 is imported here,
    once the command line is known to be good: a usage error is answered without that cost."""
    import boto3

    session = boto3.session.Session(profile_name=profile, region_name=region)
    validation.region(session.region_name)
    return session


def progress(message: str) -> None:
    """A progress line on stderr (stdout stays for results, e.g. JSON)."""
    print(message, file=sys.stderr, flush=True)


def credentials_hint(endpoint_url: str | None) -> str:
    if endpoint_url:
        return (
            f"no AWS credentials: the embedded AWS at {endpoint_url} accepts any keys; "
            "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
        )
    return (
        "no AWS credentials: set AWS_PROFILE to a configured profile (aws configure list-profiles) or export "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; for the embedded AWS also set AWS_ENDPOINT_URL "
        "(scripts/local_aws.py prints it)"
    )


def unreachable_hint(endpoint_url: str | None, source: str) -> str:
    if endpoint_url and urlparse(endpoint_url).hostname in ("127.0.0.1", "localhost", "::1"):
        return (
            f"nothing answers at {endpoint_url} ({source}): start the embedded AWS with scripts/local_aws.py, "
            "or unset AWS_ENDPOINT_URL if it is left over from a stopped one"
        )
    if endpoint_url:
        return f"cannot connect to {endpoint_url} ({source}): check the URL and that the service runs"
    return "cannot reach AWS: check the network connection and the Region"


def endpoint_source(flag_value: str | None) -> str:
    """Where the endpoint came from, for messages: the flag or a (maybe left-over) environment variable."""
    if flag_value and flag_value == os.environ.get("AWS_ENDPOINT_URL") and "--endpoint-url" not in sys.argv:
        return "from AWS_ENDPOINT_URL"
    return "from --endpoint-url"


def run(body: Callable[[], int], *, endpoint_url: str | None = None, source: str = "") -> int:
    """Call ``body``; return its exit code, or print one line and return 1 or 2 for what went wrong."""
    try:
        return body()
    except UsageError as exc:
        error(exc)
        return EXIT_USAGE
    except ProfileNotFound as exc:
        error(f"{exc}: check the name (aws configure list-profiles) or unset AWS_PROFILE")
        return EXIT_USAGE
    except NoRegionError:
        error("no AWS Region: pass --region or set AWS_REGION (for example AWS_REGION=us-east-1)")
        return EXIT_USAGE
    except Failure as exc:
        error(exc)
        return EXIT_FAILURE
    except (NoCredentialsError, PartialCredentialsError):
        error(credentials_hint(endpoint_url))
        return EXIT_FAILURE
    except EndpointConnectionError:
        error(unreachable_hint(endpoint_url, source or endpoint_source(endpoint_url)))
        return EXIT_FAILURE
    except ClientError as exc:
        details = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "an AWS call")
        error(f"{operation} failed: {details.get('Code', 'Error')}: {details.get('Message', exc)}")
        return EXIT_FAILURE
    except BotoCoreError as exc:
        error(f"AWS call failed: {exc}")
        return EXIT_FAILURE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        error(f"{where}{exc.strerror or exc}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        error("interrupted")
        return 130
