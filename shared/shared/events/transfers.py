"""Events produced by the transfers service."""

import uuid

from shared.events.envelope import EventPayload


class TransferRequested(EventPayload):
    """An Admin or Project Manager asked to move licenses of one entitlement line to a child org.
    Entitlements applies it or rejects it; `quantity` None means all that is available."""

    routing_key = "transfers.transfer.requested"

    transfer_id: uuid.UUID
    from_org_id: uuid.UUID
    to_org_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    quantity: int | None = None
    requested_by: uuid.UUID | None = None
    # Who is told when it completes: the chosen (or default) representative of the receiving org.
    notify_representative: str | None = None
    cc_emails: list[str] = []
