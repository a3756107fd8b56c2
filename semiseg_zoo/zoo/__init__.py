"""The model zoo: resolve a bioimage.io id, DOI or URL to a cached, checksum-verified package on
disk, and list or search a collection index.

Everything downloaded is untrusted: archives are checked for path traversal and symlinks before
anything is extracted, every file is checked against its declared sha256, and a package may only
declare files inside itself. Nothing here imports torch.
"""

from .archive import check_archive, extract_archive
from .build_index import build_collection
from .cache import CachedPackage, clear_cache, list_cached
from .checksums import sha256_file
from .collection import CollectionEntry, load_collection, normalize_doi, parse_collection
from .download import download_file
from .errors import (
    ChecksumError,
    DownloadError,
    NotCachedError,
    UnknownModelError,
    UnsafePackageError,
    ZooError,
)
from .fetch import PackageSource
from .rdf import read_rdf
from .rdf_files import DeclaredFile, check_inside_package, declared_files
from .resolve import locate_package, resolve_package
from .search import find_entry, search_collection
from .settings import DEFAULT_COLLECTION, ZooSettings, zoo_settings
from .summary import PackageSummary, TensorSummary, summarize_package
from .verify import verify_zip_package

__all__ = [
    "DEFAULT_COLLECTION",
    "CachedPackage",
    "ChecksumError",
    "CollectionEntry",
    "DeclaredFile",
    "DownloadError",
    "NotCachedError",
    "PackageSource",
    "PackageSummary",
    "TensorSummary",
    "UnknownModelError",
    "UnsafePackageError",
    "ZooError",
    "ZooSettings",
    "build_collection",
    "check_archive",
    "check_inside_package",
    "clear_cache",
    "declared_files",
    "download_file",
    "extract_archive",
    "find_entry",
    "list_cached",
    "load_collection",
    "locate_package",
    "normalize_doi",
    "parse_collection",
    "read_rdf",
    "resolve_package",
    "search_collection",
    "sha256_file",
    "summarize_package",
    "verify_zip_package",
    "zoo_settings",
]
