"""Retry policies (Kestra's `retry:` block) and the pure function that says when to retry."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ._duration import Duration

__all__ = ["ConstantRetry", "ExponentialRetry", "RandomRetry", "Retry", "RetryBehavior"]

RetryBehavior = Literal["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"]


class _RetryBase(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True)

    max_attempts: int | None = Field(default=None, ge=1, description="Total attempts, the first included.")
    max_duration: Duration | None = Field(default=None, description="Give up once this much time has passed since the first attempt.")
    warning_on_retry: bool = Field(default=False, description="End in WARNING (not SUCCESS) if a retry was needed.")
    behavior: RetryBehavior = Field(default="RETRY_FAILED_TASK", description="For flow-level retry: rerun the failed task, or a whole new execution.")

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """Wait before attempt number `attempt + 1` (attempt counts from 1)."""
        raise NotImplementedError

    def next_delay(
        self, attempts_done: int, elapsed: timedelta, rng: random.Random | None = None
    ) -> timedelta | None:
        """Delay before the next attempt, or None when the policy says stop. Pure."""
        if self.max_attempts is None and self.max_duration is None:
            # Kestra requires one of them; without, one retry would loop forever. Stop.
            return None
        if self.max_attempts is not None and attempts_done >= self.max_attempts:
            return None
        wait = self.delay(attempts_done, rng)
        # `wait > max - elapsed`, not `elapsed + wait > max`: a huge wait must not overflow
        if self.max_duration is not None and wait > self.max_duration - elapsed:
            return None
        return wait


class ConstantRetry(_RetryBase):
    """Wait the same `interval` between attempts."""

    type: Literal["constant"]
    interval: Duration

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        return self.interval


class ExponentialRetry(_RetryBase):
    """Wait `interval * delayFactor^(n-1)`, capped at `maxInterval`."""

    type: Literal["exponential"]
    interval: Duration
    max_interval: Duration | None = None
    delay_factor: float = Field(default=2.0, gt=0)

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        try:
            wait = self.interval * (self.delay_factor ** max(attempt - 1, 0))
        except OverflowError:  # the 50th doubling of a second is past timedelta.max
            wait = timedelta.max if self.interval > timedelta(0) else self.interval
        if self.max_interval is not None:
            wait = min(wait, self.max_interval)
        return wait


class RandomRetry(_RetryBase):
    """Wait a random time between `minInterval` and `maxInterval`."""

    type: Literal["random"]
    min_interval: Duration
    max_interval: Duration

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        lo, hi = self.min_interval.total_seconds(), self.max_interval.total_seconds()
        return timedelta(seconds=(rng or random).uniform(min(lo, hi), max(lo, hi)))


Retry = Annotated[ConstantRetry | ExponentialRetry | RandomRetry, Field(discriminator="type")]
"""One of the three retry policies, chosen by its `type`."""
