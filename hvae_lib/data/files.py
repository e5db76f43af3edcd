"""The data directory, checksummed files and atomic downloads."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DOWNLOAD_TIMEOUT_S = 20


class DataUnavailableError(FileNotFoundError):
    """Data files are missing (named in ``missing``) or corrupt, and could not be downloaded."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()):
        super().__init__(message)
        self.missing = missing


def data_dir() -> Path:
    """The data directory: ``$HVAE_DATA_DIR`` if set, else ``data/`` in the project checkout."""
    configured = os.environ.get("HVAE_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class RemoteFile:
    """A data file: its name, where to fetch it, and the SHA-256 of its (decompressed) content.

    ``gzipped`` files are verified on their decompressed bytes, so that a copy recompressed by a
    mirror or a distribution package is accepted as long as the data are identical.
    """

    name: str
    urls: tuple[str, ...]
    sha256: str
    gzipped: bool = False
    algorithm: str = "sha256"  # or "md5", where the publisher gives only that (CIFAR-10)


def read_verified(path: Path, remote: RemoteFile) -> bytes:
    """The (decompressed) bytes of ``path``, after checking them against ``remote.sha256`` (a
    digest of ``remote.algorithm``). A file that cannot be read or decompressed (truncated,
    not gzip) is reported like a corrupt one: the same error, naming the file and the fix."""
    fix = "Delete it and load again (it will be downloaded where a network exists)."
    try:
        raw = path.read_bytes()
        if remote.gzipped:
            import gzip
            import zlib

            try:
                raw = gzip.decompress(raw)
            except (EOFError, gzip.BadGzipFile, zlib.error) as error:
                raise DataUnavailableError(f"{path} is corrupt: it does not decompress ({error}). {fix}") from None
    except OSError as error:
        raise DataUnavailableError(f"{path} cannot be read ({error}). {fix}") from None
    digest = hashlib.new(remote.algorithm, raw).hexdigest()
    if digest != remote.sha256:
        raise DataUnavailableError(
            f"{path} is corrupt: {remote.algorithm.upper()} of its content is {digest}, expected {remote.sha256}. {fix}"
        )
    return raw


def ensure_files(folder: Path, remotes: list[RemoteFile], what: str, download: bool = True) -> None:
    """Make every file of ``remotes`` exist in ``folder``, downloading the missing ones.

    Raises :class:`DataUnavailableError` listing every file that is still missing.
    """
    missing = [r for r in remotes if not (folder / r.name).exists()]
    failures = {}
    if download and os.environ.get("HVAE_OFFLINE") != "1":
        for remote in missing:
            try:
                _download(remote, folder / remote.name)
            except (urllib.error.URLError, OSError, ValueError) as error:
                failures[remote.name] = error
                if _is_offline(error):
                    break
    still_missing = [r.name for r in remotes if not (folder / r.name).exists()]
    if still_missing:
        reason = next(iter(failures.values()), "downloads are disabled")
        raise DataUnavailableError(_missing_message(what, folder, still_missing, reason), tuple(still_missing))


def _missing_message(what: str, folder: Path, names: list[str], reason: object) -> str:
    listing = "\n".join(f"  - {name}" for name in names)
    return (
        f"{what}: {len(names)} file(s) missing in {folder}\n{listing}\n"
        f"Download failed or was skipped ({reason}).\n"
        "To supply them, either\n"
        "  - run once on a machine with internet access (they are downloaded and verified), or\n"
        f"  - copy the files into {folder}, or\n"
        "  - point HVAE_DATA_DIR at a directory that has them in this layout "
        "(e.g. a copy of shared/datasets)."
    )


def _is_offline(error: Exception) -> bool:
    """True when ``error`` says the host is unreachable (no point trying further URLs)."""
    return (
        isinstance(error, urllib.error.URLError)
        and not isinstance(error, urllib.error.HTTPError)
        and isinstance(error.reason, OSError)
    )


def _download(remote: RemoteFile, target: Path) -> None:
    """Fetch ``remote`` into ``target`` atomically: verified in a temporary file, then renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    last_error: Exception = ValueError(f"no URL to fetch {remote.name} from")
    for url in remote.urls:
        handle, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{remote.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                shutil.copyfileobj(response, out)
            read_verified(tmp, remote)
            os.replace(tmp, target)
            return
        except (urllib.error.URLError, OSError, DataUnavailableError) as error:
            last_error = error
            if _is_offline(error):
                break
        finally:
            tmp.unlink(missing_ok=True)
    raise last_error
