"""Celery as a campaign's engine (``pip install 'talkstack[celery,redis]'``).

In the module your workers import (``celery -A tasks worker``)::

    from celery import Celery
    from talkstack_async.integrations.celery import CampaignTasks

    app = Celery("tasks", broker="redis://redis.internal:6379/1")
    campaigns = CampaignTasks(app, ledger="redis://redis.internal:6379/0")

and from anywhere (a web view, a script, a beat schedule)::

    submitted = campaigns.submit(
        CallRequestFile("numbers.csv"), campaign="spring-reminders",
        project_id=pid, agent_id=aid, rate=20, concurrency=8, shard_size=500,
    )
    submitted.wait(timeout=3600)  # or campaigns.status("spring-reminders") from any machine

The requests are split into shards of ``shard_size``; each shard is one task that dials it
with ``dial_many`` on the shared Redis ledger, so ``rate`` and ``concurrency`` hold for the
campaign across every worker. Tasks are ``acks_late`` and ``reject_on_worker_lost``: the
message of a worker killed mid-shard goes back to the queue and another worker runs the shard
again, which the ledger makes safe (what was placed is skipped; what the dead worker had in
flight is skipped as "may have been placed" until ``reconcile`` settles it; re-submitting the
campaign then dials only what reconciliation found was not placed).

Workers make their blocking client lazily, once per process, from ``client_factory``
(default: ``Talkstack()``, credentials from the environment); a prefork child forks with no
client of its parent's in use.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import anyio
import attrs
from celery import Celery, group
from celery.result import GroupResult

from talkstack_async._errors import ValidationError
from talkstack_async.campaigns._status import CampaignStatus, campaign_status
from talkstack_async.campaigns.ledgers._redis import campaign_prefix
from talkstack_async.campaigns.policies._redial import RedialPolicy
from talkstack_async.campaigns.policies._windows import CallingWindow
from talkstack_async.models.dial import CallRequest

__all__ = ["CampaignSubmission", "CampaignTasks"]

TASK_NAME = "talkstack.dial_shard"


@attrs.frozen
class CampaignSubmission:
    """What ``submit`` sent: the campaign, its shard count, and Celery's group result."""

    campaign: str
    shards: int
    requests: int
    result: GroupResult = attrs.field(repr=False)

    def wait(self, timeout: float | None = None) -> dict[str, int]:
        """Wait for every shard; the counts of their outcomes, summed."""
        totals: dict[str, int] = {}
        for counts in self.result.get(timeout=timeout, propagate=True):
            for status, count in counts.items():
                totals[status] = totals.get(status, 0) + count
        return totals


class CampaignTasks:
    """Registers the shard task on ``app`` and submits campaigns to it."""

    def __init__(
        self,
        app: Celery,
        *,
        ledger: str,
        client_factory: Callable[[], Any] | None = None,
        queue: str | None = None,
    ) -> None:
        if not isinstance(ledger, str) or not ledger.startswith(("redis://", "rediss://")):
            raise ValidationError("ledger", "must be the redis:// URL of the campaign ledger")
        self.app = app
        self.ledger = ledger
        self.queue = queue
        self._factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()

        def dial_shard(
            campaign: str,
            requests: list[Any],
            project_id: str,
            agent_id: str,
            rate: float | None,
            concurrency: int,
            window: dict[str, Any] | None = None,
            redial: dict[str, Any] | None = None,
        ) -> dict[str, int]:
            """One shard (a worker runs this): dial it on the shared ledger; outcome counts."""
            counts: dict[str, int] = {}
            outcomes = self._get_client().calls.dial_many(
                requests,
                project_id=project_id,
                agent_id=agent_id,
                rate=rate,
                concurrency=concurrency,
                ledger=self.ledger,
                campaign=campaign,
                window=CallingWindow.from_dict(window) if window else None,
                redial=RedialPolicy.from_dict(redial) if redial else None,
            )
            try:
                for outcome in outcomes:
                    counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
            finally:
                outcomes.close()
            return counts

        self.task = app.task(
            name=TASK_NAME,
            acks_late=True,
            reject_on_worker_lost=True,
            # A shard can run for minutes; the broker must not hand it to a second worker
            # while the first still runs it (the Redis broker's visibility timeout must be
            # longer than a shard takes: see the README).
            track_started=True,
        )(dial_shard)

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None or self._client.is_closed:
                if self._factory is not None:
                    self._client = self._factory()
                else:
                    from talkstack_sync import Talkstack

                    self._client = Talkstack()
            return self._client

    def submit(
        self,
        requests: Iterable[Any],
        *,
        campaign: str,
        project_id: str,
        agent_id: str,
        rate: float | None = None,
        concurrency: int = 10,
        shard_size: int = 500,
        window: CallingWindow | None = None,
        redial: RedialPolicy | None = None,
    ) -> CampaignSubmission:
        """Split ``requests`` into shards and send one task per shard (nothing is dialled
        here). Running it again for the same campaign is safe: the ledger skips what is done.
        ``window`` and ``redial`` are ``dial_many``'s; a shard's worker keeps its inputs'
        waits (a shard runs until its last redial), so size shards and the broker's
        visibility timeout for that."""
        if window is not None and not isinstance(window, CallingWindow):
            raise ValidationError("window", "must be a CallingWindow or None")
        if redial is not None and not isinstance(redial, RedialPolicy):
            raise ValidationError("redial", "must be a RedialPolicy or None")
        plain_window = window.to_dict() if window is not None else None
        plain_redial = redial.to_dict() if redial is not None else None
        campaign_prefix(campaign)
        if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
            raise ValidationError("shard_size", f"must be a positive int, not {shard_size!r}")
        if isinstance(requests, (str, bytes)):
            raise ValidationError("requests", "must be an iterable of requests")
        signatures = []
        total = 0
        for shard in _shards(requests, shard_size):
            total += len(shard)
            signature = self.task.si(
                campaign, shard, project_id, agent_id, rate, concurrency, plain_window,
                plain_redial,
            )  # fmt: skip
            if self.queue is not None:
                signature = signature.set(queue=self.queue)
            signatures.append(signature)
        result = group(signatures).apply_async()
        return CampaignSubmission(campaign, len(signatures), total, result)

    def status(self, campaign: str) -> CampaignStatus:
        """The campaign's counts from its ledger (readable from any machine while it runs)."""
        return anyio.run(campaign_status, self.ledger, campaign)


def _shards(requests: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(requests)
    while shard := [_plain(item) for item in itertools.islice(iterator, size)]:
        yield shard


def _plain(item: Any) -> Any:
    """A request as a task argument can carry it (JSON): CallRequests become mappings."""
    if isinstance(item, CallRequest):
        return {
            "number": item.number,
            "project_id": item.project_id,
            "agent_id": item.agent_id,
            "dynamic_variables": dict(item.dynamic_variables),
            "key": item.key,
            "timezone": item.timezone,
        }
    return item
