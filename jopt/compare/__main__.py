import sys

from jopt.compare import main

sys.exit(main())
