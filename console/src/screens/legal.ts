// Legal staff: find a case (GET /cases?q= — contract, name, ID, plate, phone) and open its
// file and timeline (GET /cases/{id}, GET /cases/{id}/timeline).
import { get, latest, type Me } from "../api";
import { field, h } from "../dom";
import { t, tv, when, whenBoth, yuan } from "../i18n";
import { caseHead, caseRow, showError, type CaseItem } from "./common";
import { evidenceSection } from "./evidence";

let lastQuery = "";

export async function legalScreen(main: HTMLElement): Promise<void> {
  const q = h("input", { name: "q", type: "search", required: true, minlength: 2, maxlength: 64,
    placeholder: t("searchHint"), value: lastQuery });
  const form = h("form", { class: "filters", role: "search" }, field("legal-q", t("search"), q),
    h("button", { type: "submit" }, t("search")));
  const results = h("div", { class: "results", "aria-live": "polite" });
  main.append(h("h1", {}, t("legal")), form, results);
  q.focus();

  const fresh = latest();
  async function search(): Promise<void> {
    results.replaceChildren(t("loading"));
    try {
      const page = await get<{ items: CaseItem[] }>("/cases", { q: lastQuery, page_size: 50 }, fresh());
      if (!page.items.length) { results.replaceChildren(h("p", {}, t("noCases"))); return; }
      results.replaceChildren(h("table", { class: "cases" }, caseHead(null, true),
        h("tbody", {}, ...page.items.map((item) => caseRow(item, new Map())))));
    } catch (error) { showError(results, error); }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    lastQuery = q.value.trim();
    void search();
  });
  if (lastQuery) await search();
}

interface CaseDetail extends CaseItem { product: string; principal_fen: number; debtor: { timezone: string | null } }
interface Entry { at: string; kind: string; author_name: string | null; flags: string[]; summary: Record<string, unknown> }

function summary(entry: Entry): string {
  return Object.entries(entry.summary)
    .filter(([k, v]) => v !== null && v !== "" && typeof v !== "object" && !k.endsWith("_id"))
    .map(([k, v]) => (k.endsWith("_fen") && typeof v === "number" ? `${k.slice(0, -4)}: ${yuan(v)}` : `${k}: ${v}`))
    .join(" · ");
}

export async function caseScreen(main: HTMLElement, me: Me, id: string): Promise<void> {
  const box = h("div", { "aria-live": "polite" }, t("loading"));
  main.append(h("p", {}, h("a", { href: "#/legal" }, t("back"))), box);
  try {
    const [detail, timeline] = await Promise.all([
      get<CaseDetail>(`/cases/${encodeURIComponent(id)}`),
      get<{ items: Entry[] }>(`/cases/${encodeURIComponent(id)}/timeline`, { page_size: 100 }),
    ]);
    const zone = detail.debtor.timezone; // times also in the debtor's zone
    box.replaceChildren(
      h("h1", {}, `${t("caseFile")} ${detail.contract_no}`),
      h("dl", { class: "facts" },
        h("dt", {}, t("debtor")), h("dd", {}, detail.debtor_name + (zone ? ` (${zone})` : "")),
        h("dt", {}, t("status")), h("dd", {}, tv("status", detail.status)),
        h("dt", {}, t("bucket")), h("dd", {}, `${detail.bucket} · ${detail.days_past_due} ${t("dpd")}`),
        h("dt", {}, t("overdue")), h("dd", { id: "case-overdue" }, yuan(detail.overdue_fen)),
        h("dt", {}, t("outstanding")), h("dd", {}, yuan(detail.outstanding_fen))),
      h("h2", {}, t("timeline")),
      timeline.items.length
        ? h("ol", { class: "timeline" }, ...timeline.items.map((e) => h("li", { "data-kind": e.kind },
            h("time", { datetime: e.at }, zone ? whenBoth(e.at, zone) : when(e.at)), " ", h("strong", {}, tv("kind", e.kind)),
            e.author_name ? ` · ${e.author_name}` : "", e.flags.length ? ` · ⚑ ${e.flags.join(", ")}` : "",
            h("div", { class: "summary" }, summary(e)))))
        : h("p", {}, t("noEntries")));
    await evidenceSection(box, me, id, zone);
  } catch (error) { showError(box, error); }
}
