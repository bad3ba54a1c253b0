// The route map of a day: for the chosen collectors, each one's published route (GET /routes,
// GET /routes/{id}) with its stops in order, the visits filed that day with their flags
// (GET /visits) and the team's unassigned cases (GET /cases?with=location). A supervisor plans
// several collectors at once (POST /routes: the stops chosen, some pinned, optionally
// distributed among them) and re-plans a route, dropping stops (POST /routes/{id}/replan).
// Tiles only if the server names a tile URL (FIELDVISIT_CONSOLE_TILE_URL); without one the
// markers and lines stand on a blank map.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { get, latest, post, type Me } from "../api";
import { field, h } from "../dom";
import { flagText, t, when, whenBoth } from "../i18n";
import { collectors, showError, type Collector } from "./common";
import {
  COLOURS, drawCases, drawRoute, drawVisits, fit, routeStops, type Located, type Plan, type Visit,
} from "./map_layers";

const OPEN = ["active", "promised", "partly_paid"];

function tileUrl(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="fieldvisit-tiles"]')?.content ?? "";
}

function today(): string {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

const choice = { collectors: null as string[] | null, day: today() };

/** The collectors to choose from, and the team's time zone (a supervisor's, from GET /progress). */
async function team(me: Me): Promise<{ people: Collector[]; zone: string | null }> {
  if (me.role !== "supervisor") return { people: await collectors(me), zone: null };
  const p = await get<{ timezone: string; collectors: { collector_id: number; name: string | null }[] }>("/progress");
  return { people: p.collectors.map((c) => ({ id: c.collector_id, name: c.name ?? `#${c.collector_id}` })), zone: p.timezone };
}

export async function mapScreen(main: HTMLElement, me: Me): Promise<void> {
  const out = h("div", { class: "route", "aria-live": "polite" });
  const outcome = h("p", { id: "map-outcome", class: "notice", role: "status" });
  main.append(h("h1", {}, t("map")));
  let people: Collector[], zone: string | null;
  try { ({ people, zone } = await team(me)); } catch (error) { showError(out, error); main.append(out); return; }
  const names = new Map(people.map((c) => [c.id, c.name]));
  const boxes = people.map((c) => h("input", {
    type: "checkbox", name: "collector", value: String(c.id),
    checked: choice.collectors ? choice.collectors.includes(String(c.id)) : true,
  }));
  const day = h("input", { name: "day", type: "date", required: true, value: choice.day });
  const form = h("form", { class: "filters" },
    h("fieldset", { class: "collectors" }, h("legend", {}, t("collectorsLegend")),
      ...people.map((c, i) => h("label", { class: "check" }, boxes[i], ` ${c.name}`))),
    field("map-day", t("day"), day),
    h("button", { type: "submit" }, t("show")));
  const tiles = tileUrl();
  const mapBox = h("div", { id: "route-map", class: "map", role: "region", "aria-label": t("map") });
  const visitsBox = h("div", { class: "visits-done" });
  const planBox = h("div", { class: "plan-box" });
  main.append(form, h("p", { class: "hint" }, `${t("tiles")}: ${tiles || t("noTiles")}`), mapBox,
    outcome, out, visitsBox, planBox);

  const map = L.map(mapBox, { zoomControl: true, attributionControl: Boolean(tiles) }).setView([30, 110], 4);
  if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
  const layer = L.layerGroup().addTo(map);
  const chosen = () => boxes.filter((b) => b.checked).map((b) => Number(b.value));
  const nameOf = (id: number | null) => (id === null ? t("none") : names.get(id) ?? `#${id}`);

  const fresh = latest();
  async function show(): Promise<void> {
    Object.assign(choice, { collectors: chosen().map(String), day: day.value });
    const ids = chosen();
    const signal = fresh();
    out.replaceChildren(t("loading"));
    try {
      const [plans, visits, unassigned, held] = await Promise.all([
        Promise.all(ids.map(async (id) => {
          const page = await get<{ items: { id: number }[] }>("/routes", {
            collector_id: id, day: day.value, status: "published", page_size: 1 }, signal);
          return page.items.length ? get<Plan>(`/routes/${page.items[0].id}`, {}, signal) : null;
        })),
        get<{ items: Visit[] }>("/visits", { date_from: day.value, date_to: day.value, page_size: 100 }, signal),
        get<{ items: Located[] }>("/cases", { unassigned: true, status: OPEN, with: "location", page_size: 200 }, signal),
        Promise.all(ids.map((id) => get<{ items: Located[] }>("/cases", {
          collector_id: id, status: OPEN, page_size: 200 }, signal))),
      ]);
      layer.clearLayers();
      const points = plans.flatMap((p, i) => (p ? drawRoute(layer, p, i % COLOURS) : []));
      const theirs = visits.items.filter((v) => ids.includes(v.author_id));
      points.push(...drawVisits(layer, theirs, visitLabel));
      points.push(...drawCases(layer, unassigned.items));
      fit(map, points);
      out.replaceChildren(...ids.map((id, i) => plans[i] ? routeSection(plans[i]!, i % COLOURS)
        : h("p", { class: "no-route" }, t("noRouteFor", { name: nameOf(id) }))));
      showVisits(theirs);
      planBox.replaceChildren(planForm(ids, held.flatMap((page) => page.items), unassigned.items));
    } catch (error) { showError(out, error); }
  }

  function visitLabel(v: Visit): string {
    const at = zone ? whenBoth(v.started_at, zone) : when(v.started_at);
    const flags = v.flags.map(flagText).join(", ");
    return `${at} · ${v.contract_no} · ${v.author_name ?? nameOf(v.author_id)} · ${v.outcome}${flags ? ` · ⚑ ${flags}` : ""}`;
  }

  function showVisits(visits: Visit[]): void {
    visitsBox.replaceChildren(h("h2", {}, t("visitsDone")), visits.length
      ? h("ul", { class: "visits" }, ...visits.map((v) => h("li", {
          "data-visit-id": v.id, "data-case-id": v.case_id, class: v.flags.length ? "flagged" : null,
        }, visitLabel(v))))
      : h("p", {}, t("noVisits")));
  }

  function routeSection(plan: Plan, colour: number): HTMLElement {
    const who = plan.collector_name ?? nameOf(plan.collector_id);
    const stops = routeStops(plan);
    const drops = new Map<number, HTMLInputElement>();
    const replan = async () => {
      try {
        const next = await post<Plan>(`/routes/${plan.id}/replan`, {
          cancelled_case_ids: [...drops].filter(([, box]) => box.checked).map(([id]) => id) });
        outcome.textContent = t("replanned", { version: next.version });
        await show();
      } catch (error) { showError(outcome, error); }
    };
    return h("section", { class: `collector-day route-${colour}`, "data-collector-id": plan.collector_id,
      "aria-labelledby": `route-${plan.id}` },
      h("h2", { id: `route-${plan.id}` }, t("routeOf", { name: who, version: plan.version })),
      h("p", {}, t("distance", { km: (plan.totals.distance_m / 1000).toFixed(1) })),
      h("ol", { class: "stops" }, ...stops.map((s) => {
        const contract = s.contract_no ?? String(s.case_id);
        const drop = h("input", { type: "checkbox", name: "drop", value: s.case_id, "aria-label": t("dropStop", { contract }) });
        if (s.status === "planned") drops.set(s.case_id, drop);
        return h("li", { "data-case-id": s.case_id, class: s.pinned ? "pinned" : null },
          s.status === "planned" ? drop : null,
          ` ${s.arrival ? whenBoth(s.arrival, plan.timezone) + " · " : ""}${contract} · ${s.debtor_name ?? ""} · ${s.address_text ?? ""}`,
          s.pinned ? h("span", { class: "badge" }, ` ${t("pinned")}`) : null,
          s.status !== "planned" ? h("span", { class: "badge" }, ` ${s.status}`) : null);
      })),
      ...(plan.unplanned.length ? [h("h3", {}, t("unplanned")), h("ul", { class: "unplanned-list" },
        ...plan.unplanned.map((s) => h("li", {}, `${s.contract_no ?? s.case_id}: ${s.detail ?? s.reason ?? ""}`)))] : []),
      ...(plan.cancelled.length ? [h("h3", {}, t("dropped")), h("ul", { class: "cancelled-list" },
        ...plan.cancelled.map((s) => h("li", { "data-case-id": s.case_id }, `${s.contract_no ?? s.case_id}: ${s.reason ?? ""}`)))] : []),
      h("button", { type: "button", onclick: () => void replan() }, t("replan", { name: who })));
  }

  /** The cases the chosen collectors hold (to visit unless unticked) and the unassigned ones
   * (to add); each may be pinned to its holder. */
  function planForm(ids: number[], held: Located[], unassigned: Located[]): HTMLElement {
    const rows = [...held, ...unassigned].map((c) => {
      const visit = h("input", { type: "checkbox", name: "visit", value: c.id, checked: c.collector_id !== null,
        "aria-label": t("planVisit", { contract: c.contract_no }) });
      const pin = h("input", { type: "checkbox", name: "pin", value: c.id, disabled: c.collector_id === null,
        "aria-label": t("planPin", { contract: c.contract_no }) });
      return { c, visit, pin, el: h("tr", { "data-case-id": c.id },
        h("td", {}, visit), h("td", {}, pin), h("td", {}, c.contract_no), h("td", {}, c.debtor_name),
        h("td", { class: "holder" }, nameOf(c.collector_id))) };
    });
    const distribute = h("input", { type: "checkbox", name: "distribute", id: "plan-distribute" });
    const form = h("form", { class: "plan", "aria-labelledby": "plan-title" },
      h("h2", { id: "plan-title" }, t("planTitle")),
      h("table", { class: "cases plan-cases" },
        h("thead", {}, h("tr", {}, ...[t("select"), t("pinned"), t("contract"), t("debtor"), t("holder")]
          .map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ...rows.map((r) => r.el))),
      h("div", { class: "field check" }, distribute, h("label", { for: "plan-distribute" }, t("distribute"))),
      h("button", { type: "submit" }, t("planChosen")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const stops = rows.filter((r) => r.visit.checked).map((r) => ({ case_id: r.c.id, pinned: r.pin.checked }));
      if (!ids.length || !stops.length) { outcome.textContent = t("nothingChosen"); return; }
      outcome.textContent = t("planning");
      try {
        const result = await post<{ plans: Plan[] }>("/routes", {
          day: day.value, collector_ids: ids, stops, distribute: distribute.checked });
        outcome.textContent = t("plannedRoutes", { n: result.plans.length });
        await show();
      } catch (error) { showError(outcome, error); }
    });
    return form;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void show();
  });
  if (people.length) await show();
}
