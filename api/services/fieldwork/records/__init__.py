"""Reading back what the field recorded: visit reports, promises, receipts, notices served,
vehicle sightings and repossessions, for the people whose cases they belong to. A record of a
case the reader may not see does not exist for them (`api.services.identity.access`); every
page and every record read is audited."""

from api.services.fieldwork.records.common import RecordFilters, list_records, record_detail
from api.services.fieldwork.records.kinds import KINDS

__all__ = ["KINDS", "RecordFilters", "list_records", "record_detail"]
