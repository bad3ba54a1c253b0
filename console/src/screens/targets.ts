// Supervisors: the month's targets of the team itself and of its collectors (GET /targets,
// PUT /targets), money typed in yuan and sent in fen; the progress against them for a month,
// a week or a day (GET /progress?period=) and the leaderboard of the same period
// (GET /progress/leaderboard: recovery and compliance side by side).
import { ApiError, call, get, latest, type Me } from "../api";
import { field, h } from "../dom";
import { t, tx, yuan } from "../i18n";
import { collectors, showError } from "./common";

interface Measures { recovered_fen: number | null; visits: number | null }
interface CollectorTarget extends Measures { collector_id: number; name: string | null }
interface Targets { month: string; team_id: number; team: (Measures & { derived: boolean }) | null; collectors: CollectorTarget[] }
interface Against { target: number | null; actual: number | null; expected: number | null; achieved_bp: number | null; pace: string | null }
interface Figures { against_target: { recovered_fen: Against; visits: Against } }
interface Progress {
  team: (Figures & { targets_derived: boolean }) | null; collectors: (Figures & { collector_id: number; name: string | null })[];
  working_days: number; working_days_elapsed: number; first_day: string; last_day: string;
}
interface BoardRow {
  rank: number; collector_id: number; name: string | null; recovered_fen: number; recovery_target_fen: number | null;
  recovery_achieved_bp: number | null; visits: number; geofence_compliance_bp: number | null;
  visit_hour_compliance_bp: number | null; compliance_bp: number; score_bp: number | null;
}

function thisMonth(): string {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
}

function today(): string {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

const fenOf = (text: string) => (text.trim() === "" ? null : Math.round(Number(text) * 100));
const countOf = (text: string) => (text.trim() === "" ? null : Number(text));
const pct = (bp: number | null) => (bp === null ? t("none") : `${(bp / 100).toFixed(1)}%`);
const money = (fen: number | null) => (fen === null ? t("none") : yuan(fen));

function measure(a: Against, isMoney: boolean): string {
  const show = (v: number | null) => (v === null ? t("none") : isMoney ? yuan(v) : String(v));
  return `${show(a.actual)} / ${show(a.target)} · ${pct(a.achieved_bp)}${a.pace ? ` · ${t(a.pace === "on_track" ? "onTrack" : "behind")}` : ""}`;
}

function targetInputs(id: string, who: string, m: Measures | null) {
  const recovered = h("input", { name: `recovered-${id}`, type: "number", min: 0, step: "0.01", inputmode: "decimal",
    value: m?.recovered_fen == null ? "" : (m.recovered_fen / 100).toFixed(2) });
  const visits = h("input", { name: `visits-${id}`, type: "number", min: 0, step: 1,
    value: m?.visits == null ? "" : String(m.visits) });
  const cells = [
    h("td", {}, field(`target-recovered-${id}`, `${t("recoveredTarget")} · ${who}`, recovered)),
    h("td", {}, field(`target-visits-${id}`, `${t("visitsTarget")} · ${who}`, visits))];
  return { recovered, visits, cells, value: () => ({ recovered_fen: fenOf(recovered.value), visits: countOf(visits.value) }) };
}

export async function targetsScreen(main: HTMLElement, me: Me): Promise<void> {
  const month = h("input", { name: "month", type: "month", required: true, value: thisMonth() });
  const period = h("select", { name: "period" },
    ...["month", "week", "day"].map((p) => h("option", { value: p }, tx("period", p))));
  const day = h("input", { name: "date", type: "date", value: today() });
  const pick = h("form", { class: "filters" }, field("targets-month", t("month"), month),
    field("progress-period", t("period"), period), field("progress-date", t("day"), day),
    h("button", { type: "submit" }, t("show")));
  const editor = h("div", {});
  const progress = h("div", { class: "progress", "aria-live": "polite" });
  const board = h("div", { class: "leaderboard-box" });
  const status = h("p", { class: "notice", role: "status", "aria-live": "polite" });
  main.append(h("h1", {}, t("targets")), pick, editor, status, h("h2", {}, t("progress")), progress,
    h("h2", {}, t("leaderboard")), board);

  const when = () => (period.value === "month" ? { period: "month", month: month.value } : { period: period.value, date: day.value });
  const freshProgress = latest();
  async function showProgress(): Promise<void> {
    const signal = freshProgress();
    try {
      const [p, ranks] = await Promise.all([
        get<Progress>("/progress", when(), signal),
        get<{ collectors: BoardRow[] }>("/progress/leaderboard", when(), signal)]);
      const row = (name: string, f: Figures, id?: number) => h("tr", { "data-collector-id": id ?? null, class: id ? null : "team" },
        h("th", { scope: "row" }, name), h("td", { class: "recovered" }, measure(f.against_target.recovered_fen, true)),
        h("td", { class: "visits" }, measure(f.against_target.visits, false)));
      progress.replaceChildren(
        h("p", { class: "hint period-range" }, `${tx("period", period.value)} · ${t("periodRange", { first: p.first_day, last: p.last_day })} · `,
          t("workingDays", { elapsed: p.working_days_elapsed, days: p.working_days })),
        h("table", { class: "cases progress-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("collector")), h("th", { scope: "col" }, t("recovered")), h("th", { scope: "col" }, t("visitsFiled")))),
          h("tbody", {}, ...p.collectors.map((c) => row(c.name ?? `#${c.collector_id}`, c, c.collector_id)),
            p.team ? row(t("team"), p.team) : null)),
        ...(p.team?.targets_derived ? [h("p", { class: "hint" }, t("derivedTarget"))] : []));
      const heads = [t("rank"), t("collector"), t("recoveredCol"), t("targetCol"), t("achieved"), t("visitsCol"),
        t("geofence"), t("visitHoursCol"), t("compliance"), t("score")];
      board.replaceChildren(h("table", { class: "cases leaderboard" },
        h("thead", {}, h("tr", {}, ...heads.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ...ranks.collectors.map((r) => h("tr", { "data-collector-id": r.collector_id },
          h("td", { class: "num rank" }, String(r.rank)), h("th", { scope: "row" }, r.name ?? `#${r.collector_id}`),
          h("td", { class: "num" }, yuan(r.recovered_fen)), h("td", { class: "num" }, money(r.recovery_target_fen)),
          h("td", { class: "num" }, pct(r.recovery_achieved_bp)), h("td", { class: "num" }, String(r.visits)),
          h("td", { class: "num" }, pct(r.geofence_compliance_bp)), h("td", { class: "num" }, pct(r.visit_hour_compliance_bp)),
          h("td", { class: "num compliance" }, pct(r.compliance_bp)), h("td", { class: "num score" }, pct(r.score_bp)))))));
    } catch (error) { showError(progress, error); }
  }

  const fresh = latest();
  async function load(): Promise<void> {
    editor.replaceChildren(t("loading"));
    status.replaceChildren();
    try {
      const [targets, team] = await Promise.all([get<Targets>("/targets", { month: month.value }, fresh()), collectors(me)]);
      const set = new Map(targets.collectors.map((c) => [c.collector_id, c]));
      const rows = team.map((c) => {
        const who = c.name;
        const inputs = targetInputs(String(c.id), who, set.get(c.id) ?? null);
        return { id: c.id, inputs, el: h("tr", { "data-collector-id": c.id }, h("th", { scope: "row" }, who), ...inputs.cells) };
      });
      const own = targets.team && !targets.team.derived ? targets.team : null;
      const teamInputs = targetInputs("team", t("team"), own);
      const form = h("form", { class: "targets" },
        h("table", { class: "cases target-table" }, h("tbody", {}, ...rows.map((r) => r.el),
          h("tr", { class: "team" }, h("th", { scope: "row" }, t("team")), ...teamInputs.cells))),
        h("button", { type: "submit" }, t("saveTargets")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const teamTarget = teamInputs.value();
        try {
          await call<Targets>("PUT", "/targets", {
            month: month.value, team_id: me.team_id ?? targets.team_id,
            team: teamTarget.recovered_fen === null && teamTarget.visits === null ? null : teamTarget,
            collectors: rows.map((r) => ({ collector_id: r.id, ...r.inputs.value() })),
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
