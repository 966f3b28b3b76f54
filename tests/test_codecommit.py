"""The embedded CodeCommit is git: the API's commits and reads, git clone and push over the repositories' clone
URLs, and who may do which (plain moto has no content, no commit API and no git endpoint)."""

from __future__ import annotations

import base64
import os
import subprocess
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from smbundle.local import server

IDENTITY = {
    "GIT_AUTHOR_NAME": "Data Scientist",
    "GIT_AUTHOR_EMAIL": "ds@example.com",
    "GIT_COMMITTER_NAME": "Data Scientist",
    "GIT_COMMITTER_EMAIL": "ds@example.com",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        yield aws


def git(*args, cwd=None, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **IDENTITY}, check=check
    )


def with_key(url: str, key: str) -> str:
    """The URL with a user name in it (git sends it as the Basic user name, percent-decoded)."""
    return url.replace("http://", f"http://{quote(key, safe='')}:secret@")


def test_commits_through_the_api_are_git_commits_and_read_back(embedded):
    codecommit = embedded.client("codecommit")
    codecommit.create_repository(repositoryName="sagemaker-api-repo")
    first = codecommit.put_file(
        repositoryName="sagemaker-api-repo",
        branchName="main",
        fileContent=b"print('hello')\n",
        filePath="src/app.py",
        commitMessage="first",
        name="Ann",
        email="ann@example.com",
    )
    assert codecommit.list_branches(repositoryName="sagemaker-api-repo")["branches"] == ["main"]
    assert (
        codecommit.get_repository(repositoryName="sagemaker-api-repo")["repositoryMetadata"]["defaultBranch"]
        == "main"
    )
    second = codecommit.create_commit(
        repositoryName="sagemaker-api-repo",
        branchName="main",
        parentCommitId=first["commitId"],
        putFiles=[{"filePath": "run.sh", "fileContent": b"#!/bin/sh\necho hi\n", "fileMode": "EXECUTABLE"}],
        deleteFiles=[{"filePath": "src/app.py"}],
        commitMessage="second",
        authorName="Ann",
        email="ann@example.com",
    )
    commit = codecommit.get_commit(repositoryName="sagemaker-api-repo", commitId=second["commitId"])["commit"]
    assert (commit["parents"], commit["message"], commit["author"]["name"]) == (
        [first["commitId"]],
        "second\n",  # git's message, newline-terminated
        "Ann",
    )
    differences = codecommit.get_differences(
        repositoryName="sagemaker-api-repo",
        beforeCommitSpecifier=first["commitId"],
        afterCommitSpecifier="main",
    )["differences"]
    assert sorted(
        (d["changeType"], (d.get("afterBlob") or d["beforeBlob"])["path"]) for d in differences
    ) == [
        ("A", "run.sh"),
        ("D", "src/app.py"),
    ]
    folder = codecommit.get_folder(repositoryName="sagemaker-api-repo", folderPath="/")
    assert [(f["relativePath"], f["fileMode"]) for f in folder["files"]] == [("run.sh", "EXECUTABLE")]
    old = codecommit.get_file(
        repositoryName="sagemaker-api-repo", commitSpecifier=first["commitId"], filePath="src/app.py"
    )
    assert base64.b64decode(old["fileContent"]) if isinstance(old["fileContent"], str) else old["fileContent"]
    # CodeCommit's guard against lost updates: the parent must be the branch's head.
    for parent, code in (
        (first["commitId"], "ParentCommitIdOutdatedException"),
        (None, "ParentCommitIdRequiredException"),
    ):
        kwargs = {"parentCommitId": parent} if parent else {}
        with pytest.raises(ClientError) as refused:
            codecommit.put_file(
                repositoryName="sagemaker-api-repo",
                branchName="main",
                fileContent=b"x",
                filePath="x",
                **kwargs,
            )
        assert refused.value.response["Error"]["Code"] == code
    with pytest.raises(ClientError, match="FileDoesNotExistException"):
        codecommit.get_file(repositoryName="sagemaker-api-repo", filePath="nope.txt")


def test_git_clone_and_push_reach_the_same_repository(embedded, tmp_path):
    codecommit = embedded.client("codecommit")
    url = codecommit.create_repository(repositoryName="sagemaker-git-repo")["repositoryMetadata"][
        "cloneUrlHttp"
    ]
    assert url == f"{embedded.url}/git-codecommit.us-east-1.amazonaws.com/v1/repos/sagemaker-git-repo"
    work = tmp_path / "work"
    git("clone", "-q", with_key(url, "testing"), str(work))
    (work / "README.md").write_text("# model\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "readme", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    pushed = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert (
        codecommit.get_branch(repositoryName="sagemaker-git-repo", branchName="main")["branch"]["commitId"]
        == pushed
    )
    added = codecommit.put_file(
        repositoryName="sagemaker-git-repo",
        branchName="main",
        parentCommitId=pushed,
        fileContent=b"x = 1\n",
        filePath="model.py",
    )
    git("pull", "-q", "origin", "main", cwd=work)
    assert git("rev-parse", "HEAD", cwd=work).stdout.strip() == added["commitId"]
    assert (work / "model.py").read_text() == "x = 1\n"


def test_git_needs_credentials_and_is_authorized_as_their_role(embedded, tmp_path):
    codecommit = embedded.client("codecommit")
    url = codecommit.create_repository(repositoryName="sagemaker-guarded")["repositoryMetadata"][
        "cloneUrlHttp"
    ]
    anonymous = git("clone", "-q", url, str(tmp_path / "a"), check=False)
    assert (
        anonymous.returncode != 0 and "could not read Username" in anonymous.stderr
    )  # 401: git asks for them
    # A session of the EventBridge role: no codecommit:GitPull in its managed policy.
    credentials = embedded.client("sts").assume_role(
        RoleArn="arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsEventsRole",
        RoleSessionName="events",
    )["Credentials"]
    denied = git("clone", "-q", with_key(url, credentials["AccessKeyId"]), str(tmp_path / "b"), check=False)
    assert denied.returncode != 0 and "403" in denied.stderr
    # The execution role (AmazonSageMakerFullAccess: what Studio's git integration signs with) may pull and push
    # repositories with "sagemaker" in their names.
    credentials = embedded.client("sts").assume_role(
        RoleArn="arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
        RoleSessionName="studio",
    )["Credentials"]
    key = f"{credentials['AccessKeyId']}%{credentials['SessionToken']}"  # as the credential helper sends it
    assert git("clone", "-q", with_key(url, key), str(tmp_path / "c"), check=False).returncode == 0
