// The supervisor's case queue: filters and search (GET /cases), select, assign in bulk
// (POST /assignments). The bulk form is a draft kept in the browser until it is sent.
import { get, latest, post, type Me } from "../api";
import { dropDraft, field, h, keepDraft } from "../dom";
import { t, tv } from "../i18n";
import { caseHead, caseRow, collectors, showError, type CaseItem, type PageMeta } from "./common";

const BUCKETS = ["current", "M1", "M2", "M3", "M3+"];
const STATUSES = ["active", "promised", "partly_paid", "settled", "legal", "written_off"];
const filters = { q: "", bucket: "", status: "", unassigned: false, page: 1 };

function options(values: string[], label: (v: string) => string): HTMLOptionElement[] {
  return [h("option", { value: "" }, t("any")), ...values.map((v) => h("option", { value: v }, label(v)))];
}

export async function queueScreen(main: HTMLElement, me: Me): Promise<void> {
  const q = h("input", { name: "q", type: "search", placeholder: t("searchHint"), value: filters.q, maxlength: 64 });
  const bucket = h("select", { name: "bucket" }, ...options(BUCKETS, (v) => v));
  const status = h("select", { name: "status" }, ...options(STATUSES, (v) => tv("status", v)));
  bucket.value = filters.bucket;
  status.value = filters.status;
  const unassigned = h("input", { name: "unassigned", type: "checkbox", checked: filters.unassigned });
  const filterForm = h("form", { class: "filters", role: "search" },
    field("queue-q", t("search"), q), field("queue-bucket", t("bucket"), bucket),
    field("queue-status", t("status"), status),
    h("div", { class: "field check" }, unassigned, h("label", { for: "queue-unassigned" }, t("unassigned"))),
    h("button", { type: "submit" }, t("apply")));
  unassigned.id = "queue-unassigned";

  const results = h("div", { class: "results", "aria-live": "polite" }, t("loading"));
  const outcome = h("div", { id: "assign-outcome", role: "status" });
  main.append(h("h1", {}, t("queue")), filterForm, results);

  let names = new Map<number, string>();
  let team: { id: number; name: string }[] = [];
  try {
    team = await collectors(me);
    names = new Map(team.map((c) => [c.id, c.name]));
  } catch (error) { showError(results, error); return; }

  const caseIds = h("input", { type: "hidden", name: "case_ids" });
  const collector = h("select", { name: "collector_id", required: true },
    h("option", { value: "" }, "…"),
    h("option", { value: "none" }, t("backToTeam")),
    ...team.map((c) => h("option", { value: String(c.id) }, c.name)));
  const reason = h("input", { name: "reason", required: true, maxlength: 188 });
  const count = h("span", { id: "selected-count" });
  const bulk = h("form", { class: "bulk", "aria-labelledby": "bulk-title" },
    h("h2", { id: "bulk-title" }, t("bulkAssign")), count, caseIds,
    field("bulk-collector", t("assignTo"), collector), field("bulk-reason", t("reason"), reason),
    h("button", { type: "submit" }, t("assign")), outcome);
  const draft = `bulk-assign.${me.username}`;
  keepDraft(bulk, draft);
  main.append(bulk);

  const selected = new Set(caseIds.value.split(",").filter(Boolean).map(Number));
  const noteSelection = () => {
    caseIds.value = [...selected].join(",");
    count.textContent = t("selected", { n: selected.size });
    bulk.dispatchEvent(new Event("input"));
  };
  count.textContent = t("selected", { n: selected.size });

  const fresh = latest();
  async function load(): Promise<void> {
    results.replaceChildren(t("loading"));
    try {
      const page = await get<{ items: CaseItem[]; page: PageMeta }>("/cases", {
        q: filters.q.trim(), bucket: filters.bucket, status: filters.status,
        unassigned: filters.unassigned || null, page: filters.page, page_size: 50,
      }, fresh());
      const boxes = page.items.map((item) => {
        const box = h("input", {
          type: "checkbox", "aria-label": `${t("select")} ${item.contract_no}`, checked: selected.has(item.id),
        });
        box.addEventListener("change", () => {
          if (box.checked) selected.add(item.id); else selected.delete(item.id);
          all.checked = boxes.every((b) => b.checked);
          noteSelection();
        });
        return box;
      });
      const all = h("input", { type: "checkbox", "aria-label": t("selectAll"),
        checked: boxes.length > 0 && boxes.every((b) => b.checked) });
      all.addEventListener("change", () => {
        boxes.forEach((b, i) => {
          b.checked = all.checked;
          if (all.checked) selected.add(page.items[i].id); else selected.delete(page.items[i].id);
        });
        noteSelection();
      });
      if (!page.items.length) { results.replaceChildren(h("p", {}, t("noCases"))); return; }
      const meta = page.page;
      results.replaceChildren(
        h("table", { class: "cases" }, caseHead(all),
          h("tbody", {}, ...page.items.map((item, i) => caseRow(item, names, boxes[i])))),
        h("div", { class: "pager" },
          h("button", { type: "button", disabled: meta.page <= 1,
            onclick: () => { filters.page -= 1; void load(); } }, t("previous")),
          h("span", {}, t("page", { page: meta.page, pages: meta.pages, total: meta.total })),
          h("button", { type: "button", disabled: meta.page >= meta.pages,
            onclick: () => { filters.page += 1; void load(); } }, t("next"))));
    } catch (error) { showError(results, error); }
  }

  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(filters, { q: q.value, bucket: bucket.value, status: status.value,
      unassigned: unassigned.checked, page: 1 });
    void load();
  });

  bulk.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!selected.size) { outcome.textContent = t("selected", { n: 0 }); return; }
    try {
      const done = await post<{ assigned: number; unchanged: number }>("/assignments", {
        case_ids: [...selected],
        collector_id: collector.value === "none" ? null : Number(collector.value),
        reason: reason.value.trim(),
      });
      outcome.className = "notice";
      outcome.textContent = t("assigned", { n: done.assigned, m: done.unchanged });
      selected.clear();
      reason.value = "";
      noteSelection();
      dropDraft(draft);
      await load();
    } catch (error) { showError(outcome, error); }
  });

  await load();
}
