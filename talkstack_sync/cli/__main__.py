"""``python -m talkstack_sync.cli``: the same as the ``talkstack`` command."""

from talkstack_sync.cli import main

raise SystemExit(main())
