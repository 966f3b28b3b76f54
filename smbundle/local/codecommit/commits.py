"""CodeCommit's commit API, on the repositories' git (``git_store``), and the events every branch change sends.

``PutFile``, ``CreateCommit`` and ``CreateBranch`` write as CodeCommit does: a commit on a branch whose head must be
the ``parentCommitId`` the caller names (CodeCommit's guard against lost updates; omitted only for a branch's first
commit), with the request's author. Each branch change, whoever makes it (these calls, a ``git push``, the seed
commit CloudFormation makes), sends CodeCommit's "CodeCommit Repository State Change" event (``referenceCreated``,
``referenceUpdated`` or ``referenceDeleted``, with ``repositoryName``, ``referenceName``, ``commitId``,
``oldCommitId``...) to the account's default bus, where the project's push rules start the pipelines.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from moto.codecommit.models import codecommit_backends
from moto.codecommit.responses import CodeCommitResponse

from smbundle.local.codecommit import git_store
from smbundle.local.events import bus
from smbundle.local.iam import principals

_applied = False


class Refused(Exception):
    """CodeCommit's answer to a request it refuses (error code, message)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def answers(handler):
    """A response method whose Refused becomes CodeCommit's JSON error."""

    def respond(self):
        try:
            return handler(self)
        except Refused as refused:
            body = json.dumps({"__type": refused.code, "message": str(refused)})
            return 400, {"status": 400, "x-amzn-ErrorType": refused.code}, body

    return respond


def reference_changed(
    account: str, region: str, name: str, branch: str, old: str | None, new: str | None
) -> dict | None:
    """Send the repository's state-change event for one branch (created, updated or deleted)."""
    repository = codecommit_backends[account][region].repositories.get(name)
    if repository is None or old == new:
        return None
    metadata = repository.repository_metadata
    caller = principals.caller.get()
    detail = {
        "event": "referenceCreated"
        if old is None
        else ("referenceDeleted" if new is None else "referenceUpdated"),
        "repositoryName": name,
        "repositoryId": metadata["repositoryId"],
        "referenceType": "branch",
        "referenceName": branch,
        "referenceFullName": f"refs/heads/{branch}",
        "commitId": new or old,
        "callerUserArn": caller.arn if caller else f"arn:aws:iam::{account}:root",
    }
    if old is not None and new is not None:
        detail["oldCommitId"] = old
    return bus.put(
        "aws.codecommit",
        "CodeCommit Repository State Change",
        detail,
        account=account,
        region=region,
        resources=[metadata["Arn"]],
    )


def where(response: CodeCommitResponse) -> tuple[str, str, str]:
    """(account, region, repository name) of a request naming a repository that exists."""
    name = response._get_param("repositoryName")
    backend = response.codecommit_backend
    if name not in backend.repositories:
        raise Refused("RepositoryDoesNotExistException", f"{name} does not exist")
    return backend.account_id, backend.region_name, name


def _write(response: CodeCommitResponse, branch: str, parent: str | None, puts: dict, deletes: list[str]):
    """Commit on ``branch`` with the parent the caller names; (account, region, name, the new commit id)."""
    account, region, name = where(response)
    head = git_store.branches(account, region, name).get(branch)
    if head is not None and not parent:
        raise Refused(
            "ParentCommitIdRequiredException",
            f"A parent commit ID is required: branch {branch} already has commits (its head is {head}).",
        )
    if head is not None and parent != head:
        raise Refused(
            "ParentCommitIdOutdatedException",
            f"The parent commit ID {parent} is not the latest commit of branch {branch} ({head}).",
        )
    if head is None and parent:
        raise Refused(
            "ParentCommitDoesNotExistException", f"Branch {branch} does not exist to have parent {parent}."
        )
    author = response._get_param("name") or response._get_param("authorName") or "AWS CodeCommit"
    email = response._get_param("email") or "noreply@amazonaws.com"
    message = response._get_param("commitMessage") or f"Commit by {author}"
    try:
        created = git_store.commit(
            account, region, name, branch, head, puts, deletes, message, author, email, create_branch=True
        )
    except git_store.GitError as exc:
        raise Refused("CommitDoesNotExistException", str(exc)) from None
    reference_changed(account, region, name, branch, head, created)
    return account, region, name, created


@answers
def put_file(self: CodeCommitResponse) -> Any:
    path = (self._get_param("filePath") or "").strip("/")
    content = base64.b64decode(self._get_param("fileContent") or "")
    executable = self._get_param("fileMode") == "EXECUTABLE"
    branch = self._get_param("branchName")
    account, region, name, created = _write(
        self, branch, self._get_param("parentCommitId"), {path: (content, executable)}, []
    )
    _, entry = git_store.blob(account, region, name, created, path)
    return json.dumps(
        {
            "commitId": created,
            "blobId": entry.object_id,
            "treeId": git_store.tree_of(account, region, name, created),
        }
    )


@answers
def create_commit(self: CodeCommitResponse) -> Any:
    puts = {
        item["filePath"].strip("/"): (
            base64.b64decode(item.get("fileContent") or ""),
            item.get("fileMode") == "EXECUTABLE",
        )
        for item in self._get_param("putFiles") or []
    }
    deletes = [item["filePath"] for item in self._get_param("deleteFiles") or []]
    branch = self._get_param("branchName")
    account, region, name, created = _write(self, branch, self._get_param("parentCommitId"), puts, deletes)
    return json.dumps(
        {
            "commitId": created,
            "treeId": git_store.tree_of(account, region, name, created),
            "filesAdded": [{"absolutePath": p} for p in puts],
            "filesDeleted": [{"absolutePath": p.strip("/")} for p in deletes],
            "filesUpdated": [],
        }
    )


@answers
def create_branch(self: CodeCommitResponse) -> Any:
    account, region, name = where(self)
    branch, commit_id = self._get_param("branchName"), self._get_param("commitId")
    if branch in git_store.branches(account, region, name):
        raise Refused("BranchNameExistsException", f"Branch {branch} already exists")
    try:
        resolved = git_store.resolve(account, region, name, commit_id)
        git_store.git(git_store.path(account, region, name), "update-ref", f"refs/heads/{branch}", resolved)
    except git_store.GitError:
        raise Refused("CommitDoesNotExistException", f"Commit {commit_id} does not exist") from None
    reference_changed(account, region, name, branch, None, resolved)
    return "{}"


def apply() -> None:
    global _applied
    if _applied:
        return
    CodeCommitResponse.put_file = put_file
    CodeCommitResponse.create_commit = create_commit
    CodeCommitResponse.create_branch = create_branch
    _applied = True
