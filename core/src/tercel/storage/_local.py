"""Internal storage in a local folder: the embedded default (DESIGN §5)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from tercel.storage._base import FileInfo, PutData
from tercel.storage._errors import FileNotFoundInStorage, StorageError
from tercel.storage._uri import TEMP_PREFIX, split_uri, to_uri

__all__ = ["LocalStorage"]

_COPY_CHUNK = 1 << 20


class LocalStorage:
    """Files under `root`, laid out exactly as their URIs say (``company/team/flow/...``).

    * Writes go to a temporary file in the target folder and are renamed into place
      (``os.replace``), so readers and concurrent writers never see a partial file; with
      ``fsync=True`` the data and the folder entry are flushed to disk first (slower, survives
      power loss).
    * Every URI is validated (`split_uri`), and the resolved path must stay under the root: a
      symlink that leads outside is refused. (The check and the use are not one atomic step; the
      storage root must not be writable by untrusted code.)
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = False) -> None:
        path = Path(root).expanduser()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the storage root {path}: {exc.strerror}") from exc
        self.root = path.resolve()
        self.fsync = fsync
        self._root_text = str(self.root)
        self._root_prefix = self._root_text.rstrip(os.sep) + os.sep

    def __repr__(self) -> str:
        return f"LocalStorage({self._root_text!r})"

    # -- paths ---------------------------------------------------------------------------------

    def _resolve(self, uri: str, *, allow_root: bool = False) -> tuple[tuple[str, ...], Path]:
        segments = split_uri(uri, allow_root=allow_root)
        path = self.root.joinpath(*segments)
        self._check_inside(path, uri)
        return segments, path

    def _check_inside(self, path: Path, uri: str) -> None:
        if not self._inside(path):
            raise StorageError(f"storage URI {uri!r} resolves outside the storage root (a symlink)")

    def _inside(self, path: str | Path) -> bool:
        real = os.path.realpath(path)
        return real == self._root_text or real.startswith(self._root_prefix)

    # -- writing -------------------------------------------------------------------------------

    def put(self, uri: str, data: PutData) -> str:
        segments, target = self._resolve(uri)
        canonical = to_uri(segments)
        if isinstance(data, str):
            raise StorageError(f"put({canonical}): expected bytes, a binary file or a Path, not str")
        with self._errors(canonical):
            tmp, fd = self._create_temp(target, canonical)
            try:
                with os.fdopen(fd, "wb") as out:
                    _write(out, data)
                    if self.fsync:
                        out.flush()
                        os.fsync(out.fileno())
                self._check_inside(target.parent, canonical)
                os.replace(tmp, target)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp)
                raise
            if self.fsync:
                _fsync_dir(target.parent)
        return canonical

    def _create_temp(self, target: Path, uri: str) -> tuple[str, int]:
        """An empty, exclusively created temporary file next to `target`."""
        for _ in range(20):
            # A concurrent delete() may prune the (empty) folders while we create them or before
            # our temporary file lands in them: then just create them again.
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = str(target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}")
                return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except (FileExistsError, NotADirectoryError):
                # Usually a file where a folder should be; but mkdir(exist_ok=True) also says
                # so when the folder it saw vanished before its own check: look again.
                if self._file_in_the_way(target):
                    raise StorageError(f"cannot write {uri}: a parent of it is a file") from None
            except FileNotFoundError:
                pass
        raise StorageError(f"cannot write {uri}: its folder keeps disappearing")

    def _file_in_the_way(self, target: Path) -> bool:
        folder = target.parent
        while folder != self.root:
            try:
                if not stat.S_ISDIR(os.stat(folder).st_mode):  # one call: no exists/is_dir race
                    return True
            except (FileNotFoundError, NotADirectoryError):
                pass  # gone (a concurrent prune), or below a file that the loop will reach
            folder = folder.parent
        return False

    # -- reading -------------------------------------------------------------------------------

    def open(self, uri: str) -> BinaryIO:
        segments, path = self._resolve(uri)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileNotFoundInStorage(to_uri(segments)) from None
        except OSError as exc:
            raise StorageError(f"cannot read {to_uri(segments)}: {exc.strerror}") from exc

    def get_bytes(self, uri: str) -> bytes:
        with self.open(uri) as fp:
            return fp.read()

    def exists(self, uri: str) -> bool:
        _, path = self._resolve(uri)
        return path.is_file()

    def size(self, uri: str) -> int:
        return self.local_path(uri).stat().st_size

    def local_path(self, uri: str) -> Path:
        segments, path = self._resolve(uri)
        if not path.is_file():
            raise FileNotFoundInStorage(to_uri(segments))
        return path

    def list(self, prefix: str) -> list[FileInfo]:
        segments, path = self._resolve(prefix, allow_root=True)
        if path.is_file():
            return [self._info(segments, path)]
        if not path.is_dir():
            return []
        found: list[FileInfo] = []
        for folder, dirs, files in os.walk(path, followlinks=False):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
            base = Path(folder).relative_to(self.root).parts
            for name in files:
                full = os.path.join(folder, name)
                if name.startswith(TEMP_PREFIX) or not self._inside(full):
                    continue
                with suppress(FileNotFoundError):  # deleted while we walked
                    found.append(self._info((*base, name), Path(full)))
        found.sort(key=lambda info: info.path)
        return found

    def _info(self, segments: tuple[str, ...], path: Path) -> FileInfo:
        stat = path.stat()
        return FileInfo(
            uri=to_uri(segments),
            path="/".join(segments),
            size=stat.st_size,
            modified=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

    # -- deleting ------------------------------------------------------------------------------

    def delete(self, uri: str) -> bool:
        segments, path = self._resolve(uri)
        if path.is_dir() and not path.is_symlink():
            raise StorageError(f"{to_uri(segments)} is a folder; use delete_prefix() to remove it")
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise StorageError(f"cannot delete {to_uri(segments)}: {exc.strerror}") from exc
        self._prune(path.parent)
        return True

    def delete_prefix(self, prefix: str) -> int:
        segments, path = self._resolve(prefix)  # the whole root cannot be deleted this way
        if path.is_symlink() or path.is_file():
            return int(self.delete(prefix))
        if not path.is_dir():
            return 0
        count = 0
        with self._errors(to_uri(segments)):
            for folder, dirs, files in os.walk(path, topdown=False, followlinks=False):
                for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
                    with suppress(FileNotFoundError):
                        os.unlink(os.path.join(folder, name))
                        count += not name.startswith(TEMP_PREFIX)
                with suppress(OSError):  # not empty: a concurrent put just created a file
                    os.rmdir(folder)
        self._prune(path.parent)
        return count

    def _prune(self, folder: Path) -> None:
        """Remove now-empty folders from `folder` up to (not including) the root."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    @contextmanager
    def _errors(self, uri: str) -> Iterator[None]:
        try:
            yield
        except StorageError:
            raise
        except IsADirectoryError:
            raise StorageError(f"cannot write {uri}: a folder of that name exists") from None
        except OSError as exc:
            detail = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
            raise StorageError(f"storage operation on {uri} failed: {detail}") from exc


def _write(out: BinaryIO, data: PutData) -> None:
    if isinstance(data, bytes | bytearray | memoryview):
        out.write(data)
    elif isinstance(data, os.PathLike):
        with open(data, "rb") as source:
            shutil.copyfileobj(source, out, _COPY_CHUNK)
    elif hasattr(data, "read"):
        shutil.copyfileobj(data, out, _COPY_CHUNK)
    else:
        raise StorageError(f"put() expects bytes, a binary file or a Path, not {type(data).__name__}")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
