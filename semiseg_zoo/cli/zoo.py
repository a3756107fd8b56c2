"""``semiseg-zoo``: list, search, inspect and download bioimage.io model packages."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from .errors import fail

PROGRAM = "semiseg-zoo"
# Bad input (exit 2) versus failures (exit 1); zoo errors other than UnknownModelError are failures.
USAGE_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError)
FAILURES = (RuntimeError, OSError)
_NAME_WIDTH = 40
_TAGS_WIDTH = 50


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command accepts, before or after the command name."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("Zoo")
    group.add_argument(
        "--collection",
        default=default(None),
        metavar="URL_OR_PATH",
        help="collection index JSON, URL or path (unset: $SEMISEG_COLLECTION, else bioimage.io's)",
    )
    group.add_argument(
        "--cache",
        default=default(None),
        metavar="DIR",
        help="cache folder (unset: $SEMISEG_CACHE, else the user cache dir)",
    )
    group.add_argument(
        "--offline",
        action="store_true",
        default=default(False),
        help="use only cached packages and indexes (also: SEMISEG_OFFLINE=1)",
    )
    group = parser.add_argument_group("Output")
    group.add_argument(
        "-q", "--quiet", action="store_true", default=default(False), help="no progress bars"
    )
    group.add_argument(
        "-v", "--verbose", action="store_true", default=default(False), help="show tracebacks"
    )


def _filters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Filters")
    group.add_argument(
        "--tag", action="append", metavar="T", help="must have this tag (repeatable)"
    )
    group.add_argument(
        "--kind", help="semiseg network kind: teacher, enhancer, embedding or affinity"
    )
    group.add_argument(
        "--type", default="model", help="resource type (model, dataset, ...; 'all' for any)"
    )
    group.add_argument(
        "--refresh", action="store_true", help="fetch the collection index even if cached"
    )
    group.add_argument("--json", action="store_true", help="print JSON instead of a table")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (imports nothing heavy, so ``--help`` is fast)."""
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description=(
            "List, search, inspect and download bioimage.io model packages. Downloads are "
            "checked against their sha256 and cached for offline use."
        ),
        formatter_class=formatter,
    )
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    command = commands.add_parser(
        "list", help="list the models of the collection", formatter_class=formatter
    )
    _filters(command)
    _global_options(command, suppress=True)

    command = commands.add_parser(
        "search",
        help="search ids, names, descriptions, tags and nicknames",
        formatter_class=formatter,
    )
    command.add_argument("text", help="case-insensitive text to look for")
    _filters(command)
    _global_options(command, suppress=True)

    command = commands.add_parser(
        "info",
        help="show a collection entry and, if cached or local, what the package holds",
        formatter_class=formatter,
    )
    command.add_argument("reference", metavar="REF", help="id, nickname, DOI, URL or local path")
    command.add_argument("--json", action="store_true", help="print JSON")
    _global_options(command, suppress=True)

    command = commands.add_parser(
        "download",
        help="download and verify packages into the cache; prints their paths",
        formatter_class=formatter,
    )
    command.add_argument(
        "references", nargs="+", metavar="REF", help="ids, nicknames, DOIs or URLs"
    )
    command.add_argument("--refresh", action="store_true", help="download again even if cached")
    _global_options(command, suppress=True)

    command = commands.add_parser(
        "cache", help="list the cached packages, or remove them", formatter_class=formatter
    )
    command.add_argument(
        "--clear",
        nargs="?",
        const="",
        default=None,
        metavar="REF",
        help="remove one cached reference (its package if unused), or everything without REF",
    )
    _global_options(command, suppress=True)
    return parser


def _settings(args: argparse.Namespace) -> Any:
    from semiseg_zoo.zoo import zoo_settings

    return zoo_settings(
        cache_dir=args.cache,
        collection=args.collection,
        offline=True if args.offline else None,
    )


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = [headers, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _print_entries(entries: Sequence[Any], args: argparse.Namespace, settings: Any) -> None:
    if args.json:
        print(json.dumps([entry.to_json() for entry in entries], indent=2, ensure_ascii=False))
        return
    rows = [
        (
            entry.id,
            entry.kind or "-",
            _shorten(entry.name, _NAME_WIDTH),
            _shorten(", ".join(entry.tags), _TAGS_WIDTH),
        )
        for entry in entries
    ]
    if rows:
        print(_table(("id", "kind", "name", "tags"), rows))
    noun = "resource" if args.type == "all" else args.type
    print(f"{len(entries)} {noun}(s) in {settings.collection}")


def _list(args: argparse.Namespace, text: str | None = None) -> int:
    from semiseg_zoo.zoo import load_collection, search_collection

    settings = _settings(args)
    entries = load_collection(settings, refresh=args.refresh, progress=not args.quiet)
    found = search_collection(
        entries,
        text=text,
        tags=args.tag or (),
        kind=args.kind,
        type=None if args.type == "all" else args.type,
    )
    _print_entries(found, args, settings)
    return 0


def _info(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from semiseg_zoo.zoo import (
        NotCachedError,
        ZooError,
        find_entry,
        load_collection,
        normalize_doi,
        resolve_package,
        summarize_package,
    )
    from semiseg_zoo.zoo.locations import is_http_url, local_path

    settings = _settings(args)
    reference = args.reference
    entry, lookup_error = None, None
    local = local_path(reference)
    in_collection = normalize_doi(reference) is not None or not is_http_url(reference)
    if in_collection and (local is None or not local.exists()):
        try:
            entry = find_entry(load_collection(settings), reference, where=settings.collection)
        except ZooError as error:
            lookup_error = error
    try:
        path = resolve_package(reference, replace(settings, offline=True), progress=False)
    except NotCachedError:
        path = None
    if entry is None and path is None:
        if lookup_error is not None:
            raise lookup_error
        raise ZooError(
            f"{reference} is not in the cache {settings.cache_dir}; "
            f"`{PROGRAM} download {reference}` fetches it"
        )
    summary = summarize_package(path) if path is not None else None
    if args.json:
        document = {
            "entry": entry.to_json() if entry is not None else None,
            "path": str(path) if path is not None else None,
            "package": summary.to_json() if summary is not None else None,
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    fields: list[tuple[str, str]] = []
    if entry is not None:
        fields += [
            ("id", entry.id),
            ("name", entry.name),
            ("type", entry.type),
            ("kind", entry.kind or "-"),
            ("description", entry.description),
            ("tags", ", ".join(entry.tags)),
            ("source", entry.source),
            ("sha256", entry.sha256 or "-"),
        ]
        fields += [
            (label, ", ".join(values))
            for label, values in (
                ("doi", entry.dois),
                ("aliases", entry.aliases),
                ("authors", entry.authors),
            )
            if values
        ]
        fields += [(k, v) for k, v in (("version", entry.version), ("license", entry.license)) if v]
    if summary is None:
        fields.append(("cached", f"no (`{PROGRAM} download {reference}` fetches it)"))
    else:
        fields += [
            ("path", str(summary.path)),
            ("format_version", summary.format_version or "-"),
            ("inputs", ", ".join(f"{t.id} ({t.axes})" for t in summary.inputs) or "-"),
            ("outputs", ", ".join(f"{t.id} ({t.axes})" for t in summary.outputs) or "-"),
            ("weights", ", ".join(summary.weight_formats) or "-"),
        ]
        if entry is None:
            fields.insert(0, ("name", summary.name or "-"))
            fields.insert(1, ("kind", summary.kind or "-"))
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        print(f"{label.ljust(width)}  {value}")
    return 0


def _exit_code(error: BaseException) -> int:
    from semiseg_zoo.zoo import UnknownModelError

    return 2 if isinstance(error, (UnknownModelError, *USAGE_ERRORS)) else 1


def _download(args: argparse.Namespace) -> int:
    from semiseg_zoo.zoo import resolve_package

    settings = _settings(args)
    code = 0
    for reference in args.references:
        try:
            path = resolve_package(
                reference, settings, progress=not args.quiet, refresh=args.refresh
            )
        except (*USAGE_ERRORS, *FAILURES) as error:
            code = max(code, fail(PROGRAM, error, code=_exit_code(error), verbose=args.verbose))
            continue
        print(path)
    return code


def _size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _cache(args: argparse.Namespace) -> int:
    from semiseg_zoo.zoo import clear_cache, list_cached

    settings = _settings(args)
    if args.clear is not None:
        removed = clear_cache(settings, args.clear or None)
        what = f"{args.clear!r}" if args.clear else "everything"
        print(f"removed {what}: {removed} package(s) deleted from {settings.cache_dir}")
        return 0
    cached = list_cached(settings)
    rows = [
        (
            item.reference,
            _size(item.size),
            item.date.strftime("%Y-%m-%d %H:%M"),
            str(item.path),
        )
        for item in cached
    ]
    if rows:
        print(_table(("reference", "size", "downloaded", "path"), rows))
    packages = {item.path for item in cached}
    total = sum(item.size for item in {item.path: item for item in cached}.values())
    print(
        f"{len(cached)} reference(s), {len(packages)} package(s), {_size(total)} "
        f"in {settings.cache_dir}"
    )
    return 0


class _WarningHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Warnings of the zoo layer (e.g. 'using the cached index') as one line on stderr."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter(f"{PROGRAM}: warning: %(message)s"))
        self.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 1 a download or check failed, 2 bad input)."""
    args = build_parser().parse_args(argv)
    logger = logging.getLogger("semiseg_zoo.zoo")
    handler = _WarningHandler()
    logger.addHandler(handler)
    try:
        if args.command == "list":
            return _list(args)
        if args.command == "search":
            return _list(args, text=args.text)
        if args.command == "info":
            return _info(args)
        if args.command == "download":
            return _download(args)
        return _cache(args)
    except (*USAGE_ERRORS, *FAILURES) as error:
        return fail(PROGRAM, error, code=_exit_code(error), verbose=args.verbose)
    finally:
        logger.removeHandler(handler)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
