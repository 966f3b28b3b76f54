"""CodeCommit repositories with content: ``AWS::CodeCommit::Repository`` seeded from ``Code.S3``.

moto's CodeCommit knows only repository metadata. Here a repository created by CloudFormation keeps the seed
zip it was created from (read from the embedded S3, as CodeCommit does at creation: a missing object fails the
stack), and GetBranch/GetFolder/GetFile serve that content (ListRepositories lists them), so a client can read the branch
through the API as it would read any CodeCommit repository. The local pipeline runner's source action reads the branch
inside the service, as CodePipeline's does (``extract_branch``).

A stack update changes the repository in place: a new ``RepositoryName`` renames it (UpdateRepositoryName, its
content kept), a new description is set. ``Code`` is used only when the repository is created, as CloudFormation
documents: an update with other seed code leaves the branch and its commits as they are.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import posixpath
import zipfile
from pathlib import Path
from typing import Any

from moto.codecommit.models import codecommit_backends
from moto.codecommit.responses import CodeCommitResponse
from moto.core.common_models import CloudFormationModel

from smbundle.local.cfn_support import refresh_model_map
from smbundle.local.s3 import objects


class SeededRepository(CloudFormationModel):
    __module__ = "moto.codecommit.cfn_ext"

    def __init__(self, account_id: str, region: str, name: str, metadata: dict):
        self.account_id, self.region, self.name, self.metadata = account_id, region, name, metadata

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeCommit::Repository"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "RepositoryName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Name", "CloneUrlHttp", "CloneUrlSsh")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return {
            "Arn": self.metadata["Arn"],
            "Name": self.name,
            "CloneUrlHttp": self.metadata["cloneUrlHttp"],
            "CloneUrlSsh": self.metadata["cloneUrlSsh"],
        }[attribute_name]

    @property
    def physical_resource_id(self) -> str:
        return self.metadata["repositoryId"]

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("RepositoryName", resource_name)
        backend = codecommit_backends[account_id][region_name]
        code = properties.get("Code")
        seed = None
        if code:
            s3 = code["S3"]
            uri = f"s3://{s3['Bucket']}/{s3['Key']}"
            seed = objects.get_bytes(uri, account_id)  # fails the stack when the seed is missing, as on AWS
            zipfile.ZipFile(io.BytesIO(seed)).testzip()
        metadata = backend.create_repository(name, properties.get("RepositoryDescription", ""))
        repository = backend.repositories[name]
        repository.branches = {}
        if seed is not None:
            branch = code.get("BranchName", "main")
            repository.branches[branch] = seed
            metadata["defaultBranch"] = branch
        return cls(account_id, region_name, name, metadata)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        properties = cloudformation_json["Properties"]
        backend = codecommit_backends[account_id][region_name]
        name = properties.get("RepositoryName", original_resource.name)
        repository = backend.repositories[original_resource.name]
        metadata = repository.repository_metadata
        if name != original_resource.name:  # UpdateRepositoryName: same repository, id and content
            fresh = backend.create_repository(name, metadata["repositoryDescription"])
            del backend.repositories[name]
            for key in ("repositoryName", "cloneUrlSsh", "cloneUrlHttp", "Arn"):
                metadata[key] = fresh[key]
            backend.repositories[name] = backend.repositories.pop(original_resource.name)
        metadata["repositoryDescription"] = properties.get("RepositoryDescription", "")
        return cls(account_id, region_name, name, metadata)

    def delete(self, account_id: str, region_name: str) -> None:
        codecommit_backends[account_id][region_name].delete_repository(self.name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        codecommit_backends[account_id][region_name].delete_repository(resource_name)


def _archive(repository, branch: str) -> zipfile.ZipFile:
    branches = getattr(repository, "branches", {})
    if branch not in branches:
        raise KeyError(branch)
    return zipfile.ZipFile(io.BytesIO(branches[branch]))


def _commit_id(repository, branch: str) -> str:
    return hashlib.sha1(repository.branches[branch]).hexdigest()


def _error(code: str, message: str) -> tuple[int, dict, str]:
    return 400, {"status": 400, "x-amzn-ErrorType": code}, json.dumps({"__type": code, "message": message})


def _repository(response: CodeCommitResponse, name: str):
    return response.codecommit_backend.repositories.get(name)


def get_branch(self: CodeCommitResponse) -> Any:
    repository = _repository(self, self._get_param("repositoryName"))
    branch = self._get_param("branchName")
    if repository is None:
        return _error(
            "RepositoryDoesNotExistException", f"{self._get_param('repositoryName')} does not exist"
        )
    if branch not in getattr(repository, "branches", {}):
        return _error("BranchDoesNotExistException", f"Branch {branch} does not exist")
    return json.dumps({"branch": {"branchName": branch, "commitId": _commit_id(repository, branch)}})


def get_folder(self: CodeCommitResponse) -> Any:
    repository = _repository(self, self._get_param("repositoryName"))
    branch = self._get_param("commitSpecifier") or "main"
    folder = (self._get_param("folderPath") or "/").strip("/")
    if repository is None:
        return _error("RepositoryDoesNotExistException", "repository does not exist")
    try:
        names = _archive(repository, branch).namelist()
    except KeyError:
        return _error("CommitDoesNotExistException", f"{branch} does not exist")
    prefix = f"{folder}/" if folder else ""
    files, folders = [], set()
    for name in names:
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        rest = name[len(prefix) :]
        if "/" in rest:
            folders.add(prefix + rest.split("/", 1)[0])
        else:
            files.append({"absolutePath": name, "relativePath": rest, "fileMode": "NORMAL"})
    sub_folders = [{"absolutePath": f, "relativePath": posixpath.basename(f)} for f in sorted(folders)]
    return json.dumps(
        {
            "commitId": _commit_id(repository, branch),
            "folderPath": folder or "/",
            "files": files,
            "subFolders": sub_folders,
        }
    )


def get_file(self: CodeCommitResponse) -> Any:
    repository = _repository(self, self._get_param("repositoryName"))
    branch = self._get_param("commitSpecifier") or "main"
    path = self._get_param("filePath").lstrip("/")
    if repository is None:
        return _error("RepositoryDoesNotExistException", "repository does not exist")
    try:
        content = _archive(repository, branch).read(path)
    except KeyError:
        return _error("FileDoesNotExistException", f"{path} does not exist in {branch}")
    return json.dumps(
        {
            "commitId": _commit_id(repository, branch),
            "blobId": hashlib.sha1(content).hexdigest(),
            "filePath": path,
            "fileMode": "NORMAL",
            "fileSize": len(content),
            "fileContent": base64.b64encode(content).decode(),
        }
    )


def list_repositories(self: CodeCommitResponse) -> Any:
    repositories = sorted(
        self.codecommit_backend.repositories.values(), key=lambda r: r.repository_metadata["repositoryName"]
    )
    order = self._get_param("order") or "ascending"
    if order == "descending":
        repositories.reverse()
    return json.dumps(
        {
            "repositories": [
                {
                    "repositoryName": r.repository_metadata["repositoryName"],
                    "repositoryId": r.repository_metadata["repositoryId"],
                }
                for r in repositories
            ]
        }
    )


def extract_branch(account_id: str, region: str, repository_name: str, branch: str, target: Path) -> int:
    """Write a branch's files into ``target``, as CodePipeline's source action archives it (inside AWS, not
    through the public API: the pipeline role is authorized for the archive by the caller); returns the count."""
    repository = codecommit_backends[account_id][region].repositories.get(repository_name)
    if repository is None:
        raise KeyError(f"repository {repository_name} does not exist")
    archive = _archive(repository, branch)
    names = [name for name in archive.namelist() if not name.endswith("/")]
    archive.extractall(target, members=names)
    return len(names)


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    CodeCommitResponse.get_branch = get_branch
    CodeCommitResponse.get_folder = get_folder
    CodeCommitResponse.get_file = get_file
    CodeCommitResponse.list_repositories = list_repositories
    refresh_model_map()
    _applied = True
