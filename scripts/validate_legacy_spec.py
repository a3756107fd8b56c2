"""Validate model packages with the bioimageio.spec version ilastik uses (0.5.9.x).

Runs in a light environment that has only bioimageio.spec installed (``make check-legacy-spec``).
Exit code 0 when every package is valid, 1 otherwise.
"""

from __future__ import annotations

import sys

from bioimageio.spec import __version__, load_description


def main(paths: list[str]) -> int:
    if not paths:
        print("validate_legacy_spec: no packages given", file=sys.stderr)
        return 1
    if not __version__.startswith("0.5.9"):
        print(f"expected bioimageio.spec 0.5.9.x, found {__version__}", file=sys.stderr)
        return 1
    failed = 0
    for path in paths:
        description = load_description(path, perform_io_checks=True)
        summary = description.validation_summary
        ok = summary.status in ("valid-format", "passed")
        print(
            f"{'ok' if ok else 'FAILED'}: {path} (bioimageio.spec {__version__}: {summary.status})"
        )
        if not ok:
            failed += 1
            for entry in summary.errors:
                print(f"  {'.'.join(map(str, entry.loc))}: {entry.msg}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
