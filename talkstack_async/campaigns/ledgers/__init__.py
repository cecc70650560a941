"""Where a campaign keeps what it did: the ``Ledger`` protocol, the file journal (one process)
and the Redis ledger (a fleet), with the records they share."""
