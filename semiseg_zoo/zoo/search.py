"""Filter a collection index and find the one entry a reference (id, alias, DOI) names."""

from __future__ import annotations

from collections.abc import Sequence

from .collection import CollectionEntry, normalize_doi
from .errors import UnknownModelError

__all__ = ["find_entry", "search_collection"]


def search_collection(
    entries: Sequence[CollectionEntry],
    *,
    text: str | None = None,
    tags: Sequence[str] = (),
    kind: str | None = None,
    type: str | None = "model",
) -> list[CollectionEntry]:
    """The entries that match every given criterion, in index order.

    Parameters
    ----------
    entries
        From :func:`~semiseg_zoo.zoo.collection.load_collection`.
    text
        Case-insensitive substring of the id, name, description, a tag or an alias.
    tags
        Tags that must all be present (case-insensitive).
    kind
        Exact semiseg kind (``"teacher"``, ``"enhancer"``, ``"embedding"``, ``"affinity"``).
    type
        Resource type; ``None`` for all types.

    Returns
    -------
    list of CollectionEntry

    Examples
    --------
    >>> entry = CollectionEntry("a", "A", "nuclei", "model", ("2d",), None, "https://x/a.zip", None)
    >>> [e.id for e in search_collection([entry], text="NUC", tags=["2D"])]
    ['a']
    """
    needle = text.strip().casefold() if text else ""
    wanted = {tag.strip().casefold() for tag in tags}
    found = []
    for entry in entries:
        if type is not None and entry.type != type:
            continue
        if kind is not None and entry.kind != kind:
            continue
        if not wanted <= {tag.casefold() for tag in entry.tags}:
            continue
        fields = (entry.id, entry.name, entry.description, *entry.tags, *entry.aliases)
        if needle and not any(needle in field.casefold() for field in fields):
            continue
        found.append(entry)
    return found


def find_entry(
    entries: Sequence[CollectionEntry], reference: str, *, where: str = ""
) -> CollectionEntry:
    """The entry named by an id, ``bioimage-io/<id>``, a nickname or a DOI.

    Parameters
    ----------
    entries
        From :func:`~semiseg_zoo.zoo.collection.load_collection`.
    reference
        ``"affable-shark"``, ``"bioimage-io/affable-shark"``, ``"10.5281/zenodo.123"``,
        ``"doi:10.5281/zenodo.123"`` or ``"https://doi.org/10.5281/zenodo.123"``.
    where
        The index's URL, for the error message.

    Returns
    -------
    CollectionEntry

    Raises
    ------
    UnknownModelError
        If no entry matches; the message suggests close ids and aliases.
    """
    reference = reference.strip()
    doi = normalize_doi(reference)
    if doi is not None:
        for entry in entries:
            if doi in entry.dois:
                return entry
    key = reference.casefold()
    bare = key.removeprefix("bioimage-io/")
    for entry in entries:  # legacy ids look like DOIs ("10.5281/zenodo.5764892/5764893")
        if entry.id.casefold() in (key, bare):
            return entry
    for entry in entries:
        if key in (alias.casefold() for alias in entry.aliases):
            return entry
    known = [name for entry in entries for name in (entry.id, *entry.aliases, *entry.dois)]
    raise UnknownModelError(reference, known, where=where)
