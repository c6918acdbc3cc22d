"""Delivery outcomes and the retry policy, shared by the dispatcher and the sender."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass


class FailureKind(enum.StrEnum):
    RETRY = "retry"  # throttled or transient: try again later
    UNREACHABLE = "unreachable"  # the user blocked or uninstalled the bot
    PERMANENT = "permanent"  # the message itself is refused; retrying cannot help


class DeliveryFailure(Exception):
    def __init__(
        self,
        kind: FailureKind,
        detail: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail[:500]
        self.retry_after = retry_after
        # The HTTP status that caused it, when there was one (429 counts as throttling).
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff ("full jitter"), capped, with a dead-letter limit."""

    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 600.0

    def delay(self, attempts: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt number `attempts + 1`."""
        if retry_after is not None:
            # The service said when; a little jitter keeps instances from stampeding back.
            return retry_after + rng.uniform(0, min(1.0, retry_after / 10))
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return rng.uniform(ceiling / 2, ceiling)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
