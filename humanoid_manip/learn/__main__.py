"""`python -m humanoid_manip.learn VERB …`: an alias of `humanoid-manip VERB …` for the learning
verbs (train, export, eval, flywheel, ship, bundle, average)."""
import sys

from humanoid_manip.cli import main

VERBS = ("train", "export", "eval", "flywheel", "ship", "bundle", "average")

if len(sys.argv) > 1 and sys.argv[1] not in VERBS and not sys.argv[1].startswith("-"):
    print(f"python -m humanoid_manip.learn: unknown verb {sys.argv[1]!r}; one of "
          f"{', '.join(VERBS)}", file=sys.stderr)
    sys.exit(2)
sys.exit(main(sys.argv[1:]))
