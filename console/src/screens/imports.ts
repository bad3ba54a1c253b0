// Administrators' imports: the runs with their status, progress and counts (GET /imports), one
// run with its row errors (GET /imports/{id}); a run not finished shows its progress bar, is read
// again every 2 s, and can be cancelled (POST /imports/{id}/cancel: it stops after its chunk).
// A lender file uploaded from here (POST /imports, multipart) opens its run.
import { get, post, withQuery, type Me } from "../api";
import { field, h } from "../dom";
import { t, tv, when } from "../i18n";
import { showError } from "./common";
import { type Page, table } from "./teams";

interface RowError { row: number | null; field: string; contract_no: string | null; message: string }
interface Run {
  id: number; kind: string; filename: string | null; file_format: string; dry_run: boolean; started_at: string;
  finished_at: string | null; status: string; done: number; total: number | null; percent: number | null;
  cancel_requested: boolean; error: string | null;
  rows: number; created: number; updated: number; unchanged: number; error_count: number; errors?: RowError[];
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const UNFINISHED = ["queued", "running"];
const unfinished = (run: Run) => UNFINISHED.includes(run.status);

function counts(run: Run): string {
  return t("importCounts", { rows: run.rows, created: run.created, updated: run.updated, unchanged: run.unchanged });
}

/** The run's state: finished (when), or its progress bar with done of total. */
function state(run: Run): HTMLElement {
  if (!unfinished(run)) {
    const text = run.status === "done" ? `${t("finished")} ${when(run.finished_at!)}`
      : `${tv("import", run.status)}${run.finished_at ? ` ${when(run.finished_at)}` : ""}`;
    return h("span", { class: `import-${run.status}` }, text, run.error ? ` — ${run.error}` : "");
  }
  const percent = Math.round(run.percent ?? 0);
  return h("span", { class: `import-${run.status}` }, tv("import", run.status), " ",
    h("progress", { max: 100, value: percent, "aria-label": `${t("importProgressLabel")} #${run.id}` }),
    " ", h("span", { class: "progress-text" }, t("importProgress", { done: run.done, total: run.total ?? "?", percent })),
    run.cancel_requested ? h("span", { class: "hint" }, " ", t("cancelRequested")) : null);
}

/** Upload a cases or payments file (JSON or CSV, by its name), optionally as a dry run. */
function uploadForm(): HTMLElement {
  const kind = h("select", { name: "kind" },
    h("option", { value: "cases" }, t("casesFile")), h("option", { value: "payments" }, t("paymentsFile")));
  const file = h("input", { type: "file", name: "file", accept: ".json,.csv", required: true });
  const dry = h("input", { type: "checkbox", name: "dry_run", id: "import-dry" });
  const send = h("button", { type: "submit" }, t("uploadImport"));
  const outcome = h("div", { id: "import-outcome", role: "status" });
  const form = h("form", { class: "bulk", "aria-labelledby": "import-new-title" },
    h("h2", { id: "import-new-title" }, t("newImport")),
    field("import-kind", t("kind"), kind), field("import-file", t("file"), file),
    h("div", { class: "field check" }, dry, h("label", { for: "import-dry" }, t("dryRun"))), send, outcome);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) { file.focus(); return; }
    const body = new FormData();
    body.append("file", chosen, chosen.name);
    send.disabled = true;
    try {
      // wait=false: the run is queued and followed on its own page, whatever its size.
      const run = await post<Run>(withQuery("/imports", { kind: kind.value, dry_run: dry.checked, wait: "false" }), body);
      location.hash = `#/import/${run.id}`;
    } catch (error) { showError(outcome, error); } finally { send.disabled = false; }
  });
  return form;
}

export async function importsScreen(main: HTMLElement): Promise<void> {
  const list = h("div", { "aria-live": "polite" }, t("loading"));
  main.append(h("h1", {}, t("imports")), uploadForm(), list);
  try {
    for (;;) {
      const page = await get<Page<Run>>("/imports", { page_size: 50 });
      list.replaceChildren(page.items.length ? table(
        ["#", t("kind"), t("file"), t("started"), t("status"), t("counts"), t("rowErrors")],
        page.items.map((r) => h("tr", { "data-run-id": r.id },
          h("td", {}, h("a", { href: `#/import/${r.id}` }, `#${r.id}`)), h("td", {}, r.kind + (r.dry_run ? ` (${t("dryRun")})` : "")),
          h("td", {}, r.filename ?? r.file_format), h("td", {}, when(r.started_at)),
          h("td", { class: "state" }, state(r)),
          h("td", {}, counts(r)), h("td", { class: r.error_count ? "num error" : "num" }, String(r.error_count)))), "import-list")
        : h("p", {}, t("noImports")));
      if (!main.isConnected || !page.items.some(unfinished)) return;
      await sleep(2000);
    }
  } catch (error) { showError(list, error); }
}

export async function importScreen(main: HTMLElement, _me: Me, id: string): Promise<void> {
  const box = h("div", { "aria-live": "polite" }, t("loading"));
  const outcome = h("div", { id: "import-outcome", role: "status" });
  main.append(h("p", {}, h("a", { href: "#/imports" }, t("back"))), outcome, box);
  const path = `/imports/${encodeURIComponent(id)}`;
  let wake: () => void = () => {};

  function cancelButton(run: Run): HTMLElement | null {
    if (!unfinished(run) || run.cancel_requested) return null;
    const button = h("button", { type: "button", id: "import-cancel" }, t("cancelImport"));
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        show(await post<Run>(`${path}/cancel`, {}));
        wake();
      } catch (error) { button.disabled = false; showError(outcome, error); }
    });
    return button;
  }

  function show(run: Run): void {
    const errors = run.errors ?? [];
    box.replaceChildren(h("h1", {}, `${t("importRun")} #${run.id} · ${run.kind}`),
      h("dl", { class: "facts" },
        h("dt", {}, t("file")), h("dd", {}, run.filename ?? run.file_format),
        h("dt", {}, t("started")), h("dd", {}, when(run.started_at)),
        h("dt", {}, t("status")), h("dd", { id: "import-state" }, state(run), " ", cancelButton(run)),
        h("dt", {}, t("counts")), h("dd", {}, counts(run)),
        h("dt", {}, t("rowErrors")), h("dd", { id: "import-errors" }, String(run.error_count))),
      errors.length ? table([t("row"), t("fieldName"), t("contract"), t("message")],
        errors.map((e) => h("tr", {}, h("td", { class: "num" }, e.row === null ? t("none") : String(e.row)),
          h("td", {}, e.field), h("td", {}, e.contract_no ?? t("none")), h("td", {}, e.message))), "row-errors")
        : h("p", {}, t("noRowErrors")));
  }

  try {
    for (;;) {
      const run = await get<Run>(path);
      show(run);
      if (!unfinished(run) || !main.isConnected) return;
      await new Promise<void>((done) => { wake = done; void sleep(2000).then(() => done()); });
    }
  } catch (error) { showError(box, error); }
}
