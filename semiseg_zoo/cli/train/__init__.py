"""``semiseg-train``: train a network on your own folders and export a validated bioimage.io
package.

    semiseg-train teacher --images imgs/ --labels masks/ [--unlabeled more/] -o model.zip
"""

from __future__ import annotations

import sys

from ..errors import fail
from .common import PROGRAM, UsageError, check_usage
from .parser import build_parser

__all__ = ["build_parser", "main", "run"]


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 2 bad input, 130 stopped by a signal)."""
    args = build_parser().parse_args(argv)
    try:
        check_usage(args)
    except (UsageError, FileExistsError) as error:
        return fail(PROGRAM, error, verbose=args.verbose)
    from semiseg_zoo.export import PackageTestError
    from semiseg_zoo.spec import SpecError
    from semiseg_zoo.training.folders import TrainingDataError

    command = [PROGRAM, *(sys.argv[1:] if argv is None else argv)]
    from . import affinity, embedding, enhancer, teacher

    kinds = {"teacher": teacher, "embedding": embedding, "affinity": affinity,
             "enhancer": enhancer}  # fmt: skip
    train = kinds[args.kind].train
    try:
        return train(args, command)
    except KeyboardInterrupt as stop:  # also TrainingInterrupted, after its checkpoint
        message = str(stop) or "interrupted; rerun the same command with --resume to continue"
        print(f"{PROGRAM}: {message}", file=sys.stderr)
        return 130
    except (UsageError, TrainingDataError, SpecError, FileExistsError, FileNotFoundError) as error:
        return fail(PROGRAM, error, verbose=args.verbose)
    except PackageTestError as error:
        return fail(PROGRAM, f"the trained package failed validation: {error}", code=1,
                    verbose=args.verbose)  # fmt: skip


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
