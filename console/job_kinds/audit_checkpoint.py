"""`audit-checkpoint`: sign the head of the audit chain (schedule it nightly, so that even a
quiet installation has a recent signed checkpoint to verify against)."""

from __future__ import annotations

from console import audit
from console.jobs import Checkpoint, JobContext, JobFailed, JobKind, Params, job_kind
from console.permissions import Permission


class AuditCheckpointState(Checkpoint):
    signed: bool = False
    checkpoint_id: int | None = None
    last_event_id: int | None = None


@job_kind
class AuditCheckpoint(JobKind[Params, AuditCheckpointState]):
    name = "audit-checkpoint"
    title = "Audit checkpoint"
    description = "Sign the current head of the audit chain with the installation's key"
    permission = Permission.AUDIT_READ

    def estimate(self, ctx: JobContext, params: Params, checkpoint: AuditCheckpointState) -> int:
        return 1

    def step(self, ctx: JobContext, params: Params,
             checkpoint: AuditCheckpointState) -> AuditCheckpointState | None:
        if checkpoint.signed:
            return None
        if ctx.keys is None:
            raise JobFailed("no signing key available to this process")
        made = audit.checkpoint(ctx.db, ctx.actor, ctx.keys)
        checkpoint.signed = True
        if made is not None:
            checkpoint.checkpoint_id, checkpoint.last_event_id = made.id, made.last_event_id
            ctx.advance(1, f"signed the chain up to event {made.last_event_id}")
        else:
            ctx.advance(1, "the head of the chain was already signed")
        return checkpoint
