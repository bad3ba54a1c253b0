"""The reference device client: what a phone does to take part in offline sync.

Mobile developers port this package; the tests use it to simulate phones; the benchmarks drive it.
It needs only the standard library (sqlite3, json, urllib), so it runs anywhere.

The protocol, from the phone's side
-----------------------------------
1. **Identity.** The app generates a device id (UUID) once and keeps it with its store. Login
   (`POST /auth/login` with `device {id, label, platform}`) binds it to the user; every request
   carries the short-lived access token, renewed through `/auth/refresh` on a 401
   `token_expired` (and by signing in again if the refresh token is refused).
2. **Recording.** Everything the collector creates (a contact attempt, a note, a proposal) is a
   *mutation*: it takes the next mutation id (1, 2, 3… per device, never reused, never
   renumbered) and a client-generated UUID for the record it creates. The mutation goes into the
   outbox, and a copy into `sent`, in ONE local transaction that is durable before the UI says
   "saved". The record is the device's from then on: nothing the server says deletes it.
3. **Push** (`POST /sync/push`): outbox entries, oldest first, in batches. One result per
   mutation: `applied`, `rejected` (a business refusal; the message is kept) and `duplicate`
   (the server had it already: it carries the `original` answer) are final, so the entry leaves
   the outbox. `not_applied` (it follows a failure) stays for the next push. A 503 means "retry
   after Retry-After seconds". A network error means the outcome is *unknown*: keep everything
   and send it again later; the server recognises replays by mutation id and answers
   `duplicate`. `gap` means the server is missing earlier mutations (it was restored from a
   backup): resend from the one it expects, taking them from `sent` if the outbox no longer
   has them, under their own ids (never renumber). Send `device_time` (the phone's clock) with
   each batch: the server flags records from a phone whose clock is far off.
4. **Pull** (`GET /sync/pull`): no cursor means a bootstrap. Each page is applied in ONE local
   transaction together with its cursor (`put`: store the document, `remove`: drop it; the
   `entity` is `case` or `route`, a route plan of the collector's, which arrives after the
   cases on a bootstrap and is replaced by its next version at a re-plan), following
   `has_more` to the end. The cursor is opaque. A 410 `sync_reset` means: drop
   the local cases, routes and the cursor, keep the outbox and `sent`, bootstrap again. Send the
   reference data version you hold (`ref_version`); new reference data comes with the page.
5. **Order.** Push before pull, so that the pulled documents already contain the device's own
   records. A page's `last_mutation_id` says which of the device's mutations the server has
   committed. (Outbox entries up to it could be dropped unsent, but resending them is cheap and
   tells whether each was applied or rejected, so this client resends.) A server that claims
   more than the device ever numbered means the local store is an old copy: stop, and sign the
   phone in as a new device, or new records would be taken for replays and lost.
6. **Crash safety.** The app can be killed at any instruction. State changes only inside local
   transactions, and no local transaction is ever held open across a network call (request
   first, then one transaction for the answer). Reopening the same store resumes: at worst a
   push is answered `duplicate` or a page is fetched twice, and both are harmless.

Modules: `transport` (requests and answers), `store` (the local SQLite store and its outbox),
`client` (`DeviceClient`: push, pull, uploads, signing in).
"""

from clients.device.client import DeviceClient, PullReport, PushReport, SyncReport
from clients.device.store import Record
from clients.device.transport import (
    FlaskTransport,
    HttpTransport,
    NetworkError,
    Response,
    SyncError,
    Transport,
)

__all__ = [
    "DeviceClient",
    "FlaskTransport",
    "HttpTransport",
    "NetworkError",
    "PullReport",
    "PushReport",
    "Record",
    "Response",
    "SyncError",
    "SyncReport",
    "Transport",
]
