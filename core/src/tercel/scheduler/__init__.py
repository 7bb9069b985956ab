"""The scheduler: fires schedule triggers and checks polling triggers, next to a `Runtime`.

    from tercel.scheduler import Scheduler

    async with Runtime(settings) as runtime, Scheduler(runtime):
        ...  # flows with a `Schedule` trigger run on time

The decisions are pure functions (`decide_schedule`, `plan_poll`: a trigger, its state and
`now` in; the new state and the execution to create out), tested without a database or a clock.
`Scheduler` is the loop and the store around them; the state lives in the store's ``triggers``
table (`runtime.db.triggers`), so it survives restarts and is shared by every scheduler.
"""

from ._conditions import ConditionContext, ConditionError, Conditions
from ._context import TriggerContext
from ._decide import (
    GRACE,
    Fire,
    Outcome,
    PollPlan,
    backfill_state,
    decide_schedule,
    enable,
    next_accepted,
    plan_poll,
    previous_accepted,
    release,
)
from ._model import (
    Backfill,
    TriggerState,
    blank_state,
    definition_fingerprint,
    from_record,
    to_record,
)
from ._scheduler import Scheduler

__all__ = [
    "GRACE",
    "Backfill",
    "ConditionContext",
    "ConditionError",
    "Conditions",
    "Fire",
    "Outcome",
    "PollPlan",
    "Scheduler",
    "TriggerContext",
    "TriggerState",
    "backfill_state",
    "blank_state",
    "decide_schedule",
    "definition_fingerprint",
    "enable",
    "from_record",
    "next_accepted",
    "plan_poll",
    "previous_accepted",
    "release",
    "to_record",
]
