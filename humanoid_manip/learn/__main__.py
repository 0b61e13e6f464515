"""`python -m humanoid_manip.learn train|export …`."""
import sys

from humanoid_manip.learn.cli import main

sys.exit(main())
