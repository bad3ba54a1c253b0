"""Every compliance rule the system keeps: its id, what it says, where it comes from and where
it is enforced or flagged. `docs/compliance-matrix.md` is generated from this and from the tests
marked `@pytest.mark.rule("<id>")`; a test fails when they drift apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    title: str
    source: str
    enforced: str  # where it bites: refused (plan, assignment, contact…) or flagged (visit…)


CN_GUIDELINE = "China banking-association guideline on collection (2026)"
CN_STANDARD = "China national standard on collection conduct (2025)"
PIPL = "Personal Information Protection Law (个人信息保护法)"
FDCPA = "US FDCPA"
REG_F = "US Reg F (12 CFR 1006)"
RBI = "RBI Fair Practices Code and recovery-agent guidelines"

RULES: dict[str, Rule] = {
    "visit_hours": Rule(
        "Visits only inside the policy's hours, debtor-local (CN 08:00–22:00, US 08:00–21:00, "
        "IN 08:00–19:00)",
        f"{CN_GUIDELINE}; {FDCPA} §1692c(a)(1); {RBI}",
        "refused when planning; flagged on a visit report"),
    "contact_hours": Rule(
        "Calls and messages only inside the policy's contact hours, debtor-local",
        f"{CN_STANDARD}; {FDCPA} §1692c(a)(1); {REG_F} §1006.6(b)(1); {RBI}",
        "flagged on a contact attempt"),
    "blackout": Rule(
        "No visit or contact at a time or place the debtor declared off limits",
        f"{FDCPA} §1692c(a)(1) (inconvenient time or place); {CN_GUIDELINE}",
        "refused when planning; flagged on a visit or contact attempt"),
    "two_collectors": Rule(
        "A field visit is made by at least two collectors, each present on their own phone",
        f"{CN_GUIDELINE} Art. 22",
        "flagged on a visit report until a second presence pairs with it"),
    "collector_authorised": Rule(
        "Only collectors authorised and certified (unexpired) for the case's lender and "
        "jurisdiction may be assigned or planned",
        f"{CN_GUIDELINE}; {RBI} (recovery-agent certification)",
        "refused on assignment, planning and import (a row error)"),
    "contacts_when_unreachable": Rule(
        "Contacts and third parties only when the debtor is marked unreachable",
        f"{CN_STANDARD}; {FDCPA} §1692b",
        "refused on revealing a contact; flagged on a contact attempt"),
    "third_party_no_amounts": Rule(
        "What a contact or third party is told carries no amounts",
        f"{CN_STANDARD}; {FDCPA} §1692b(2)",
        "flagged on a visit report (evidence is kept); refused on a promise or receipt signed "
        "or paid by a third party"),
    "uninformed_contact_no_loan_data": Rule(
        "A contact who does not know of the loan never sees loan data",
        f"{CN_STANDARD}; {PIPL}",
        "refused on a notice, promise or receipt handed to them; no loan figures in any "
        "contact view or case document"),
    "daily_attempt_cap": Rule(
        "At most the policy's attempts per debtor per local day (CN: 3 connected calls)",
        CN_STANDARD,
        "flagged on a contact attempt, exact under concurrency"),
    "weekly_attempt_cap": Rule(
        "At most the policy's attempts per debtor in 7 days (US: 7 calls)",
        f"{REG_F} §1006.14(b)(2)",
        "flagged on a contact attempt, exact under concurrency"),
    "open_complaint_no_dispatch": Rule(
        "No dispatch (assignment or plan) while a complaint about the case is open",
        f"{CN_GUIDELINE}; {RBI}",
        "refused on assignment and planning"),
    "retention": Rule(
        "Collection records kept for the policy's period after the case closes, then purged "
        "or anonymised",
        f"{PIPL} Art. 19, 47; {CN_GUIDELINE} (records kept at least two years); "
        f"{REG_F} §1006.100 (three years)",
        "fieldvisit compliance purge (dry run first)"),
    "legal_hold": Rule(
        "Nothing under legal hold (litigation, asset preservation) is purged or erased",
        f"{PIPL} Art. 47; civil procedure (evidence preservation)",
        "purge and erasure skip held cases"),
    "subject_export": Rule(
        "A debtor may obtain everything held on them, with who read it",
        f"{PIPL} Art. 45",
        "data-subject request: export"),
    "subject_correction": Rule(
        "A debtor may have their data corrected, through review",
        f"{PIPL} Art. 46",
        "data-subject request: correction"),
    "subject_erasure": Rule(
        "A debtor's data is erased on request where no hold or retention duty applies",
        f"{PIPL} Art. 47",
        "data-subject request: erasure"),
}
