"""Rate limits, pure and with the clock injected: token buckets, a message limiter for one
WebSocket connection (its own bucket and the bucket its user shares with their other
connections), and a cap on simultaneous connections per key.

Nothing here knows about sockets or the database; ``app.web.socket`` applies the verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

Clock = Callable[[], float]


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; each message takes one."""

    __slots__ = ("_clock", "_tokens", "_updated", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a bucket needs a positive rate and room for at least one token")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._updated = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def wait_for(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are there (0 when they are there now)."""
        self._refill()
        missing = cost - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, cost: float = 1.0) -> float:
        """Take ``cost`` tokens if there; returns 0, or the seconds to wait (nothing taken)."""
        wait = self.wait_for(cost)
        if wait == 0.0:
            self._tokens -= cost
        return wait


@dataclass(frozen=True)
class Verdict:
    """What to do with one incoming message."""

    allowed: bool
    retry_after: float = 0.0
    # The client keeps sending while refused: close the connection.
    abusive: bool = False


class UserBuckets:
    """One bucket per user, shared by all their connections; forgotten with the last one."""

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[Hashable, tuple[TokenBucket, int]] = {}

    def acquire(self, key: Hashable) -> TokenBucket:
        bucket, users = self._buckets.get(key, (None, 0))
        if bucket is None:
            bucket = TokenBucket(self.rate, self.burst, self.clock)
        self._buckets[key] = (bucket, users + 1)
        return bucket

    def release(self, key: Hashable) -> None:
        bucket, users = self._buckets.get(key, (None, 0))
        if bucket is None:
            return
        if users <= 1:
            del self._buckets[key]
        else:
            self._buckets[key] = (bucket, users - 1)

    def __len__(self) -> int:
        return len(self._buckets)


class MessageLimiter:
    """The limits of one connection: its own bucket, and its user's shared bucket if any.

    A refused message costs nothing from either bucket but one strike; strikes refill slowly
    (``strikes`` saved up, ``strike_rate`` a second), and a connection that runs out of them
    keeps sending far faster than allowed and is closed.
    """

    def __init__(
        self,
        own: TokenBucket,
        user: TokenBucket | None,
        clock: Clock,
        strikes: float = 50,
        strike_rate: float = 1.0,
    ) -> None:
        self.own = own
        self.user = user
        self.strikes = TokenBucket(strike_rate, strikes, clock)
        self.refused = 0

    def admit(self) -> Verdict:
        wait = self.own.wait_for()
        if self.user is not None:
            wait = max(wait, self.user.wait_for())
        if wait == 0.0:
            self.own.take()
            if self.user is not None:
                self.user.take()
            return Verdict(True)
        self.refused += 1
        abusive = self.strikes.take() > 0
        return Verdict(False, retry_after=wait, abusive=abusive)


class ConnectionCap:
    """At most ``limit`` simultaneous connections per key (a user, or an address)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a cap lets at least one connection in")
        self.limit = limit
        self._open: dict[Hashable, int] = {}

    def try_open(self, key: Hashable) -> bool:
        count = self._open.get(key, 0)
        if count >= self.limit:
            return False
        self._open[key] = count + 1
        return True

    def close(self, key: Hashable) -> None:
        count = self._open.get(key, 0)
        if count <= 1:
            self._open.pop(key, None)
        else:
            self._open[key] = count - 1

    def count(self, key: Hashable) -> int:
        return self._open.get(key, 0)


class SocketLimits:
    """Every limit on the WebSockets of one process: simultaneous connections per user and
    per anonymous address, and the shared message bucket of each user."""

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        user_rate: float,
        user_burst: int,
        per_user: int,
        per_ip: int,
        clock: Clock,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.users = ConnectionCap(per_user)
        self.addresses = ConnectionCap(per_ip)
        self.user_buckets = UserBuckets(user_rate, user_burst, clock)

    def cap_for(self, user: Hashable | None) -> ConnectionCap:
        return self.addresses if user is None else self.users

    def limiter(self, user: Hashable | None) -> MessageLimiter:
        """The limiter of a new connection; ``release`` it when the connection ends."""
        own = TokenBucket(self.rate, self.burst, self.clock)
        shared = None if user is None else self.user_buckets.acquire(user)
        return MessageLimiter(own, shared, self.clock)

    def release(self, user: Hashable | None) -> None:
        if user is not None:
            self.user_buckets.release(user)
