"""CodeCommit's read API on the repositories' git (``git_store``): GetBranch, ListBranches, GetFolder, GetFile,
GetCommit and GetDifferences, with CodeCommit's answers and errors. A ``commitSpecifier`` is a branch name, a
commit id or ``HEAD``, as CodeCommit takes it (default: the repository's default branch)."""

from __future__ import annotations

import base64
import json
import posixpath
from typing import Any

from moto.codecommit.responses import CodeCommitResponse

from smbundle.local.codecommit import git_store
from smbundle.local.codecommit.commits import Refused, answers, where

_applied = False


def _commit(account: str, region: str, name: str, specifier: str | None) -> str:
    specifier = specifier or git_store.default_branch(account, region, name) or "HEAD"
    try:
        return git_store.resolve(account, region, name, specifier)
    except git_store.GitError:
        raise Refused("CommitDoesNotExistException", f"Could not find commit {specifier} in {name}") from None


@answers
def get_branch(self: CodeCommitResponse) -> Any:
    account, region, name = where(self)
    branch = self._get_param("branchName")
    commit_id = git_store.branches(account, region, name).get(branch)
    if commit_id is None:
        raise Refused("BranchDoesNotExistException", f"Branch {branch} does not exist")
    return json.dumps({"branch": {"branchName": branch, "commitId": commit_id}})


@answers
def list_branches(self: CodeCommitResponse) -> Any:
    account, region, name = where(self)
    return json.dumps({"branches": sorted(git_store.branches(account, region, name))})


@answers
def get_folder(self: CodeCommitResponse) -> Any:
    account, region, name = where(self)
    commit_id = _commit(account, region, name, self._get_param("commitSpecifier"))
    folder = (self._get_param("folderPath") or "/").strip("/")
    try:
        children = git_store.entries(account, region, name, commit_id, folder)
    except git_store.GitError:
        raise Refused("FolderDoesNotExistException", f"Folder {folder or '/'} does not exist") from None
    files = [
        {
            "blobId": e.object_id,
            "absolutePath": e.path,
            "relativePath": posixpath.basename(e.path),
            "fileMode": e.file_mode,
        }
        for e in children
        if e.kind == "blob"
    ]
    folders = [
        {"treeId": e.object_id, "absolutePath": e.path, "relativePath": posixpath.basename(e.path)}
        for e in children
        if e.kind == "tree"
    ]
    tree = git_store.git(git_store.path(account, region, name), "rev-parse", f"{commit_id}:{folder}").decode()
    return json.dumps(
        {
            "commitId": commit_id,
            "folderPath": folder or "/",
            "treeId": tree.strip(),
            "files": files,
            "subFolders": folders,
        }
    )


@answers
def get_file(self: CodeCommitResponse) -> Any:
    account, region, name = where(self)
    commit_id = _commit(account, region, name, self._get_param("commitSpecifier"))
    path = (self._get_param("filePath") or "").strip("/")
    try:
        content, entry = git_store.blob(account, region, name, commit_id, path)
    except git_store.GitError:
        raise Refused("FileDoesNotExistException", f"{path} does not exist at {commit_id}") from None
    return json.dumps(
        {
            "commitId": commit_id,
            "blobId": entry.object_id,
            "filePath": path,
            "fileMode": entry.file_mode,
            "fileSize": len(content),
            "fileContent": base64.b64encode(content).decode(),
        }
    )


@answers
def get_commit(self: CodeCommitResponse) -> Any:
    account, region, name = where(self)
    commit_id = self._get_param("commitId")
    try:
        resolved = git_store.resolve(account, region, name, commit_id)
    except git_store.GitError:
        raise Refused(
            "CommitIdDoesNotExistException", f"Commit {commit_id} does not exist in {name}"
        ) from None
    return json.dumps({"commit": git_store.commit_info(account, region, name, resolved)})


@answers
def get_differences(self: CodeCommitResponse) -> Any:
    account, region, name = where(self)
    after = _commit(account, region, name, self._get_param("afterCommitSpecifier"))
    before_specifier = self._get_param("beforeCommitSpecifier")
    before = _commit(account, region, name, before_specifier) if before_specifier else None
    differences = git_store.differences(account, region, name, before, after)
    after_path = (self._get_param("afterPath") or "").strip("/")
    if after_path:
        differences = [
            d
            for d in differences
            if (d.get("afterBlob") or d.get("beforeBlob"))["path"].startswith(f"{after_path}/")
            or (d.get("afterBlob") or d.get("beforeBlob"))["path"] == after_path
        ]
    return json.dumps({"differences": differences})


def apply() -> None:
    global _applied
    if _applied:
        return
    CodeCommitResponse.get_branch = get_branch
    CodeCommitResponse.list_branches = list_branches
    CodeCommitResponse.get_folder = get_folder
    CodeCommitResponse.get_file = get_file
    CodeCommitResponse.get_commit = get_commit
    CodeCommitResponse.get_differences = get_differences
    _applied = True
