// Review of field proposals (GET /proposals?status=): the phones, addresses and contacts
// collectors learnt at the door, each beside what its case file holds now (GET /cases/{id});
// accept or reject one with a note (POST /proposals/{id}/review), sent with `If-Match`: the
// `ETag` of the proposal as read just before (GET /proposals/{id}), so a proposal someone else
// reviewed meanwhile is refused (409 or 412) and never reviewed twice.
import { ApiError, get, getTagged, latest, postIfMatch, type Me } from "../api";
import { field, h } from "../dom";
import { t, tx, when, whenBoth } from "../i18n";
import { collectors, showError } from "./common";

interface Proposal {
  id: string; case_id: number; author_id: number; kind: string; data: Record<string, unknown>;
  note: string | null; status: string; received_at: string; case_reassigned: boolean;
  reviewed_at: string | null; review_note: string | null;
}
interface CaseNow {
  id: number; contract_no: string; debtor_name: string;
  debtor: { timezone: string | null; mobile_phone: string | null; home_phone: string | null; work_phone: string | null };
  addresses: { id: number; kind: string; text: string; lat: number | null; lon: number | null }[];
  contacts: { id: number; name: string; relation: string; phone: string | null }[];
}

const STATUSES = ["pending", "accepted", "rejected"];
let shown = "pending";

/** The proposed detail, worded. */
function proposed(p: Proposal): string {
  const d = p.data as Record<string, string | number | boolean | null>;
  if (p.kind === "phone") {
    const whose = d.belongs_to === "contact" ? `${t("ofContact")} ` : "";
    return `${whose}${tx("phoneLabel", String(d.label ?? "mobile"))}: ${d.phone}`;
  }
  if (p.kind === "address") {
    const where = typeof d.lat === "number" && typeof d.lon === "number"
      ? ` (${d.lat.toFixed(5)}, ${d.lon.toFixed(5)}${d.datum ? ` ${d.datum}` : ""})` : "";
    return `${tx("addressKind", String(d.kind))}: ${d.text}${where}`;
  }
  return `${d.name} · ${t("relation")}: ${d.relation}${d.phone ? ` · ${d.phone}` : ""}`;
}

function caseNow(c: CaseNow): HTMLElement {
  const phones = (["mobile", "home", "work"] as const)
    .map((label) => [label, c.debtor[`${label}_phone`]] as const).filter(([, v]) => v);
  return h("div", { class: "case-now" }, h("h3", {}, t("caseNow")),
    h("p", {}, `${t("addresses")}:`),
    h("ul", { class: "addresses" }, ...c.addresses.map((a) => h("li", { "data-address-id": a.id }, `${tx("addressKind", a.kind)}: ${a.text}`))),
    h("p", { class: "phones" }, `${t("phones")}: `, phones.map(([l, v]) => `${tx("phoneLabel", l)} ${v}`).join(" · ") || t("none")));
}

export async function proposalsScreen(main: HTMLElement, me: Me): Promise<void> {
  const status = h("select", { name: "status" },
    ...STATUSES.map((s) => h("option", { value: s, selected: s === shown }, tx("proposalStatus", s))));
  const pick = h("form", { class: "filters" }, field("proposal-status", t("status"), status),
    h("button", { type: "submit" }, t("show")));
  const outcome = h("p", { id: "proposal-outcome", class: "notice", role: "status" });
  const list = h("div", { class: "proposals", "aria-live": "polite" }, t("loading"));
  main.append(h("h1", {}, t("proposals")), pick, outcome, list);
  let names = new Map<number, string>();
  try { names = new Map((await collectors(me)).map((c) => [c.id, c.name])); } catch (error) { showError(list, error); return; }

  const fresh = latest();
  async function load(): Promise<void> {
    const signal = fresh();
    try {
      const page = await get<{ items: Proposal[] }>("/proposals", { status: shown, page_size: 100 }, signal);
      if (!page.items.length) { list.replaceChildren(h("p", {}, t("noProposals"))); return; }
      const ids = [...new Set(page.items.map((p) => p.case_id))];
      const files = new Map((await Promise.all(ids.map((id) => get<CaseNow>(`/cases/${id}`, {}, signal))))
        .map((c) => [c.id, c]));
      list.replaceChildren(...page.items.map((p) => card(p, files.get(p.case_id)!)));
    } catch (error) { showError(list, error); }
  }

  async function review(p: Proposal, decision: "accept" | "reject", note: string): Promise<void> {
    try {
      const { body, etag } = await getTagged<Proposal>(`/proposals/${encodeURIComponent(p.id)}`);
      if (body.status !== "pending") throw new ApiError(409, "already reviewed");
      await postIfMatch(`/proposals/${encodeURIComponent(p.id)}/review`,
        { decision, ...(note ? { note } : {}) }, etag);
      outcome.textContent = t(decision === "accept" ? "acceptedOne" : "rejectedOne");
    } catch (error) {
      if (!(error instanceof ApiError && (error.status === 409 || error.status === 412))) {
        showError(outcome, error);
        return;
      }
      outcome.textContent = t("reviewedElsewhere");
    }
    await load();
  }

  function card(p: Proposal, file: CaseNow): HTMLElement {
    const zone = file.debtor.timezone;
    const note = h("input", { name: "review_note", maxlength: 200 });
    const act = (decision: "accept" | "reject") => () => void review(p, decision, note.value.trim());
    return h("article", { class: `proposal state-${p.status}`, "data-proposal-id": p.id, "data-kind": p.kind,
      "aria-labelledby": `prop-${p.id}` },
      h("h2", { id: `prop-${p.id}` }, `${tx("proposal", p.kind)} · `,
        h("a", { href: `#/case/${p.case_id}` }, file.contract_no), ` · ${file.debtor_name}`),
      h("p", { class: "proposed" }, proposed(p)),
      h("p", { class: "hint" }, `${t("filedBy")}: ${names.get(p.author_id) ?? `#${p.author_id}`} · `,
        zone ? whenBoth(p.received_at, zone) : when(p.received_at)),
      p.note ? h("p", {}, `${t("collectorNote")}: ${p.note}`) : null,
      p.reviewed_at ? h("p", { class: "reviewed" },
        `${t("reviewedBy")}: ${when(p.reviewed_at)}${p.review_note ? ` · ${p.review_note}` : ""}`) : null,
      caseNow(file),
      p.status === "pending" ? h("div", { class: "filters" },
        field(`prop-note-${p.id}`, t("reviewNote"), note),
        h("button", { type: "button", onclick: act("accept") }, t("accept")),
        h("button", { type: "button", onclick: act("reject") }, t("reject"))) : null);
  }

  pick.addEventListener("submit", (event) => {
    event.preventDefault();
    shown = status.value;
    outcome.textContent = "";
    void load();
  });
  await load();
}
