"""Every kind of field record that is read back, by the name its routes use."""

from api.services.fieldwork.records.common import RecordKind
from api.services.fieldwork.records.others import (
    NOTICES,
    PROMISES,
    RECEIPTS,
    REPOSSESSIONS,
    SIGHTINGS,
)
from api.services.fieldwork.records.visits import VISITS

KINDS: dict[str, RecordKind] = {
    "visits": VISITS,
    "promises": PROMISES,
    "receipts": RECEIPTS,
    "notices": NOTICES,
    "sightings": SIGHTINGS,
    "repossessions": REPOSSESSIONS,
}
