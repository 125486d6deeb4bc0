"""``python -m jopt.compare``."""

import sys

from jopt.compare import main

if __name__ == "__main__":
    sys.exit(main())
