"""The policies a new installation starts with, one per jurisdiction. Admins copy and change
them as new versions; these are only the first versions."""

from __future__ import annotations

from api.config import Policy

# China: 2026 banking-association guideline and the 2025 national standard (22:00–08:00 quiet,
# two collectors, 3 connected calls a day), records kept at least two years.
CN = Policy(name="cn-default", default_timezone="Asia/Shanghai")

# US: FDCPA §1692c(a)(1) (08:00–21:00 at the consumer's location), Reg F §1006.14(b)(2)
# (7 call attempts in 7 days), one collector may visit; Reg F §1006.100: records 3 years.
US = Policy(
    name="us-fdcpa",
    visit_hours_end="21:00",
    contact_hours_end="21:00",
    min_collectors_per_visit=1,
    daily_attempt_cap=None,
    weekly_attempt_cap=7,
    attempts_counted="calls",
    retention_days=3 * 365,
    default_timezone="America/Chicago",
)

# India: RBI Fair Practices Code / recovery-agent guidelines (08:00–19:00), one agent may visit.
IN = Policy(
    name="in-rbi",
    visit_hours_end="19:00",
    contact_hours_end="19:00",
    min_collectors_per_visit=1,
    daily_attempt_cap=None,
    attempts_counted="calls",
    retention_days=8 * 365,
    default_timezone="Asia/Kolkata",
)

PRESETS: dict[str, Policy] = {"CN": CN, "US": US, "IN": IN}
