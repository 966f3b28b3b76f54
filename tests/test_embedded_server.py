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
