// A collector's planned route on a map (GET /routes, GET /routes/{id}): the start, the stops
// in order joined by a line, what could not be planned. Tiles only if the server names a tile
// URL (FIELDVISIT_CONSOLE_TILE_URL); without one the markers and line stand on a blank map.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { get, post, type Me } from "../api";
import { field, h } from "../dom";
import { t, whenBoth } from "../i18n";
import { collectors, showError } from "./common";

interface Stop {
  case_id: number; sequence: number | null; lat: number; lon: number; status: string;
  contract_no: string | null; debtor_name: string | null; address_text: string | null;
  arrival: string | null; reason: string | null;
}
interface Plan {
  id: number; collector_name: string | null; service_day: string; status: string; timezone: string;
  start: { lat: number; lon: number; kind: string }; stops: Stop[]; unplanned: Stop[];
  totals: { distance_m: number; stops: number };
}

function tileUrl(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="fieldvisit-tiles"]')?.content ?? "";
}

function today(): string {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

const choice = { collector: "", day: today() };

export async function mapScreen(main: HTMLElement, me: Me): Promise<void> {
  const out = h("div", { class: "route", "aria-live": "polite" });
  main.append(h("h1", {}, t("map")));
  let team;
  try { team = await collectors(me); } catch (error) { showError(out, error); main.append(out); return; }
  const collector = h("select", { name: "collector_id", required: true },
    ...team.map((c) => h("option", { value: String(c.id) }, c.name)));
  if (choice.collector) collector.value = choice.collector;
  const day = h("input", { name: "day", type: "date", required: true, value: choice.day });
  const form = h("form", { class: "filters" },
    field("map-collector", t("collector"), collector), field("map-day", t("day"), day),
    h("button", { type: "submit" }, t("show")),
    h("button", { type: "button", id: "plan-day", onclick: () => void planDay() }, t("planDay")));
  const tiles = tileUrl();
  const mapBox = h("div", { id: "route-map", class: "map", role: "region", "aria-label": t("map") });
  main.append(form, h("p", { class: "hint" }, `${t("tiles")}: ${tiles || t("noTiles")}`), mapBox, out);

  const map = L.map(mapBox, { zoomControl: true, attributionControl: Boolean(tiles) }).setView([30, 110], 4);
  if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
  const layer = L.layerGroup().addTo(map);

  async function show(): Promise<void> {
    layer.clearLayers();
    out.replaceChildren(t("loading"));
    try {
      const routes = await get<{ items: { id: number }[] }>("/routes", {
        collector_id: collector.value, day: day.value, status: "published", page_size: 1,
      });
      if (!routes.items.length) { out.replaceChildren(h("p", {}, t("noRoute"))); return; }
      const plan = await get<Plan>(`/routes/${routes.items[0].id}`);
      draw(plan);
    } catch (error) { showError(out, error); }
  }

  /** Plan the collector's day over the open cases they hold (POST /routes); it supersedes
   * an earlier plan of theirs for that day. */
  async function planDay(): Promise<void> {
    layer.clearLayers();
    out.replaceChildren(t("planning"));
    Object.assign(choice, { collector: collector.value, day: day.value });
    try {
      const held = await get<{ items: { id: number }[] }>("/cases", {
        collector_id: collector.value, status: ["active", "promised", "partly_paid"], page_size: 200,
      });
      if (!held.items.length) { out.replaceChildren(h("p", {}, t("nothingToPlan"))); return; }
      const result = await post<{ plans: Plan[] }>("/routes", {
        day: day.value, collector_id: Number(collector.value), case_ids: held.items.map((c) => c.id),
      });
      draw(result.plans[0]);
    } catch (error) { showError(out, error); }
  }

  function draw(plan: Plan): void {
    const stops = plan.stops.filter((s) => s.sequence !== null).sort((a, b) => a.sequence! - b.sequence!);
    const start: L.LatLngTuple = [plan.start.lat, plan.start.lon];
    const line: L.LatLngTuple[] = [start, ...stops.map((s) => [s.lat, s.lon] as L.LatLngTuple)];
    L.circleMarker(start, { radius: 8, className: "start" }).bindTooltip(plan.start.kind).addTo(layer);
    L.polyline(line, { className: "route-line", weight: 3 }).addTo(layer);
    stops.forEach((s, i) => {
      L.marker([s.lat, s.lon], {
        icon: L.divIcon({ className: `stop stop-${s.status}`, html: String(i + 1), iconSize: [24, 24] }),
        title: `${i + 1}. ${s.contract_no ?? s.case_id}`, keyboard: true,
      }).addTo(layer);
    });
    for (const s of plan.unplanned) {
      L.circleMarker([s.lat, s.lon], { radius: 6, className: "unplanned" })
        .bindTooltip(`${s.contract_no ?? s.case_id}: ${s.reason ?? ""}`).addTo(layer);
    }
    map.fitBounds(L.latLngBounds([...line, ...plan.unplanned.map((s) => [s.lat, s.lon] as L.LatLngTuple)]),
      { padding: [24, 24], maxZoom: 16 });
    out.replaceChildren(
      h("p", {}, t("distance", { km: (plan.totals.distance_m / 1000).toFixed(1) })),
      h("h2", {}, t("stops")),
      h("ol", { class: "stops" }, ...stops.map((s) => h("li", { "data-case-id": s.case_id },
        `${s.arrival ? whenBoth(s.arrival, plan.timezone) + " · " : ""}${s.contract_no ?? s.case_id} · ${s.debtor_name ?? ""} · ${s.address_text ?? ""}`))),
      ...(plan.unplanned.length ? [h("h2", {}, t("unplanned")),
        h("ul", { class: "unplanned-list" }, ...plan.unplanned.map((s) =>
          h("li", {}, `${s.contract_no ?? s.case_id}: ${s.reason ?? ""}`)))] : []));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(choice, { collector: collector.value, day: day.value });
    void show();
  });
  if (team.length) await show();
}
