// Pieces the screens share: collectors of the team, the case table, errors.
import { ApiError, get, isAborted, type Me } from "../api";
import { h } from "../dom";
import { t, tv, yuan } from "../i18n";

export interface CaseItem {
  id: number; contract_no: string; debtor_name: string; bucket: string; status: string;
  days_past_due: number; overdue_fen: number; outstanding_fen: number;
  collector_id: number | null; team_id: number | null; matched_on?: string[];
}
export interface PageMeta { page: number; pages: number; total: number; page_size: number }
export interface Collector { id: number; name: string }

/** The collectors a supervisor can assign to (their team's, from GET /progress); an
 * administrator's from GET /admin/users. */
export async function collectors(me: Me): Promise<Collector[]> {
  if (me.role === "admin") {
    const page = await get<{ items: { id: number; full_name: string; username: string }[] }>(
      "/admin/users", { role: "collector", page_size: 200 });
    return page.items.map((u) => ({ id: u.id, name: u.full_name || u.username }));
  }
  const progress = await get<{ collectors: { collector_id: number; name: string | null }[] }>("/progress");
  return progress.collectors.map((c) => ({ id: c.collector_id, name: c.name ?? `#${c.collector_id}` }));
}

/** A result said in `where` (a status line), in place of what it said before. */
export function notice(where: HTMLElement, text: string): void {
  where.className = "notice";
  where.replaceChildren(text);
}

export function showError(where: HTMLElement, error: unknown): void {
  if (error instanceof ApiError && error.status === 401) return; // back at sign-in already
  if (isAborted(error)) return; // a newer load, or another screen, took over
  const named = error instanceof ApiError ? Object.entries(error.fields) : [];
  const text = error instanceof ApiError
    ? [error.message, ...named.map(([name, why]) => `${name}: ${why.join(", ")}`)].join(" ")
    : String(error);
  where.replaceChildren(h("p", { class: "error", role: "alert" }, t("error") + text));
}

export function caseRow(item: CaseItem, names: Map<number, string>, select?: HTMLInputElement): HTMLElement {
  const holder = item.collector_id === null ? t("none") : names.get(item.collector_id) ?? `#${item.collector_id}`;
  return h("tr", { "data-case-id": item.id },
    select ? h("td", {}, select) : null,
    h("td", {}, h("a", { href: `#/case/${item.id}` }, item.contract_no)),
    h("td", {}, item.debtor_name),
    h("td", {}, item.bucket),
    h("td", { class: "num" }, String(item.days_past_due)),
    h("td", { class: "num" }, yuan(item.overdue_fen)),
    h("td", { class: "num" }, yuan(item.outstanding_fen)),
    h("td", {}, tv("status", item.status)),
    h("td", { class: "holder" }, holder),
    item.matched_on ? h("td", {}, item.matched_on.join(", ")) : null);
}

export function caseHead(withSelect: HTMLElement | null, withMatch = false): HTMLElement {
  const cols = [t("contract"), t("debtor"), t("bucket"), t("dpd"), t("overdue"), t("outstanding"), t("status"), t("collector")];
  if (withMatch) cols.push(t("matchedOn"));
  return h("thead", {}, h("tr", {}, withSelect ? h("th", { scope: "col" }, withSelect) : null,
    ...cols.map((c) => h("th", { scope: "col" }, c))));
}
