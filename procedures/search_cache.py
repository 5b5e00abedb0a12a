"""The built search index kept on disk, so that a restart loads it instead of building it.

A cache file holds one :class:`~procedures.search.SearchIndex` (pickled), under a *key*: a hash
of the catalogue's version (its content), of the search lexicon it was built with and of the
engine (the source of the modules that build the index, the context-word list; the Python,
rapidfuzz and numpy versions). A changed catalogue, lexicon or engine gives another key, so the
index is built again and cached under it; of the other keys' files the newest few are kept.

A file is only trusted when its header names the key asked for and the SHA-256 of its payload
matches: a truncated, corrupt or foreign file is rebuilt over. The directory is created
private (0700) and files are written atomically (temporary file, then rename), since a pickle
must never come from anyone else.

For the bundled catalogue a load takes ~0.35 s, against ~0.4 s to read the catalogue plus
~1.1 s to build; in the service the gain is larger (the records come from the database).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import platform
import tempfile
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

from procedures import aliases, catalogue, fulltext, lexicon, normalize, search
from procedures.catalogue import Procedure
from procedures.lexicon import Entry
from procedures.lexicon import bundled as bundled_lexicon
from procedures.lexicon import digest as lexicon_digest
from procedures.search import SearchIndex, collector_paused

log = logging.getLogger(__name__)

FORMAT = b"motcua-search-index 1\n"
KEEP_FILES = 3
"""Cache files kept besides the one just written (another catalogue, a database and the
bundle, may be in use in this data folder)."""


def engine_kind() -> str:
    """"compiled" when the search engine runs as its builds (`make compiled`: procedures/
    search.py with mypyc, the passes of procedures/_passes.pyx with Cython), "pure"
    when neither is built, "partly compiled" when one is; "stale" when a build is older than
    its source (edited since: the build still runs the old code until `make compiled`)."""
    sums = find_spec("procedures._passes")  # only its build: no module when not compiled
    builds = [(Path(str(search.__file__)), "search.py")]
    if sums is not None and sums.origin:
        builds.append((Path(sums.origin), "_passes.pyx"))
    built = [(path, source) for path, source in builds if path.suffix != ".py"]
    for path, source in built:
        written = path.with_name(source)
        if written.exists() and written.stat().st_mtime > path.stat().st_mtime:
            return "stale"
    return "compiled" if len(built) == 2 else "partly compiled" if built else "pure"


@cache
def engine_version() -> str:
    """Changes whenever the code that builds an index might build another one."""
    digest = hashlib.sha256(FORMAT)
    for module in (search, fulltext, aliases, lexicon, normalize, catalogue):
        digest.update(Path(str(module.__file__)).read_bytes())
    # The context-word list is data the index is built with (`aliases.CONTEXT`).
    for name in (
        aliases.CONTEXT_FILE,
        aliases.OFF_TOPIC_FILE,
        aliases.PERSON_NAMES_FILE,
        aliases.ADDRESS_WORDS_FILE,
        aliases.AUDIENCES_FILE,
    ):
        digest.update(resources.files("procedures.data").joinpath(name).read_bytes())
    digest.update(platform.python_version().encode())
    for package in ("rapidfuzz", "numpy"):
        try:
            digest.update(f" {package} {version(package)}".encode())
        except PackageNotFoundError:
            digest.update(f" {package} ?".encode())
    return digest.hexdigest()


def cache_key(catalogue_version: str, lexicon: Sequence[Entry]) -> str:
    text = f"{engine_version()}\n{catalogue_version}\n{lexicon_digest(lexicon)}"
    return hashlib.sha256(text.encode()).hexdigest()


def load_or_build(
    directory: Path | None,
    catalogue_version: str,
    procedures: Callable[[], Iterable[Procedure]],
    lexicon: Sequence[Entry] | None = None,
) -> tuple[SearchIndex, bool]:
    """The index of the catalogue of `catalogue_version` (a hash of its content) read with
    `lexicon` (the bundled one when None): from the cache in `directory` when it holds it,
    else built from `procedures()` and cached. Returns it and whether it came from the cache.
    `directory` None: no cache, always built."""
    lexicon = bundled_lexicon() if lexicon is None else lexicon
    if directory is not None:
        index = read(directory, catalogue_version, lexicon)
        if index is not None:
            return index, True
    return build_and_write(directory, catalogue_version, procedures(), lexicon), False


def build_and_write(
    directory: Path | None,
    catalogue_version: str,
    procedures: Iterable[Procedure],
    lexicon: Sequence[Entry] | None = None,
) -> SearchIndex:
    """Build the index and cache it in `directory` (a failure to write is only logged)."""
    lexicon = bundled_lexicon() if lexicon is None else lexicon
    index = SearchIndex.build(procedures, lexicon)
    if directory is not None:
        try:
            write(directory, catalogue_version, index, lexicon)
        except OSError as error:  # a read-only data folder: serve anyway, without a cache
            log.warning("could not cache the search index in %s: %s", directory, error)
    return index


def cache_path(directory: Path, key: str) -> Path:
    return directory / f"search-{key[:32]}.idx"


def read(
    directory: Path, catalogue_version: str, lexicon: Sequence[Entry] | None = None
) -> SearchIndex | None:
    """The index cached in `directory` for the catalogue and lexicon (the bundled one when
    None); None when absent, foreign or damaged."""
    key = cache_key(catalogue_version, bundled_lexicon() if lexicon is None else lexicon)
    path = cache_path(directory, key)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("could not read the search index cache %s: %s", path, error)
        return None
    header = FORMAT + key.encode() + b"\n"
    digest_end = len(header) + 32
    if not data.startswith(header) or len(data) <= digest_end:
        log.warning("search index cache %s is not for this catalogue: rebuilding", path)
        return None
    payload = memoryview(data)[digest_end:]
    if hashlib.sha256(payload).digest() != data[len(header) : digest_end]:
        log.warning("search index cache %s is damaged: rebuilding", path)
        return None
    try:
        with collector_paused():
            index = pickle.loads(payload)
    except Exception:  # whatever a bad file raises, building again is the answer
        log.warning("search index cache %s could not be loaded: rebuilding", path, exc_info=True)
        return None
    return index if isinstance(index, SearchIndex) else None


def write(
    directory: Path,
    catalogue_version: str,
    index: SearchIndex,
    lexicon: Sequence[Entry] | None = None,
) -> None:
    """Cache `index` of the catalogue and lexicon (the bundled one when None) atomically,
    removing old cache files."""
    key = cache_key(catalogue_version, bundled_lexicon() if lexicon is None else lexicon)
    path = cache_path(directory, key)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    header = FORMAT + key.encode() + b"\n" + hashlib.sha256(payload).digest()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".search-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(header)
            file.write(payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    others = sorted(
        (p for p in path.parent.glob("search-*.idx") if p != path),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in others[KEEP_FILES:]:
        old.unlink(missing_ok=True)
