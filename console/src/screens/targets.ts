// Supervisors: the month's targets of their team's collectors (GET /targets, PUT /targets),
// money typed in yuan and sent in fen, and the progress against them (GET /progress).
import { ApiError, call, get, latest, type Me } from "../api";
import { field, h } from "../dom";
import { t, yuan } from "../i18n";
import { collectors, showError } from "./common";

interface CollectorTarget { collector_id: number; name: string | null; recovered_fen: number | null; visits: number | null }
interface Targets { month: string; team_id: number; collectors: CollectorTarget[] }
interface Against { target: number | null; actual: number | null; expected: number | null; achieved_bp: number | null; pace: string | null }
interface Figures { against_target: { recovered_fen: Against; visits: Against } }
interface Progress { team: Figures | null; collectors: (Figures & { collector_id: number; name: string | null })[]; working_days: number; working_days_elapsed: number }

function thisMonth(): string {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
}

const fenOf = (text: string) => (text.trim() === "" ? null : Math.round(Number(text) * 100));
const pct = (bp: number | null) => (bp === null ? t("none") : `${(bp / 100).toFixed(1)}%`);

function measure(a: Against, money: boolean): string {
  const show = (v: number | null) => (v === null ? t("none") : money ? yuan(v) : String(v));
  return `${show(a.actual)} / ${show(a.target)} · ${pct(a.achieved_bp)}${a.pace ? ` · ${t(a.pace === "on_track" ? "onTrack" : "behind")}` : ""}`;
}

export async function targetsScreen(main: HTMLElement, me: Me): Promise<void> {
  const month = h("input", { name: "month", type: "month", required: true, value: thisMonth() });
  const pick = h("form", { class: "filters" }, field("targets-month", t("month"), month), h("button", { type: "submit" }, t("show")));
  const editor = h("div", {});
  const progress = h("div", { class: "progress", "aria-live": "polite" });
  const status = h("p", { class: "notice", role: "status", "aria-live": "polite" });
  main.append(h("h1", {}, t("targets")), pick, editor, status, h("h2", {}, t("progress")), progress);

  const freshProgress = latest();
  async function showProgress(): Promise<void> {
    try {
      const p = await get<Progress>("/progress", { period: "month", month: month.value }, freshProgress());
      const row = (name: string, f: Figures, id?: number) => h("tr", { "data-collector-id": id ?? null },
        h("th", { scope: "row" }, name), h("td", { class: "recovered" }, measure(f.against_target.recovered_fen, true)),
        h("td", { class: "visits" }, measure(f.against_target.visits, false)));
      progress.replaceChildren(
        h("p", { class: "hint" }, t("workingDays", { elapsed: p.working_days_elapsed, days: p.working_days })),
        h("table", { class: "cases progress-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("collector")), h("th", { scope: "col" }, t("recovered")), h("th", { scope: "col" }, t("visitsFiled")))),
          h("tbody", {}, ...p.collectors.map((c) => row(c.name ?? `#${c.collector_id}`, c, c.collector_id)),
            p.team ? row(t("team"), p.team) : null)));
    } catch (error) { showError(progress, error); }
  }

  const fresh = latest();
  async function load(): Promise<void> {
    editor.replaceChildren(t("loading"));
    status.replaceChildren();
    try {
      const [targets, team] = await Promise.all([get<Targets>("/targets", { month: month.value }, fresh()), collectors(me)]);
      const set = new Map(targets.collectors.map((c) => [c.collector_id, c]));
      const all: CollectorTarget[] = team.map((c) => set.get(c.id)
        ?? { collector_id: c.id, name: c.name, recovered_fen: null, visits: null });
      const rows = all.map((c) => {
        const money = h("input", { name: `recovered-${c.collector_id}`, type: "number", min: 0, step: "0.01", inputmode: "decimal",
          value: c.recovered_fen === null ? "" : (c.recovered_fen / 100).toFixed(2) });
        const visits = h("input", { name: `visits-${c.collector_id}`, type: "number", min: 0, step: 1,
          value: c.visits === null ? "" : String(c.visits) });
        const who = c.name ?? `#${c.collector_id}`;
        return { c, money, visits, el: h("tr", { "data-collector-id": c.collector_id }, h("th", { scope: "row" }, who),
          h("td", {}, field(`target-recovered-${c.collector_id}`, `${t("recoveredTarget")} · ${who}`, money)),
          h("td", {}, field(`target-visits-${c.collector_id}`, `${t("visitsTarget")} · ${who}`, visits))) };
      });
      const form = h("form", { class: "targets" },
        h("table", { class: "cases target-table" }, h("tbody", {}, ...rows.map((r) => r.el))),
        h("button", { type: "submit" }, t("saveTargets")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await call<Targets>("PUT", "/targets", {
            month: month.value, team_id: me.team_id ?? targets.team_id,
            collectors: rows.map((r) => ({ collector_id: r.c.collector_id, recovered_fen: fenOf(r.money.value),
              visits: r.visits.value.trim() === "" ? null : Number(r.visits.value) })),
          });
          status.replaceChildren(t("targetsSaved"));
          await showProgress();
        } catch (error) {
          if (error instanceof ApiError && error.status === 401) return;
          showError(status, error);
        }
      });
      editor.replaceChildren(form);
      await showProgress();
    } catch (error) { showError(editor, error); }
  }
  pick.addEventListener("submit", (event) => { event.preventDefault(); void load(); });
  await load();
}
