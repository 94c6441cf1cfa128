"""Package a handler folder: only its own files, byte-for-byte the same zip on every machine.

A function's package is its handler folder and nothing else: Powertools comes from the public
layer and boto3 from the runtime, so the zip stays small (cold starts grow with package size)
and a change to one service's handler never republishes another service's function.

Every import of the packaged code must resolve in Lambda: to a module of the zip, the standard
library, the runtime's AWS SDK or the Powertools layer. Anything else (a shared module whose
``shared.txt`` did not ship, a library never declared) stops packaging with a
:class:`PackagingError` instead of a function that fails its first invocation with
``Runtime.ImportModuleError``.
"""

from __future__ import annotations

import ast
import hashlib
import io
import sys
import zipfile
from pathlib import Path

from arcblueprint.code_calls import PERMISSIONS_FILE

__all__ = [
    "LAYER_MODULES",
    "MAX_UNZIPPED_BYTES",
    "MAX_ZIPPED_BYTES",
    "RUNTIME_MODULES",
    "PackagingError",
    "imported_modules",
    "package_files",
    "package_sha256",
    "package_size",
    "package_zip",
]

#: Standard-library modules gone from the Lambda runtimes the blueprint allows (python3.12, python3.13),
#: though the build machine's Python may still have them: 3.12 removed distutils, imp, asynchat,
#: asyncore and smtpd; 3.13 removed the PEP 594 "dead batteries" and lib2to3.
_REMOVED_BY_312_313 = frozenset(
    {
        "distutils",
        "imp",
        "asynchat",
        "asyncore",
        "smtpd",
        "aifc",
        "audioop",
        "cgi",
        "cgitb",
        "chunk",
        "crypt",
        "imghdr",
        "mailcap",
        "msilib",
        "nis",
        "nntplib",
        "ossaudiodev",
        "pipes",
        "sndhdr",
        "spwd",
        "sunau",
        "telnetlib",
        "uu",
        "xdrlib",
        "lib2to3",
    }
)
#: What a handler can import from the standard library in every runtime the blueprint allows.
LAMBDA_STDLIB = frozenset(sys.stdlib_module_names) - _REMOVED_BY_312_313

#: Folders and files that are build or editor leftovers, never code.
_SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", "node_modules"})
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})
#: 1980-01-01, the earliest time a zip entry can hold: fixed so the zip's bytes depend on content only.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


#: Lambda's deployment package quotas (``GetAccountSettings`` ``CodeSizeZipped``/``CodeSizeUnzipped``): the zip
#: uploaded directly (as Pulumi uploads it, without S3) and the package once extracted. Layers count toward the
#: extracted size too, so a package near the limit still fails with the Powertools layer on top.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024


class PackagingError(ValueError):
    """The handler folder cannot be packaged (missing, empty, or without the handler module)."""


#: A handler folder may list, one per line, modules shared with other functions (paths relative to
#: the folder); each is packaged at the zip root, next to the handler. JSON files may be listed too
#: (the domain event schemas a function validates against before it publishes).
SHARED_LIST = "shared.txt"
#: What a shared entry may be: Python modules and JSON documents.
SHARED_SUFFIXES = (".py", ".json")


def shared_modules(code_dir: Path) -> list[Path]:
    """The shared modules and JSON files ``code_dir/shared.txt`` names (blank lines and ``#`` comments skipped)."""
    listing = Path(code_dir) / SHARED_LIST
    if not listing.is_file():
        return []
    modules = []
    for line in listing.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        path = (Path(code_dir) / entry).resolve()
        if not path.is_file() or path.suffix not in SHARED_SUFFIXES:
            raise PackagingError(
                f"{SHARED_LIST} of {str(code_dir)!r} names {entry!r}, which is not a Python file (nor a JSON document)"
            )
        modules.append(path)
    return modules


#: What the Lambda Python runtime provides besides the standard library: the AWS SDK.
RUNTIME_MODULES = frozenset({"boto3", "botocore"})
#: What the public Powertools layer (``layers.py``) holds: Powertools, its dependencies and every
#: extra of ``aws-lambda-powertools[all]`` (Powertools' docs: the layer ships all extras).
LAYER_MODULES = frozenset(
    {
        "aws_lambda_powertools",
        "jmespath",
        "typing_extensions",  # core
        "aws_xray_sdk",
        "fastjsonschema",
        "pydantic",
        "pydantic_settings",  # tracer, validation, parser
        "aws_encryption_sdk",
        "jsonpath_ng",
        "cryptography",
        "jwt",
        "urllib3",  # datamasking, jwt, oauth2
    }
)


def imported_modules(source: str, filename: str = "<handler>") -> set[str]:
    """Top-level names of the modules ``source`` imports when it runs.

    Relative imports are left out (they name the package's own files), and so are imports that
    cannot run: under ``if TYPE_CHECKING:`` or in a ``try`` whose handler catches ``ImportError``.
    """
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".", 1)[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and node.module:
                    found.add(node.module.split(".", 1)[0])
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.orelse)
            elif isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
                for handler in node.handlers:  # the fallback imports must resolve
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            else:  # functions, classes, with, loops, ifs: their imports run when they do
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        visit([child])
                    elif isinstance(child, ast.ExceptHandler | ast.match_case):
                        visit(child.body)

    visit(ast.parse(source, filename=filename).body)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)


def _check_imports(files: list[tuple[str, Path]], root: Path) -> None:
    """Every import of the packaged code resolves in Lambda, or one line says which does not and where."""
    packaged = {name.split("/", 1)[0].removesuffix(".py") for name, _ in files if name.endswith(".py") or "/" in name}
    available = packaged | LAMBDA_STDLIB | RUNTIME_MODULES | LAYER_MODULES
    for name, path in files:
        if not name.endswith(".py"):
            continue
        missing = sorted(imported_modules(path.read_text(encoding="utf-8"), name) - available)
        if missing:
            raise PackagingError(
                f"{name} in the package of {str(root)!r} imports {', '.join(missing)}, which is neither in the "
                f"package, the standard library, the Lambda runtime ({', '.join(sorted(RUNTIME_MODULES))}) nor "
                f"the Powertools layer; ship it with the handler (a module shared with other functions is listed "
                f"in {SHARED_LIST}, and the package must include {SHARED_LIST} files)"
            )


def _check_size(files: list[tuple[str, Path]], root: Path) -> None:
    """The package fits Lambda's quotas, or one line says by how much it does not (before any upload)."""
    unzipped = sum(path.stat().st_size for _, path in files)
    if unzipped > MAX_UNZIPPED_BYTES:
        raise PackagingError(
            f"the package of {str(root)!r} holds {unzipped / 2**20:.1f} MiB of files, more than the "
            f"{MAX_UNZIPPED_BYTES // 2**20} MiB Lambda allows once extracted (layers included); "
            "move libraries to a layer or leave data files out of the folder"
        )
    if unzipped > MAX_ZIPPED_BYTES:  # the zip is never larger than its files: only then is it worth building
        zipped = len(_zip(files))
        if zipped > MAX_ZIPPED_BYTES:
            raise PackagingError(
                f"the package of {str(root)!r} zips to {zipped / 2**20:.1f} MiB, more than the "
                f"{MAX_ZIPPED_BYTES // 2**20} MiB Lambda accepts in a direct upload; "
                "move libraries to a layer or leave data files out of the folder"
            )


def package_files(code_dir: Path, handler: str | None = None) -> list[tuple[str, Path]]:
    """``(archive path, file)`` for every file that belongs in the package, sorted by archive path.

    Hidden files and folders, ``__pycache__`` and compiled files are left out. With ``handler``
    (``module.function``), the module must be one of the files, so a typo fails here and not at
    the first invocation.
    """
    root = Path(code_dir)
    if not root.is_dir():
        raise PackagingError(f"code_dir {str(root)!r} is not a folder")
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") or part in _SKIPPED_DIRS for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in _SKIPPED_SUFFIXES:
            files.append((relative.as_posix(), path))
    files = [(name, path) for name, path in files if name not in (SHARED_LIST, PERMISSIONS_FILE)]
    for shared in shared_modules(root):
        if any(name == shared.name for name, _ in files):
            raise PackagingError(f"{shared.name} in {SHARED_LIST} of {str(root)!r} clashes with a file of the folder")
        files.append((shared.name, shared))
    files.sort()
    if not files:
        raise PackagingError(f"code_dir {str(root)!r} holds no files to package")
    _check_imports(files, root)
    _check_size(files, root)
    if handler is not None:
        module, _, function = handler.rpartition(".")
        if not module or not function:
            raise PackagingError(f"handler {handler!r} must be 'module.function'")
        expected = module.replace(".", "/") + ".py"
        if expected not in {name for name, _ in files}:
            raise PackagingError(f"handler {handler!r} needs {expected} in {str(root)!r}")
    return files


def package_zip(code_dir: Path, handler: str | None = None) -> bytes:
    """The deployment zip: sorted entries, fixed timestamps and permissions, so equal code gives equal bytes
    (``handler``: checked as by :func:`package_files`)."""
    return _zip(package_files(code_dir, handler))


def _zip(files: list[tuple[str, Path]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def package_size(code_dir: Path) -> int:
    """Size in bytes of the zip :func:`package_zip` builds (what Lambda downloads on a cold start)."""
    return len(package_zip(code_dir))


def package_sha256(code_dir: Path, handler: str | None = None) -> str:
    """Hex SHA-256 of the package contents, stable across machines and checkouts."""
    return hashlib.sha256(package_zip(code_dir, handler)).hexdigest()
