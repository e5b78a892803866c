import sys

from calmesh.cli import main

sys.exit(main())
