"""Pacing that follows the server: a 429 (or a 503 with ``Retry-After``) on make-call.

Such an answer is a certain refusal: the server did not place the call, so the request may be
sent again (nothing else is ever re-sent). The placement waits for the server's
``Retry-After`` (or a backoff with full jitter when it sends none) and tries again, at most
``RateLimitPolicy.max_attempts`` times, after which its outcome is ``FAILED`` with the last
error. Meanwhile the whole campaign slows down: additive increase, multiplicative decrease
around the configured ``rate`` (as TCP does around a link's capacity):

* on a refusal, the campaign's rate becomes ``decrease`` times what it was (or what it was
  seen doing, without a configured rate), never below ``min_rate``, and no placement starts
  before the server's ``Retry-After`` is over. Placements in flight when the server started
  refusing are refused together: one decrease per congestion event (a refusal within two
  seconds of the decrease, or within the server's pause, does not cut the rate again), as TCP;
* while placements are accepted, it grows by ``increase`` calls/s every second (default: a
  fifth of the configured rate, or of the rate at which the server first refused), back up to
  the configured rate (without one, it stops limiting once it has doubled the rate at which
  the server first refused). Under a steady trickle of refusals the rate settles near 80 % of
  its ceiling instead of sinking to ``min_rate``.

With a Redis ledger the rate and the pause are the campaign's, shared by all its processes
(one hash, updated by atomic scripts); otherwise they are the run's.

Waits are measured on ``time.monotonic()``: a step of the wall clock (NTP, a VM resumed, an
operator) neither stretches nor cuts the server's pause. The campaign's shared pause is kept
in Redis by the server's clock (processes on many machines share it) and read back as the
milliseconds it has left by that same clock, so a process turns it into its own monotonic
deadline without asking its wall clock anything.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from typing import Any

import attrs

from talkstack_async._errors import APIStatusError, RateLimitError, ValidationError
from talkstack_async.campaigns.ledgers._redis_errors import Reaching

__all__ = [
    "DEFAULT_RATE_LIMIT_POLICY",
    "AdaptiveRate",
    "RateLimitPolicy",
    "RedisAdaptiveRate",
    "is_rate_refusal",
]


_QUIET = 2.0  # seconds after a decrease in which further refusals only pause


def _positive(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError(attribute.name, f"must be a positive number, not {value!r}")


def _fraction(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValidationError(attribute.name, f"must be between 0 and 1, not {value!r}")


def _attempts(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(attribute.name, f"must be an int >= 0, not {value!r}")


@attrs.frozen
class RateLimitPolicy:
    """How ``dial_many`` answers the server's rate limiting (see the module docstring).

    ``max_attempts``: sends of one request after a refusal (0: a refusal is its outcome);
    ``backoff``/``max_backoff``: the wait without ``Retry-After`` (seconds, doubling, with full
    jitter); ``decrease``, ``increase``, ``min_rate``: the campaign's AIMD.
    """

    max_attempts: int = attrs.field(default=8, validator=_attempts)
    backoff: float = attrs.field(default=1.0, validator=_positive)
    max_backoff: float = attrs.field(default=60.0, validator=_positive)
    decrease: float = attrs.field(default=0.5, validator=_fraction)
    increase: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(_positive)
    )
    min_rate: float = attrs.field(default=0.2, validator=_positive)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before re-sending, after the ``attempt``-th refusal (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        return random.uniform(0.0, min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1)))


DEFAULT_RATE_LIMIT_POLICY = RateLimitPolicy()


def is_rate_refusal(error: BaseException | None) -> bool:
    """A 429, or a 503 with ``Retry-After``: refused unprocessed, safe to send again."""
    if isinstance(error, RateLimitError):
        return True
    return (
        isinstance(error, APIStatusError) and error.status == 503 and error.retry_after is not None
    )


class AdaptiveRate:
    """The run's current rate and pause (the local half; ``RedisAdaptiveRate`` shares it).

    ``current`` (the rate now; None: unlimited) and ``pause_left()`` answer at once, from
    memory; ``await refresh()`` brings them up to date first where they are shared."""

    def __init__(self, ceiling: float | None, policy: RateLimitPolicy) -> None:
        self.ceiling = ceiling
        self.policy = policy
        self.current: float | None = ceiling
        self.paused_until = 0.0  # time.monotonic() before which no placement starts
        self.backing_off = 0  # placements waiting to be sent again
        self._release_at: float | None = None  # without a ceiling: stop limiting here
        self._recent: deque[float] = deque()  # placement times of the last second
        self._quiet_until = 0.0  # refusals before this belong to the last decrease
        self._scale: float | None = None  # the rate AIMD works around

    def observed(self) -> float:
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        return float(len(self._recent))

    def pause_left(self) -> float:
        """Seconds of the server's pause left (0: none), on the monotonic clock."""
        left = self.paused_until - time.monotonic()
        return left if left > 0 else 0.0

    async def refresh(self) -> None:
        """Bring ``current`` and the pause up to date (the run's own: nothing to read)."""

    async def refused(self, pause: float) -> None:
        now = time.monotonic()
        self._recent.append(now)  # what the run was sending, refused or not
        self.paused_until = max(self.paused_until, now + pause)
        if now < self._quiet_until:
            return  # the same congestion event
        self._quiet_until = now + max(pause, _QUIET)
        self.current = max(self.policy.min_rate, self._cut_from() * self.policy.decrease)

    def _cut_from(self) -> float:
        """The rate a refusal cuts (what the run was doing, without a configured rate); the
        first one also fixes the scale AIMD works around."""
        base = self.current if self.current is not None else max(self.observed(), 1.0)
        if self._scale is None:
            self._scale = self.ceiling or base
        if self.ceiling is None and self._release_at is None:
            self._release_at = 2 * base
        return base

    def step(self) -> float:
        """The rise for one accepted placement: ``increase`` per second, spread over the
        placements of a second."""
        current = self.current or 1.0
        per_second = self.policy.increase or max((self._scale or current) / 5, 0.1)
        return per_second / max(current, 1.0)

    async def accepted(self) -> None:
        self._recent.append(time.monotonic())
        if self.current is None or self.current == self.ceiling:
            return
        self.current += self.step()
        if self.ceiling is not None:
            self.current = min(self.current, self.ceiling)
        elif self._release_at is not None and self.current >= self._release_at:
            self.current = None  # the server stopped refusing long ago: no limit, as asked
            self._release_at = None

    async def rate(self) -> float | None:
        """The rate now (None: unlimited)."""
        return self.current

    async def wait_for_pause(self) -> None:
        """Return once the server's pause is over."""
        # A loop, not an Event: another refusal meanwhile may push the end of the pause back.
        while (left := self.pause_left()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)


_READING = Reaching("reading the campaign's rate")
_PACING = Reaching("updating the campaign's rate")

# KEYS: pace. ARGV: base rate (the caller's view), decrease, min rate, pause ms. Server time.
# One decrease per congestion event: refusals within the quiet time of the last only pause.
# Returns the rate and the pause's milliseconds left.
_REFUSED = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local pause = tonumber(ARGV[4])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
paused = math.max(paused, ms + pause)
redis.call('HSET', KEYS[1], 'paused_until', tostring(paused))
redis.call('HINCRBY', KEYS[1], 'refusals', 1)
local current = tonumber(redis.call('HGET', KEYS[1], 'rate')) or tonumber(ARGV[1])
local quiet = tonumber(redis.call('HGET', KEYS[1], 'quiet_until')) or 0
if ms < quiet then return {tostring(current), paused - ms} end
redis.call('HSET', KEYS[1], 'quiet_until', tostring(ms + math.max(pause, 2000)))
local rate = math.max(tonumber(ARGV[3]), current * tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'rate', tostring(rate))
return {tostring(rate), paused - ms}
"""

# KEYS: pace. The shared rate ('' when none is set) and the pause's milliseconds left (0 when
# it is over), by the server's clock.
_READ = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'rate', 'paused_until')
local paused = tonumber(state[2]) or 0
return {state[1] or '', math.max(0, paused - ms)}
"""

# KEYS: pace. ARGV: step, ceiling ('' for none), release rate ('' for none).
_ACCEPTED = """
local current = tonumber(redis.call('HGET', KEYS[1], 'rate'))
if not current then return false end
local rate = current + tonumber(ARGV[1])
if ARGV[2] ~= '' then rate = math.min(rate, tonumber(ARGV[2])) end
if ARGV[2] == '' and ARGV[3] ~= '' and rate >= tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[1], 'rate')
  return false
end
redis.call('HSET', KEYS[1], 'rate', tostring(rate))
return tostring(rate)
"""


class RedisAdaptiveRate(AdaptiveRate):
    """The campaign's rate and pause, shared by its processes through one Redis hash.

    ``refresh()`` re-reads them when the copy is older than a quarter of a second (``stale()``
    says whether it would; placements refreshing at once share one read). Every call that
    reaches Redis raises ``LedgerUnavailableError`` when it cannot."""

    _REFRESH = 0.25  # seconds a process trusts its copy of the shared state

    def __init__(
        self, client: Any, prefix: str, ceiling: float | None, policy: RateLimitPolicy
    ) -> None:
        super().__init__(ceiling, policy)
        self._redis = client
        self._key = prefix + "pace"
        self._refused = client.register_script(_REFUSED)
        self._accepted = client.register_script(_ACCEPTED)
        self._read = client.register_script(_READ)
        self._read_at: float | None = None  # when the copy was asked for (monotonic)
        self._reading: asyncio.Future[None] | None = None

    def stale(self) -> bool:
        """Whether the copy of the shared rate and pause is due to be read again."""
        read_at = self._read_at
        return read_at is None or time.monotonic() - read_at >= self._REFRESH

    async def refresh(self) -> None:
        if not self.stale():
            return
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read_shared())
            self._reading.add_done_callback(self._read_done)
        # Shielded: a placement that stops waiting does not cancel the others' read.
        await asyncio.shield(self._reading)

    async def _read_shared(self) -> None:
        asked = time.monotonic()
        with _READING:
            rate, left_ms = await self._read(keys=[self._key])
        self._shared(rate, left_ms, asked)

    def _read_done(self, future: asyncio.Future[None]) -> None:
        self._reading = None
        if not future.cancelled():
            future.exception()  # retrieved: its awaiters were told

    def _shared(self, rate: Any, left_ms: Any, asked: float) -> None:
        """Take the campaign's state as the server answered it: the rate ('' when none is
        set) and the pause's milliseconds left, by the server's clock."""
        now = time.monotonic()
        self._read_at = asked
        self.current = float(rate) if rate else self.ceiling
        left = int(left_ms) / 1000
        self.paused_until = now + left if left > 0 else 0.0

    async def refused(self, pause: float) -> None:
        asked = time.monotonic()
        self._recent.append(asked)  # what the run was sending, refused or not
        base = self._cut_from()  # the server decides whether this refusal cuts it
        args = [base, self.policy.decrease, self.policy.min_rate, int(pause * 1000)]
        with _PACING:
            rate, left_ms = await self._refused(keys=[self._key], args=args)
        self._shared(rate, left_ms, asked)

    async def accepted(self) -> None:
        self._recent.append(time.monotonic())
        await self.refresh()
        if self.current is None or self.current == self.ceiling:
            return
        step = self.step()
        ceiling = "" if self.ceiling is None else self.ceiling
        release = "" if self._release_at is None else self._release_at
        with _PACING:
            rate = await self._accepted(keys=[self._key], args=[step, ceiling, release])
        self.current = self.ceiling if rate is None else float(rate)

    async def rate(self) -> float | None:
        await self.refresh()
        return self.current

    async def wait_for_pause(self) -> None:
        await self.refresh()
        while (left := self.pause_left()) > 0:
            await asyncio.sleep(min(left, self._REFRESH))
            await self.refresh()
