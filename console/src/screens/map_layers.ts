// What the route map draws: each collector's route (its own colour, numbered stops in order,
// pinned ones marked), the visits filed that day (flagged ones stand out) and the unassigned
// cases. Only markers, lines and circles: nothing here needs a tile server.
import L from "leaflet";

export interface Stop {
  case_id: number; sequence: number | null; lat: number; lon: number; status: string; pinned: boolean;
  contract_no: string | null; debtor_name: string | null; address_text: string | null;
  arrival: string | null; reason: string | null; detail: string | null;
}
export interface Plan {
  id: number; version: number; collector_id: number; collector_name: string | null; service_day: string;
  status: string; timezone: string; start: { lat: number; lon: number; kind: string };
  stops: Stop[]; unplanned: Stop[]; cancelled: Stop[]; totals: { distance_m: number; stops: number };
}
export interface Visit {
  id: string; case_id: number; contract_no: string; debtor_name: string; author_id: number;
  author_name: string | null; started_at: string; outcome: string; flags: string[];
  lat: number | null; lon: number | null; geofence: string; distance_m: number | null;
}
export interface Located {
  id: number; contract_no: string; debtor_name: string; collector_id: number | null;
  location?: { lat: number; lon: number } | null;
}

export const COLOURS = 6;
type Point = L.LatLngTuple;

/** The stops still on the route (done ones first), in their order. */
export function routeStops(plan: Plan): Stop[] {
  return plan.stops.filter((s) => s.sequence !== null).sort((a, b) => a.sequence! - b.sequence!);
}

export function drawRoute(layer: L.LayerGroup, plan: Plan, colour: number): Point[] {
  const stops = routeStops(plan);
  const start: Point = [plan.start.lat, plan.start.lon];
  const line: Point[] = [start, ...stops.map((s) => [s.lat, s.lon] as Point)];
  const who = plan.collector_name ?? `#${plan.collector_id}`;
  L.circleMarker(start, { radius: 8, className: `start route-${colour}` }).bindTooltip(`${who}: ${plan.start.kind}`).addTo(layer);
  L.polyline(line, { className: `route-line route-${colour}`, weight: 3 }).addTo(layer);
  stops.forEach((s, i) => {
    L.marker([s.lat, s.lon], {
      icon: L.divIcon({
        className: `stop route-${colour} stop-${s.status}${s.pinned ? " pinned" : ""}`,
        html: String(i + 1), iconSize: [24, 24],
      }),
      title: `${who} ${i + 1}. ${s.contract_no ?? s.case_id}`, keyboard: true,
    }).addTo(layer);
  });
  for (const s of plan.unplanned) {
    L.circleMarker([s.lat, s.lon], { radius: 6, className: "unplanned" })
      .bindTooltip(`${s.contract_no ?? s.case_id}: ${s.reason ?? ""}`).addTo(layer);
  }
  return [...line, ...plan.unplanned.map((s) => [s.lat, s.lon] as Point)];
}

export function drawVisits(layer: L.LayerGroup, visits: Visit[], label: (v: Visit) => string): Point[] {
  const points: Point[] = [];
  for (const v of visits) {
    if (v.lat === null || v.lon === null) continue;
    L.circleMarker([v.lat, v.lon], { radius: 7, className: `visit${v.flags.length ? " flagged" : ""}` })
      .bindTooltip(label(v)).addTo(layer);
    points.push([v.lat, v.lon]);
  }
  return points;
}

export function drawCases(layer: L.LayerGroup, cases: Located[]): Point[] {
  const points: Point[] = [];
  for (const c of cases) {
    if (!c.location) continue;
    L.circleMarker([c.location.lat, c.location.lon], { radius: 6, className: "unassigned-case" })
      .bindTooltip(`${c.contract_no} · ${c.debtor_name}`).addTo(layer);
    points.push([c.location.lat, c.location.lon]);
  }
  return points;
}

export function fit(map: L.Map, points: Point[]): void {
  if (points.length) map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 16 });
}
