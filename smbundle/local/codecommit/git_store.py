"""CodeCommit repositories as real git repositories: one bare repository on disk per CodeCommit repository.

Everything that reads or writes a repository goes through git itself: the API's reads (``ls-tree``, ``cat-file``,
``diff-tree``), its commits (``PutFile``, ``CreateCommit``: a temporary index, ``write-tree``, ``commit-tree`` and a
compare-and-swap ``update-ref``, so a commit on a stale parent is refused), the seed code CloudFormation commits when it
creates a repository, the pipelines' source action (``archive``) and, through ``git http-backend``, ``git clone``
and ``git push`` (``git_http``). Repositories live in a directory of the embedded AWS (removed when it stops), under
``<account>/<region>/<name>.git``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# Who commits the seed code when CloudFormation creates a repository with Code.
SEED_AUTHOR = ("AWS CodeCommit", "noreply@amazonaws.com")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

_root: Path | None = None
_lock = threading.Lock()


class GitError(Exception):
    """git refused (a missing commit, a stale parent...); the message is git's own."""


def root() -> Path:
    global _root
    with _lock:
        if _root is None:
            _root = Path(tempfile.mkdtemp(prefix="smbundle-git-"))
        return _root


def reset() -> None:
    """Forget every repository (a new embedded AWS starts with none)."""
    global _root
    with _lock:
        if _root is not None:
            shutil.rmtree(_root, ignore_errors=True)
        _root = None


def path(account: str, region: str, name: str) -> Path:
    return root() / account / region / f"{name}.git"


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """git's environment: nothing of the user's git configuration, no prompts."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root()),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "LANG": "C",
    }
    env.update(extra or {})
    return env


def git(repository: Path, *args: str, data: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    done = subprocess.run(
        ["git", f"--git-dir={repository}", *args],
        input=data,
        capture_output=True,
        env=environment(env),
        check=False,
    )
    if done.returncode != 0:
        raise GitError(done.stderr.decode(errors="replace").strip() or f"git {args[0]} failed")
    return done.stdout


def _when(moment: datetime | None = None) -> str:
    return f"{int((moment or datetime.now(UTC)).timestamp())} +0000"


def _identity(name: str, email: str) -> dict[str, str]:
    moment = _when()
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": moment,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": moment,
    }


# -- repositories -------------------------------------------------------------------------------------------------
def create(account: str, region: str, name: str) -> Path:
    repository = path(account, region, name)
    repository.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", str(repository)],
        check=True,
        env=environment(),
        capture_output=True,
    )
    git(
        repository, "config", "http.receivepack", "true"
    )  # pushes are authorized by the embedded IAM, not git
    git(repository, "config", "uploadpack.allowAnySHA1InWant", "true")
    return repository


def rename(account: str, region: str, old: str, new: str) -> None:
    source = path(account, region, old)
    if source.exists():
        source.rename(path(account, region, new))


def delete(account: str, region: str, name: str) -> None:
    shutil.rmtree(path(account, region, name), ignore_errors=True)


def seed(account: str, region: str, name: str, archive: bytes, branch: str) -> str:
    """The seed code (a zip) as the first commit of ``branch``, as CloudFormation's ``Code`` makes it."""
    files = {}
    with zipfile.ZipFile(io.BytesIO(archive)) as content:
        for info in content.infolist():
            if not info.is_dir():
                executable = bool((info.external_attr >> 16) & 0o111)
                files[info.filename] = (content.read(info), executable)
    return commit(
        account, region, name, branch, None, files, [], "Initial commit", *SEED_AUTHOR, create_branch=True
    )


# -- reading ------------------------------------------------------------------------------------------------------
def branches(account: str, region: str, name: str) -> dict[str, str]:
    """Branch name -> commit id."""
    out = git(
        path(account, region, name), "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads"
    )
    return dict(line.split(" ", 1) for line in out.decode().splitlines() if line)


def default_branch(account: str, region: str, name: str) -> str | None:
    try:
        ref = git(path(account, region, name), "symbolic-ref", "--short", "HEAD").decode().strip()
    except GitError:
        return None
    return ref if ref in branches(account, region, name) else None


def resolve(account: str, region: str, name: str, specifier: str) -> str:
    """A branch name, a commit id (or a prefix), or HEAD, as a commit id; GitError when there is none."""
    repository = path(account, region, name)
    for candidate in (f"refs/heads/{specifier}", specifier):
        try:
            return (
                git(repository, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}")
                .decode()
                .strip()
            )
        except GitError:
            continue
    raise GitError(f"{specifier} is not a branch or commit of {name}")


@dataclass(frozen=True)
class Entry:
    mode: str
    kind: str  # blob | tree | commit
    object_id: str
    path: str

    @property
    def file_mode(self) -> str:
        return {"100755": "EXECUTABLE", "120000": "SYMLINK"}.get(self.mode, "NORMAL")


def entries(account: str, region: str, name: str, commit_id: str, folder: str = "") -> list[Entry]:
    """The folder's direct children at ``commit_id``."""
    spec = f"{commit_id}:{folder.strip('/')}" if folder.strip("/") else commit_id
    out = git(path(account, region, name), "ls-tree", "-z", spec)
    found = []
    for record in out.decode().split("\0"):
        if record:
            info, _, item = record.partition("\t")
            mode, kind, object_id = info.split(" ")
            found.append(Entry(mode, kind, object_id, f"{folder.strip('/')}/{item}".lstrip("/")))
    return found


def blob(account: str, region: str, name: str, commit_id: str, file_path: str) -> tuple[bytes, Entry]:
    folder, _, base = file_path.strip("/").rpartition("/")
    entry = next(
        (e for e in entries(account, region, name, commit_id, folder) if e.path == file_path.strip("/")), None
    )
    if entry is None or entry.kind != "blob":
        raise GitError(f"{file_path} does not exist at {commit_id}")
    return git(path(account, region, name), "cat-file", "blob", entry.object_id), entry


def commit_info(account: str, region: str, name: str, commit_id: str) -> dict:
    """GetCommit's ``commit``: ids, tree, parents, message, author and committer."""
    out = git(path(account, region, name), "cat-file", "commit", commit_id).decode()
    header, _, message = out.partition("\n\n")
    info: dict = {"commitId": commit_id, "parents": [], "message": message, "additionalData": ""}
    for line in header.splitlines():
        key, _, value = line.partition(" ")
        if key == "tree":
            info["treeId"] = value
        elif key == "parent":
            info["parents"].append(value)
        elif key in ("author", "committer"):
            person, _, stamp = value.rpartition("> ")
            who, _, email = person.partition(" <")
            info[key] = {"name": who, "email": email, "date": stamp}
    return info


def differences(account: str, region: str, name: str, before: str | None, after: str) -> list[dict]:
    """GetDifferences' ``differences`` between two commits (``before`` None: from the empty tree)."""
    out = git(
        path(account, region, name), "diff-tree", "-r", "-z", "--no-renames", before or EMPTY_TREE, after
    ).decode()
    fields = [f for f in out.split("\0") if f]
    found = []
    for meta, file_path in zip(fields[::2], fields[1::2], strict=False):
        old_mode, new_mode, old_id, new_id, status = meta.lstrip(":").split(" ")
        change = {"A": "A", "D": "D"}.get(status[0], "M")
        entry = {"changeType": change}
        if change != "A":
            entry["beforeBlob"] = {"blobId": old_id, "path": file_path, "mode": old_mode}
        if change != "D":
            entry["afterBlob"] = {"blobId": new_id, "path": file_path, "mode": new_mode}
        found.append(entry)
    return found


def archive(account: str, region: str, name: str, commit_id: str, target: Path) -> int:
    """The files of ``commit_id`` written into ``target`` (what a source action hands on); returns their count."""
    data = git(path(account, region, name), "archive", "--format=tar", commit_id)
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                destination = target / member.name
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(tar.extractfile(member).read())
                destination.chmod(member.mode & 0o777)
                count += 1
    return count


# -- writing ------------------------------------------------------------------------------------------------------
def commit(
    account: str,
    region: str,
    name: str,
    branch: str,
    parent: str | None,
    puts: dict[str, tuple[bytes, bool]],
    deletes: list[str],
    message: str,
    author: str,
    email: str,
    *,
    create_branch: bool = False,
) -> str:
    """A commit on ``branch`` whose parent is ``parent`` (its current head; None for a new branch), with files
    put (path -> (content, executable)) and deleted; the branch moves only if it still points at ``parent``."""
    repository = path(account, region, name)
    with tempfile.TemporaryDirectory() as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        if parent:
            git(repository, "read-tree", parent, env=env)
        entries = [f"0 {'0' * 40}\t{file_path.strip('/')}" for file_path in deletes]  # mode 0 removes a path
        for file_path, (content, executable) in puts.items():
            object_id = git(repository, "hash-object", "-w", "--stdin", data=content).decode().strip()
            entries.append(f"{'100755' if executable else '100644'} {object_id}\t{file_path.strip('/')}")
        if entries:
            git(
                repository, "update-index", "--index-info", data=("\n".join(entries) + "\n").encode(), env=env
            )
        tree = git(repository, "write-tree", env=env).decode().strip()
    arguments = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
    created = git(repository, *arguments, env=_identity(author, email)).decode().strip()
    expected = parent or "0" * 40
    git(repository, "update-ref", f"refs/heads/{branch}", created, expected)
    if create_branch and default_branch(account, region, name) is None:
        git(repository, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
    return created


def tree_of(account: str, region: str, name: str, commit_id: str) -> str:
    return git(path(account, region, name), "rev-parse", f"{commit_id}^{{tree}}").decode().strip()
