// Administrators' teams: listed (GET /admin/teams), created (POST /admin/teams) and changed
// (PATCH /admin/teams/{id}): code, name and time zone (the zone its routes' days are planned in).
import { get, patch, post } from "../api";
import { field, h } from "../dom";
import { t } from "../i18n";
import { showError } from "./common";

export interface Team { id: number; code: string; name: string; timezone: string }
export interface Page<T> { items: T[]; page: { page: number; pages: number; total: number } }

export const teamLabel = (team: Team) => `${team.code} · ${team.name}`;

export const table = (head: string[], rows: HTMLElement[], cls: string) => h("table", { class: `cases ${cls}` },
  h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, ...rows));

/** The zones the browser knows, offered as the time zone input's suggestions. */
function zoneList(): HTMLDataListElement {
  const zones = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  return h("datalist", { id: "zones" }, ...zones.map((zone) => h("option", { value: zone })));
}

function teamFields(prefix: string, team?: Team): HTMLInputElement[] {
  return [
    h("input", { name: "code", required: true, pattern: "[A-Za-z0-9_\\-]{1,32}", value: team?.code, autocomplete: "off" }),
    h("input", { name: "name", required: true, maxlength: 120, value: team?.name }),
    h("input", { name: "timezone", required: true, list: "zones", value: team?.timezone ?? "Asia/Shanghai" }),
  ].map((input) => { input.dataset.prefix = prefix; return input; });
}

const labelled = (prefix: string, [code, name, zone]: HTMLInputElement[]) => [
  field(`${prefix}-code`, t("code"), code), field(`${prefix}-name`, t("teamName"), name),
  field(`${prefix}-timezone`, t("timezone"), zone)];

export async function teamsScreen(main: HTMLElement): Promise<void> {
  const list = h("div", { "aria-live": "polite" }, t("loading"));
  const editor = h("section", { class: "team-edit", "aria-live": "polite" });
  const inputs = teamFields("team-new");
  const outcome = h("div", { id: "team-created", role: "status" });
  const create = h("form", { class: "bulk", "aria-labelledby": "team-new-title" },
    h("h2", { id: "team-new-title" }, t("newTeam")), ...labelled("team-new", inputs),
    h("button", { type: "submit" }, t("createTeam")), outcome);
  main.append(h("h1", {}, t("teams")), zoneList(), list, editor, create);

  function edit(team: Team): void {
    const fields = teamFields("team-edit", team);
    const result = h("div", { id: "team-outcome", role: "status" });
    const form = h("form", { class: "bulk", "aria-labelledby": "team-edit-title" },
      h("h2", { id: "team-edit-title" }, `${t("editTeam")}: ${team.code}`), ...labelled("team-edit", fields),
      h("button", { type: "submit" }, t("save")), result);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const [code, name, timezone] = fields.map((input) => input.value.trim());
      const changes = Object.fromEntries(Object.entries({ code, name, timezone })
        .filter(([key, value]) => team[key as keyof Team] !== value));
      try {
        await patch<Team>(`/admin/teams/${team.id}`, changes);
        result.className = "notice";
        result.textContent = t("saved");
        await load();
      } catch (error) { showError(result, error); }
    });
    editor.replaceChildren(form);
    fields[1].focus();
  }

  async function load(): Promise<void> {
    try {
      const page = await get<Page<Team>>("/admin/teams", { page_size: 200 });
      list.replaceChildren(table([t("code"), t("teamName"), t("timezone"), ""],
        page.items.map((team) => h("tr", { "data-team-id": team.id },
          h("td", {}, team.code), h("td", {}, team.name), h("td", { class: "zone" }, team.timezone),
          h("td", {}, h("button", { type: "button", "aria-label": `${t("edit")}: ${team.code}`,
            onclick: () => edit(team) }, t("edit"))))), "team-list"));
    } catch (error) { showError(list, error); }
  }

  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [code, name, timezone] = inputs.map((input) => input.value.trim());
    try {
      await post<Team>("/admin/teams", { code, name, timezone });
      create.reset();
      outcome.className = "notice";
      outcome.textContent = t("teamCreated");
      await load();
    } catch (error) { showError(outcome, error); }
  });
  await load();
}
