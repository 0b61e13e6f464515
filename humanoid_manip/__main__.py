"""`python -m humanoid_manip` is the `humanoid-manip` command."""
import sys

from humanoid_manip.cli import main

sys.exit(main())
