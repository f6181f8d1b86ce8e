"""The `attn` console script: runs the command-line program that the wheel carries."""

import os
import sys
from pathlib import Path


def program():
    return Path(__file__).resolve().parent / "bin" / "attn"


def main():
    path = program()
    if not path.is_file():
        sys.exit(f"attn: the command-line program is missing from the package ({path})")
    os.execv(str(path), [str(path)] + sys.argv[1:])


if __name__ == "__main__":
    main()
