"""``python -m minimax``: the command line (see ``minimax --help``)."""

import sys

from minimax.cli import main

if __name__ == "__main__":
    sys.exit(main())
