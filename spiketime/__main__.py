import sys

from spiketime.cli import main

sys.exit(main())
