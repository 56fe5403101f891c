import os

from digitrec.cli import main

if parent := os.environ.pop("DIGITREC_PARENT", ""):  # started by another digitrec process: end with it
    from digitrec.processes import die_with_parent

    die_with_parent(int(parent))

raise SystemExit(main())
