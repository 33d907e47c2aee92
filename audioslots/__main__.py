import sys

from audioslots.cli import main

sys.exit(main())
