"""Messages that carry training events from the job's thread to the dashboard.

The job calls its listeners on the training thread; the listener only wraps the event in one of
these and `post_message`s it (thread-safe). Step events come fastest, so `TrainingSteps` may
collapse a backlog into one message — without losing points: the surviving (newest) message takes
over the older one's events, so the loss curve stays complete.
"""

from __future__ import annotations

from textual.message import Message

from whisper_tui.training.events import StepEvent, TrainingEvent


class TrainingEventMessage(Message):
    """Any training event except steps; `job_id` lets the dashboard ignore a previous job's stragglers."""

    def __init__(self, event: TrainingEvent, job_id: int) -> None:
        super().__init__()
        self.event = event
        self.job_id = job_id


class TrainingSteps(Message):
    """One or more StepEvents, oldest first."""

    def __init__(self, event: StepEvent, job_id: int) -> None:
        super().__init__()
        self.events: list[StepEvent] = [event]
        self.job_id = job_id

    @property
    def latest(self) -> StepEvent:
        return self.events[-1]

    def can_replace(self, message: Message) -> bool:
        # Called on this (older) message with the next queued one; if True the queued one is
        # delivered instead of this one, so hand our events over to it first.
        if isinstance(message, TrainingSteps) and message.job_id == self.job_id:
            message.events[:0] = self.events
            return True
        return False


def message_for(event: TrainingEvent, job_id: int) -> Message:
    if isinstance(event, StepEvent):
        return TrainingSteps(event, job_id)
    return TrainingEventMessage(event, job_id)
