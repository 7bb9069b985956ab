"""`/api/v1/namespaces/{namespace}/files`: the file tree of a namespace, with Kestra's paths.

Paths are written from the namespace root, with or without a leading ``/`` (``/scripts/etl.py``);
``..``, ``//``, NUL and control characters, backslashes and URIs are refused (422) with what is
wrong, so a request never reaches outside the namespace. Folders answer Kestra's `FileAttributes`
(`fileName`, `type` File/Directory, `size`, `lastModifiedTime`/`creationTime` in epoch
milliseconds), plus the entry's `path`.

Folders exist through the files in them, as in an object store (see `tercel.storage.NamespaceFiles`):
`POST .../files/directory` checks the folder can exist and answers it, but an empty folder is not
listed until a file lands in it, and deleting a folder's last file makes the folder disappear.

An uploaded file named ``*.zip`` is unpacked (Kestra's import): its files go under the folder of
`path` (or `path` itself when it ends with ``/``), every name checked before anything is written.
"""

from __future__ import annotations

import io
import zipfile
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import File
from tercel.runtime import Runtime
from tercel.storage import FileNotFoundInStorage, NamespaceFileError, NamespaceFiles

from .._errors import ApiError, Conflict, NotFound
from .._namespace_files import (
    api_path,
    children,
    display,
    file_attributes,
    folder_attributes,
    zip_plan,
)
from .._requests import read_form

__all__ = ["NamespaceFilesController"]

_UPLOAD_PART = "fileContent"


class InvalidPath(ApiError):
    status_code = 422


def _path(raw: str | None, *, folder: bool = False) -> str:
    try:
        return api_path(raw, folder=folder)
    except NamespaceFileError as exc:
        raise InvalidPath(str(exc)) from None


def _files(runtime: Runtime, namespace: str) -> NamespaceFiles:
    files = NamespaceFiles(runtime.storage)
    try:
        files.root_uri(namespace)  # validates the namespace
    except NamespaceFileError as exc:
        raise InvalidPath(str(exc)) from None
    return files


def _under(files: NamespaceFiles, namespace: str, folder: str) -> list[Any]:
    """Every file under a folder (recursively); empty when there is no such folder."""
    return files.list(namespace, folder)


def _is_file(files: NamespaceFiles, namespace: str, path: str) -> bool:
    return bool(path) and files.exists(namespace, path)


def _file_in_the_way(files: NamespaceFiles, namespace: str, path: str) -> str | None:
    """A file standing where a folder of `path` would have to be (``a`` for ``a/b/c``), if any."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        candidate = "/".join(parts[:i])
        if files.exists(namespace, candidate):
            return candidate
    return None


def _check_writable(files: NamespaceFiles, namespace: str, path: str) -> None:
    blocker = _file_in_the_way(files, namespace, path)
    if blocker is not None:
        raise Conflict(f"cannot write {display(path)}: {display(blocker)} is a file, not a folder")
    if _under(files, namespace, path):
        raise Conflict(f"cannot write {display(path)}: a folder of that name exists")


def _missing(namespace: str, path: str) -> NotFound:
    return NotFound(f"no file or folder {display(path)} in namespace {namespace!r}")


def _attachment(filename: str) -> str:
    """The `Content-Disposition` of a download named `filename`, whatever its characters (a
    namespace may hold any): quoted when it is plain ASCII, else RFC 6266's `filename*` (UTF-8,
    percent-encoded), as headers carry Latin-1 only."""
    if filename.isascii() and filename.isprintable() and not any(ch in filename for ch in '"\\'):
        return f'attachment; filename="{filename}"'
    return "attachment; filename*=UTF-8''" + quote(filename.encode("utf-8", "replace"), safe="")


class NamespaceFilesController(Controller):
    path = "/api/v1/namespaces/{namespace:str}/files"
    tags = ["Namespace files"]

    @get("/", summary="Download a namespace file", media_type="application/octet-stream")
    async def download(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        path: Annotated[str, QueryParameter(description="The file, from the namespace root: /scripts/etl.py")],
    ) -> File:
        files = _files(runtime, namespace)
        relative = _path(path)
        try:
            uri = files.uri(namespace, relative)
        except NamespaceFileError as exc:  # the storage's own limits (name lengths)
            raise InvalidPath(str(exc)) from None
        try:
            local = runtime.storage.local_path(uri)
        except FileNotFoundInStorage:
            if _under(files, namespace, relative):
                raise ApiError(
                    f"{display(relative)} is a folder: list it with GET /api/v1/namespaces/{namespace}/files/directory?path={display(relative)}"
                ) from None
            raise _missing(namespace, relative) from None
        return File(
            local, filename=relative.rsplit("/", 1)[-1], media_type="application/octet-stream",
            headers={"Cache-Control": "no-cache"},
        )

    @get("/stats", summary="Size, dates and type (File or Directory) of a file or folder")
    async def stats(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        path: Annotated[str | None, QueryParameter(description="From the namespace root; the root when absent")] = None,
    ) -> dict[str, Any]:
        files = _files(runtime, namespace)
        relative = _path(path, folder=True)
        if _is_file(files, namespace, relative):
            return file_attributes(files.info(namespace, relative))
        under = _under(files, namespace, relative)
        if not relative or under:
            return folder_attributes(relative, under)
        raise _missing(namespace, relative)

    @get("/directory", summary="The entries of a folder (the namespace root when no path)")
    async def list_directory(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        path: Annotated[str | None, QueryParameter(description="The folder, from the namespace root")] = None,
    ) -> list[dict[str, Any]]:
        files = _files(runtime, namespace)
        relative = _path(path, folder=True)
        under = _under(files, namespace, relative)
        if relative and not under:
            if _is_file(files, namespace, relative):
                raise ApiError(f"{display(relative)} is a file, not a folder: download it with GET /api/v1/namespaces/{namespace}/files?path={display(relative)}")
            raise NotFound(f"no folder {display(relative)} in namespace {namespace!r}")
        return children(relative, under)

    @post("/directory", status_code=200, summary="Create a folder (folders live through their files)")
    async def create_directory(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        path: Annotated[str | None, QueryParameter(description="The folder, from the namespace root")] = None,
    ) -> dict[str, Any]:
        files = _files(runtime, namespace)
        relative = _path(path, folder=True)
        if relative:
            blocker = _file_in_the_way(files, namespace, relative + "/x")
            if blocker is not None:
                raise Conflict(f"cannot create the folder {display(relative)}: {display(blocker)} is a file")
        return folder_attributes(relative, _under(files, namespace, relative))

    @get("/search", summary="Paths of the files whose path contains a text")
    async def search(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        q: Annotated[str, QueryParameter(description="Text the path contains (case-insensitive)")] = "",
    ) -> list[str]:
        files = _files(runtime, namespace)
        needle = q.lower()
        return [display(f.path) for f in files.list(namespace) if needle in f.path.lower()]

    @get("/export", summary="Every file of the namespace as a zip archive", media_type="application/zip")
    async def export(self, runtime: NamedDependency[Runtime], namespace: FromPath[str]) -> Response[bytes]:
        files = _files(runtime, namespace)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for info in files.list(namespace):
                with files.open(namespace, info.path) as source, archive.open(info.path, "w") as target:
                    while chunk := source.read(1 << 20):
                        target.write(chunk)
        filename = f"{namespace}_files.zip"
        return Response(
            buffer.getvalue(), media_type="application/zip",
            headers={"Content-Disposition": _attachment(filename), "Cache-Control": "no-cache"},
        )

    @post("/", status_code=200, summary="Upload a file (multipart part `fileContent`); a .zip is unpacked")
    async def upload(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        path: Annotated[str | None, QueryParameter(description="Where to put it, from the namespace root; a folder when it ends with /")] = None,
    ) -> list[dict[str, Any]]:
        files = _files(runtime, namespace)
        kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if kind != "multipart/form-data":
            raise ApiError(f"send the file as multipart/form-data (part {_UPLOAD_PART!r}), not {kind or 'no content type'}")
        form = await read_form(request)
        upload = form.get(_UPLOAD_PART)
        if upload is None or not hasattr(upload, "read"):
            raise ApiError(f"the multipart body has no file part named {_UPLOAD_PART!r}")
        filename = upload.filename or ""
        as_folder = path is None or path.endswith("/")
        folder = _path(path, folder=True) if as_folder else _path(path).rpartition("/")[0]
        if filename.lower().endswith(".zip"):
            return self._unzip(files, namespace, folder, upload.file)
        if as_folder:
            if not filename:
                raise ApiError("the uploaded file has no name: give its path with ?path=")
            target = _path(f"{folder}/{filename}" if folder else filename)
        else:
            target = _path(path)
        _check_writable(files, namespace, target)
        return [file_attributes(files.put(namespace, target, upload.file))]

    def _unzip(self, files: NamespaceFiles, namespace: str, folder: str, data: Any) -> list[dict[str, Any]]:
        try:
            archive = zipfile.ZipFile(data)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ApiError(f"the uploaded .zip is not a zip archive: {exc}") from None
        with archive:
            try:
                plan = zip_plan(archive, folder)
            except NamespaceFileError as exc:
                raise InvalidPath(str(exc)) from None
            except ValueError as exc:
                raise ApiError(str(exc)) from None
            for entry in plan:
                _check_writable(files, namespace, entry.path)
            created = []
            for entry in plan:
                try:
                    with archive.open(entry.member) as member:
                        created.append(file_attributes(files.put(namespace, entry.path, member)))
                except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:  # damaged, or encrypted
                    raise ApiError(f"{entry.member.filename!r} cannot be read from the archive: {exc}") from None
        return created

    @put("/", summary="Move (rename) a file or a folder")
    async def move(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        source: Annotated[str, QueryParameter(name="from", description="The file or folder to move")],
        target: Annotated[str, QueryParameter(name="to", description="Its new path")],
    ) -> list[dict[str, str]]:
        files = _files(runtime, namespace)
        src = _path(source, folder=True)
        dst = _path(target, folder=True)
        if not src or not dst:
            raise InvalidPath("the namespace root cannot be moved, nor anything moved onto it")
        if src == dst:
            raise ApiError(f"{display(src)} is already there: from and to are the same")
        if _is_file(files, namespace, src):
            moves = [(src, dst)]
        else:
            under = _under(files, namespace, src)
            if not under:
                raise _missing(namespace, src)
            if dst.startswith(src + "/"):
                raise ApiError(f"cannot move the folder {display(src)} into itself ({display(dst)})")
            moves = [(f.path, dst + f.path[len(src):]) for f in under]
        for _, new in moves:  # every target checked before anything moves
            _check_writable(files, namespace, new)
            if files.exists(namespace, new):
                raise Conflict(f"cannot move to {display(new)}: a file is already there (delete it first)")
        for old, new in moves:
            with files.open(namespace, old) as data:
                files.put(namespace, new, data)
            files.delete(namespace, old)
        return [{"from": display(old), "to": display(new)} for old, new in moves]

    @delete("/", summary="Delete a file, or a folder with everything in it")
    async def remove(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        path: Annotated[str, QueryParameter(description="The file or folder, from the namespace root")],
    ) -> None:
        files = _files(runtime, namespace)
        relative = _path(path, folder=True)
        if not relative:
            raise InvalidPath("the namespace root cannot be deleted: delete its files and folders one by one")
        if _is_file(files, namespace, relative):
            files.delete(namespace, relative)
        elif files.delete_folder(namespace, relative) == 0:
            raise _missing(namespace, relative)
