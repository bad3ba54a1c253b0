// A collector's authorisations (certificates) in the administrator's user editor: listed with
// revoked ones (GET /admin/users/{id}/authorisations), one recorded (POST …/authorisations),
// one revoked at once with its reason (POST …/authorisations/{aid}/revoke). Where a case's
// policy asks for one, a collector is given or planned a case only on a day one covers.
import { get, post } from "../api";
import { field, h } from "../dom";
import { t, when } from "../i18n";
import { notice, showError } from "./common";
import { type Page, table } from "./teams";

interface Authorisation {
  id: number; certificate_no: string; lender: string; jurisdiction: string; valid_from: string;
  expires_on: string | null; revoked_at: string | null; revoke_reason: string | null;
}

/** Draw the collector's authorisations into `box`, with the form to record one. */
export async function showAuthorisations(box: HTMLElement, user: { id: number; username: string }): Promise<void> {
  const path = `/admin/users/${user.id}/authorisations`;
  const outcome = h("div", { id: "authorisation-outcome", role: "status" });
  const list = h("div", { "aria-live": "polite" }, t("loading"));

  async function load(): Promise<void> {
    try {
      const page = await get<Page<Authorisation>>(path, { page_size: 100 });
      list.replaceChildren(page.items.length
        ? table([t("certificate"), t("lender"), t("jurisdiction"), t("validFrom"), t("expiresOn"), t("status"), ""],
          page.items.map(row), "authorisation-list")
        : h("p", {}, t("noAuthorisations")));
    } catch (error) { showError(list, error); }
  }

  function row(a: Authorisation): HTMLElement {
    const state = a.revoked_at ? `${t("revoked")} ${when(a.revoked_at)} — ${a.revoke_reason ?? ""}` : t("active");
    return h("tr", { "data-authorisation-id": a.id },
      h("td", {}, a.certificate_no), h("td", {}, a.lender === "*" ? t("anyLender") : a.lender),
      h("td", {}, a.jurisdiction), h("td", {}, a.valid_from), h("td", {}, a.expires_on ?? t("noExpiry")),
      h("td", { class: "state" }, state), h("td", {}, a.revoked_at ? null : revoking(a)));
  }

  /** The reason and the button that revokes an authorisation in force. */
  function revoking(a: Authorisation): HTMLElement {
    const reason = h("input", { name: "reason", minlength: 3, maxlength: 400,
      "aria-label": `${t("revokeReason")}: ${a.certificate_no}` });
    const revoke = h("button", { type: "button", "aria-label": `${t("revoke")}: ${a.certificate_no}` }, t("revoke"));
    revoke.addEventListener("click", async () => {
      if (reason.value.trim().length < 3) { reason.focus(); outcome.textContent = t("revokeReasonNeeded"); return; }
      revoke.disabled = true;
      try {
        await post(`${path}/${a.id}/revoke`, { reason: reason.value.trim() });
        notice(outcome, t("authorisationRevoked"));
        await load();
      } catch (error) { revoke.disabled = false; showError(outcome, error); }
    });
    return h("span", {}, reason, " ", revoke);
  }

  const certificate = h("input", { name: "certificate_no", required: true, maxlength: 64 });
  const lender = h("input", { name: "lender", value: "*", required: true, maxlength: 64 });
  const jurisdiction = h("input", { name: "jurisdiction", value: "CN", required: true, maxlength: 8 });
  const from = h("input", { name: "valid_from", type: "date", required: true });
  const until = h("input", { name: "expires_on", type: "date" });
  const form = h("form", { class: "bulk", "aria-labelledby": "authorisation-new-title" },
    h("h3", { id: "authorisation-new-title" }, t("newAuthorisation")),
    field("authorisation-certificate", t("certificate"), certificate),
    field("authorisation-lender", t("lender"), lender),
    field("authorisation-jurisdiction", t("jurisdiction"), jurisdiction),
    field("authorisation-from", t("validFrom"), from), field("authorisation-until", t("expiresOn"), until),
    h("button", { type: "submit" }, t("record")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await post(path, { certificate_no: certificate.value.trim(), lender: lender.value.trim(),
        jurisdiction: jurisdiction.value.trim(), valid_from: from.value, expires_on: until.value || null });
      notice(outcome, t("authorisationRecorded"));
      form.reset();
      await load();
    } catch (error) { showError(outcome, error); }
  });
  box.replaceChildren(h("h2", {}, `${t("authorisationsOf")} ${user.username}`), list, form, outcome);
  await load();
}
