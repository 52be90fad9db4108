"""``python -m superflow.cli``: the ``superflow`` command, as superflow starts its
own child processes (``superflow.processes.SUPERFLOW``)."""

from superflow.cli import main

main()
