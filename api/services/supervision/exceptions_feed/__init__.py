"""The exceptions feed: what went wrong in the field, who should act and how, and whether it
has been dealt with. `scan` finds and clears items (a route, the CLI or cron calls it); `feed`
reads them and moves them along open → acknowledged → resolved."""

from api.services.supervision.exceptions_feed.actions import ACTIONS, action_text
from api.services.supervision.exceptions_feed.feed import (
    ExceptionFilters,
    acknowledge,
    list_items,
    reopen_server_file,
    resolve,
    visible_items,
)
from api.services.supervision.exceptions_feed.scan import ScanResult, scan, scan_as
from api.services.supervision.exceptions_feed.scope import ScanSettings

__all__ = [
    "ACTIONS",
    "ExceptionFilters",
    "ScanResult",
    "ScanSettings",
    "acknowledge",
    "action_text",
    "list_items",
    "reopen_server_file",
    "resolve",
    "scan",
    "scan_as",
    "visible_items",
]
