"""The scheduler: fires schedule triggers, checks polling triggers and starts the flows whose
Flow triggers an ended execution satisfies, next to a `Runtime`.

    from tercel.scheduler import Scheduler

    async with Runtime(settings) as runtime, Scheduler(runtime):
        ...  # flows with a `Schedule` trigger run on time, `Flow` triggers follow executions

The decisions are pure functions (`decide_schedule`, `plan_poll`, `decide_flow`: a trigger, its
state and `now` in; the new state and the execution to create out), tested without a database
or a clock. `Scheduler` is the loop and the store around them; the state (a Flow trigger's
precondition progress included) lives in the store's ``triggers`` table (`runtime.db.triggers`),
so it survives restarts and is shared by every scheduler.
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
from ._flow import (
    FlowOutcome,
    decide_flow,
    execution_variables,
    listens,
    nested_labels,
    stop_after,
    trigger_variables,
)
from ._model import (
    Backfill,
    Progress,
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
    "FlowOutcome",
    "Outcome",
    "PollPlan",
    "Progress",
    "Scheduler",
    "TriggerContext",
    "TriggerState",
    "backfill_state",
    "blank_state",
    "decide_flow",
    "decide_schedule",
    "definition_fingerprint",
    "enable",
    "execution_variables",
    "from_record",
    "listens",
    "nested_labels",
    "next_accepted",
    "plan_poll",
    "previous_accepted",
    "release",
    "stop_after",
    "to_record",
    "trigger_variables",
]
