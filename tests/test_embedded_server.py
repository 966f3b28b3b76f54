"""The embedded AWS server's lifetime: each one started in a process begins with a fresh account, as a new
``local_aws.py`` does (moto keeps its backends per process, not per server)."""

from __future__ import annotations

from smbundle.local import server


def test_a_server_started_after_another_does_not_see_its_resources():
    with server.start() as first:
        first.client("s3").create_bucket(Bucket="left-by-the-first-server")
        prepared = sorted(b["Name"] for b in first.client("s3").list_buckets()["Buckets"])
        assert "left-by-the-first-server" in prepared
    with server.start() as second:
        buckets = sorted(b["Name"] for b in second.client("s3").list_buckets()["Buckets"])
        assert "left-by-the-first-server" not in buckets
        assert buckets == sorted(set(prepared) - {"left-by-the-first-server"})  # what start() prepares
        launch_role = second.client("iam").get_role(RoleName=server.LAUNCH_ROLE_NAME)["Role"]
        assert launch_role["Arn"] == second.roles[server.LAUNCH_ROLE_NAME]  # the account is prepared again


def test_what_local_aws_lists_as_served_answers_and_the_rest_is_an_unknown_operation(tmp_path):
    import os

    import pytest
    from botocore.exceptions import ClientError

    from smbundle.local import served
    from tests._in_process import run_script

    listing = run_script("local_aws.py", "--served", "codebuild", env=dict(os.environ))
    assert listing.returncode == 0, listing.stderr
    listed = listing.stdout.split()
    assert listed == served.served_operations("codebuild")
    assert {"BatchGetBuilds", "StartBuild", "ListBuildsForProject"} <= set(listed)
    assert "CreateWebhook" not in listed
    refused = run_script("local_aws.py", "--served", "ec2", env=dict(os.environ))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "is not one the product uses" in refused.stderr
    with server.start() as aws:
        codebuild = aws.client("codebuild")
        with pytest.raises(ClientError, match="ResourceNotFoundException"):  # served: AWS's answer
            codebuild.list_builds_for_project(projectName="none")
        with pytest.raises(ClientError) as unknown:
            codebuild.create_webhook(projectName="none")
        assert unknown.value.response["Error"]["Code"] == "UnknownOperationException"
        assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_docs_local_md_lists_exactly_what_is_served():
    import re
    from pathlib import Path

    from smbundle.local import served

    text = (Path(__file__).resolve().parents[1] / "docs" / "local.md").read_text()
    section = text[text.index("## What the embedded AWS serves") :]
    section = section[: section.index("\n## ", 1)]
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| ([A-Z][A-Za-z, ]+) \|$", section, re.M))
    assert rows, "no service rows in docs/local.md"
    for service, operations in rows.items():
        assert operations.split(", ") == served.served_operations(service), service
    for service, count in re.findall(r"`([a-z-]+)` (\d+)", section):
        assert int(count) == len(served.served_operations(service)), service
