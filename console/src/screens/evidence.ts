// A case's evidence (GET /cases/{id}/evidence): thumbnails, capture time and place on a map with
// no tiles unless the server names them, each file's chain of custody; originals through their
// signed links (GET /evidence/{id}/download), and the case's pack built by a job
// (POST /cases/{id}/evidence-packs, GET /jobs/{id}, GET /evidence-packs/{job_id}). Every read is
// audited by the API as for any client.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { fetchFile, get, post, type Me } from "../api";
import { h } from "../dom";
import { t, when, whenBoth } from "../i18n";
import { showError } from "./common";

interface Person { id: number; username: string; full_name: string }
interface Access { at: string; action: string; actor: Person | null; device_id: string | null; variant: string | null; pack_id: string | null }
interface CustodyFile {
  id: string; kind: string; mime: string; size: number; sha256: string; status: string; flags: string[];
  captured_at: string | null; lat: number | null; lon: number | null; accuracy_m: number | null;
  declared_at: string; received_at: string | null; completed_at: string | null; device_id: string | null;
  uploader: Person | null; has_thumbnail: boolean; exif: Record<string, unknown> | null;
  record_type: string; accesses: Access[];
}
interface PackExport { at: string; actor: Person | null; files: number; manifest_sha256: string | null; pack_id: string }
interface Custody { case_id: number; contract_no: string; files: CustodyFile[]; packs: PackExport[] }
interface Link { url: string; filename: string }
interface Job { id: number; status: string; done: number; total: number | null; percent: number | null; error: string | null; result: Record<string, unknown> | null }

const who = (p: Person | null) => (p ? p.full_name || p.username : t("none"));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function tileUrl(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="fieldvisit-tiles"]')?.content ?? "";
}

/** Save a blob or a same-origin URL under `filename` (the browser's download). */
function save(href: string, filename: string): void {
  const a = h("a", { href, download: filename, class: "hidden" });
  document.body.append(a);
  a.click();
  a.remove();
}

function custody(file: CustodyFile, at: (iso: string) => string): HTMLElement {
  const exif = file.exif
    ? Object.entries(file.exif).filter(([, v]) => v !== null && typeof v !== "object").map(([k, v]) => `${k}: ${v}`).join(" · ")
    : t("none");
  const facts: [string, string][] = [
    [t("declaredAt"), at(file.declared_at)],
    [t("uploader"), who(file.uploader)],
    [t("device"), file.device_id ?? t("none")],
    [t("receivedAt"), file.received_at ? at(file.received_at) : t("none")],
    [t("completedAt"), file.completed_at ? at(file.completed_at) : t("none")],
    ["SHA-256", file.sha256],
    [t("size"), `${file.size} B`],
    ["EXIF", exif],
  ];
  return h("details", { class: "custody" },
    h("summary", {}, t("custody")),
    h("dl", { class: "facts" }, ...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h4", {}, t("accesses")),
    file.accesses.length
      ? h("ol", { class: "accesses" }, ...file.accesses.map((a) => h("li", { "data-action": a.action },
          h("time", { datetime: a.at }, at(a.at)), ` · ${who(a.actor)} · ${a.action}`,
          a.variant ? ` (${a.variant})` : "", a.pack_id ? ` · ${t("pack")} ${a.pack_id}` : "")))
      : h("p", {}, t("noAccesses")));
}

export async function evidenceSection(box: HTMLElement, me: Me, caseId: string, zone: string | null): Promise<void> {
  const at = (iso: string) => (zone ? whenBoth(iso, zone) : when(iso));
  const status = h("p", { class: "notice", role: "status", "aria-live": "polite" });
  box.append(h("h2", {}, t("evidence")), status);
  let chain: Custody;
  try {
    chain = await get<Custody>(`/cases/${encodeURIComponent(caseId)}/evidence`);
  } catch (error) { showError(status, error); return; }

  const mapBox = h("div", { id: "evidence-map", class: "map small", role: "region", "aria-label": t("evidenceMap") });
  const gallery = h("div", { class: "gallery" });
  box.append(gallery);
  const placed = chain.files.filter((f) => f.lat !== null && f.lon !== null);
  if (!chain.files.length) gallery.append(h("p", {}, t("noEvidence")));

  for (const file of chain.files) {
    const thumb = h("img", { alt: `${file.kind} · ${file.captured_at ? at(file.captured_at) : ""}`, width: 160, height: 120 });
    const download = h("button", { type: "button", class: "original" }, t("downloadOriginal"));
    download.addEventListener("click", async () => {
      try {
        const link = await get<Link>(`/evidence/${file.id}/download`);
        save(link.url, link.filename);
      } catch (error) { showError(status, error); }
    });
    const place = file.lat !== null && file.lon !== null
      ? `${file.lat.toFixed(5)}, ${file.lon.toFixed(5)}${file.accuracy_m !== null ? ` ±${Math.round(file.accuracy_m)} m` : ""}`
      : t("none");
    gallery.append(h("figure", { class: "evidence", "data-file-id": file.id },
      file.has_thumbnail ? thumb : h("div", { class: "no-thumb" }, file.mime),
      h("figcaption", {},
        h("strong", {}, `${file.kind} · ${file.record_type}`),
        h("div", {}, `${t("capturedAt")}: `, file.captured_at ? h("time", { datetime: file.captured_at, class: "captured" }, at(file.captured_at)) : t("none")),
        h("div", { class: "place" }, `${t("place")}: ${place}`),
        file.flags.length ? h("div", { class: "flags" }, `⚑ ${file.flags.join(", ")}`) : null,
        file.status === "complete" ? download : h("div", {}, `${t("status")}: ${file.status}`)),
      custody(file, at)));
    if (file.has_thumbnail) {
      get<Link>(`/evidence/${file.id}/download`, { variant: "thumbnail" })
        .then((link) => { thumb.src = link.url; })
        .catch((error) => showError(status, error));
    }
  }

  if (placed.length) {
    box.append(h("h3", {}, t("evidenceMap")), mapBox);
    const tiles = tileUrl();
    const map = L.map(mapBox, { attributionControl: Boolean(tiles) });
    if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
    const points = placed.map((f) => L.latLng(f.lat!, f.lon!));
    placed.forEach((f, i) => L.circleMarker(points[i], { radius: 8, className: "evidence-point" })
      .bindTooltip(`${f.kind} · ${f.captured_at ? at(f.captured_at) : ""}`).addTo(map));
    map.fitBounds(L.latLngBounds(points).pad(0.5), { maxZoom: 16 });
  }

  if (!["legal", "admin"].includes(me.role)) return;
  const packs = h("div", { class: "packs" });
  const progress = h("progress", { max: 100, value: 0, "aria-label": t("packProgress"), class: "hidden" });
  const request = h("button", { type: "button", id: "request-pack" }, t("requestPack"));
  const ready = h("p", { class: "pack-ready", "aria-live": "polite" });
  packs.append(h("h3", {}, t("packs")),
    chain.packs.length
      ? h("ul", { class: "pack-list" }, ...chain.packs.map((p) => h("li", {},
          `${at(p.at)} · ${who(p.actor)} · ${p.files} ${t("files")}`, p.manifest_sha256 ? ` · manifest ${p.manifest_sha256}` : "")))
      : h("p", {}, t("noPacks")),
    request, progress, ready);
  box.append(packs);

  request.addEventListener("click", async () => {
    request.disabled = true;
    ready.replaceChildren(t("packQueued"));
    progress.classList.remove("hidden");
    try {
      let job = await post<Job>(`/cases/${encodeURIComponent(caseId)}/evidence-packs`, {});
      while (!["done", "failed", "cancelled"].includes(job.status)) {
        await sleep(400);
        job = await get<Job>(`/jobs/${job.id}`);
        progress.value = job.percent ?? 0;
        ready.replaceChildren(t("packBuilding", { done: job.done, total: job.total ?? "?" }));
      }
      if (job.status !== "done") { ready.replaceChildren(h("span", { class: "error", role: "alert" }, `${t("packFailed")} ${job.error ?? job.status}`)); return; }
      progress.value = 100;
      const blob = await fetchFile(`/evidence-packs/${job.id}`);
      const filename = String(job.result?.filename ?? `evidence-${chain.contract_no}.zip`);
      const href = URL.createObjectURL(blob);
      const link = h("a", { href, download: filename, id: "pack-download" }, `${t("downloadPack")} (${filename})`);
      ready.replaceChildren(t("packReady", { files: String(job.result?.files ?? job.done) }), " ", link);
      link.focus();
    } catch (error) { showError(ready, error); } finally { request.disabled = false; }
  });
}
