"""`python -m hypersynth …`: the command line, driving the same engine as the plugin."""

import sys

from .core.cli import main

if __name__ == "__main__":
    sys.exit(main())
