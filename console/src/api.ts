// The public API, with the same bearer tokens as any client. A 401 is answered by one refresh;
// if that fails too the session is over and the console goes back to sign-in.

export interface Me { id: number; username: string; full_name: string; role: string; team_id: number | null }
interface TokenPair { access_token: string; refresh_token: string; expires_in: number; device_id: string }
interface Session { access: string; refresh: string; me: Me }

export class ApiError extends Error {
  constructor(public status: number, message: string, public fields: Record<string, string[]> = {}) {
    super(message);
  }
}

const SESSION = "fv.session";
let onExpired: () => void = () => {};

export function whenExpired(handler: () => void): void {
  onExpired = handler;
}

export function current(): Session | null {
  const raw = sessionStorage.getItem(SESSION);
  return raw ? (JSON.parse(raw) as Session) : null;
}

export function signOut(): void {
  sessionStorage.removeItem(SESSION);
}

/** Sign out on the server too (POST /auth/logout): this sign-in's tokens stop working there,
 * whatever happens to this tab. An expired access token is refreshed once for it. */
export async function logOut(): Promise<void> {
  let session = current();
  leaveScreen(); // what the screen still waits for would come back 401 and "end the session"
  signOut();
  const quiet = new AbortController().signal; // never aborted by a screen change
  try {
    if (!session) return;
    let response = await send("POST", "/auth/logout", undefined, session.access, quiet);
    if (response.status === 401) {
      session = await refresh(session);
      sessionStorage.removeItem(SESSION); // refresh() kept the new pair: not wanted here
      if (session) response = await send("POST", "/auth/logout", undefined, session.access, quiet);
    }
  } catch {
    // Offline: the tokens expire by themselves; this tab holds none any more.
  }
}

/** This browser's device id for `username` (a device belongs to one user). */
function deviceId(username: string): string {
  const key = `fv.device.${username}`;
  let id = localStorage.getItem(key);
  if (!id) {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    localStorage.setItem(key, id);
  }
  return id;
}

// What the shown screen asked for: leaving the screen aborts it, so no answer lands in a screen
// no longer shown and no request outlives its page.
let screen = new AbortController();

/** Abort everything the screen being left still waits for (the router calls this). */
export function leaveScreen(): void {
  screen.abort();
  screen = new AbortController();
}

/** A guard for a screen's reloads: each call aborts the request of the call before, so an older
 * answer (say, the list before a filter) never lands after a newer one. */
export function latest(): () => AbortSignal {
  let last: AbortController | null = null;
  return () => {
    last?.abort();
    last = new AbortController();
    return AbortSignal.any([last.signal, screen.signal]);
  };
}

/** True for the rejection of a request aborted on purpose (by `latest` or `leaveScreen`). */
export function isAborted(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

async function send(method: string, path: string, body?: unknown, token?: string,
                    signal: AbortSignal = screen.signal, extra: Record<string, string> = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json", ...extra };
  const form = body instanceof FormData; // multipart: the browser writes its Content-Type
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(path, { method, headers, signal,
    body: body === undefined ? undefined : form ? body : JSON.stringify(body) });
}

async function failure(response: Response): Promise<ApiError> {
  try {
    const { error } = await response.json();
    return new ApiError(response.status, error.message, error.fields ?? {});
  } catch {
    return new ApiError(response.status, response.statusText);
  }
}

/** Sign in; the session is kept only for the roles the console serves. */
export async function signIn(username: string, password: string): Promise<Me> {
  const login = await send("POST", "/auth/login", {
    username, password, device: { id: deviceId(username), label: "web console", platform: "web" },
  });
  if (!login.ok) throw await failure(login);
  const pair = (await login.json()) as TokenPair;
  const me = await send("GET", "/auth/me", undefined, pair.access_token);
  if (!me.ok) throw await failure(me);
  const who = (await me.json()) as Me;
  if (who.role !== "collector") {
    sessionStorage.setItem(SESSION, JSON.stringify({ access: pair.access_token, refresh: pair.refresh_token, me: who }));
  }
  return who;
}

async function refresh(session: Session): Promise<Session | null> {
  // Never aborted: the server has spent the old refresh token once it answers.
  const response = await send("POST", "/auth/refresh", { refresh_token: session.refresh }, undefined,
    new AbortController().signal);
  if (!response.ok) return null;
  const pair = (await response.json()) as TokenPair;
  const next = { ...session, access: pair.access_token, refresh: pair.refresh_token };
  sessionStorage.setItem(SESSION, JSON.stringify(next));
  return next;
}

type Query = Record<string, string | number | boolean | (string | number)[] | null | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === "" || value === false) continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(name, String(one));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** A response from the API as the signed-in user (one refresh on a 401), or an ApiError. */
async function authed(method: string, path: string, body?: unknown, accept?: string,
                      signal: AbortSignal = screen.signal, extra: Record<string, string> = {}): Promise<Response> {
  let session = current();
  if (!session) {
    onExpired();
    throw new ApiError(401, "signed out");
  }
  const go = (access: string) => accept
    ? fetch(path, { method, signal, headers: { Accept: accept, Authorization: `Bearer ${access}` } })
    : send(method, path, body, access, signal, extra);
  let response = await go(session.access);
  if (response.status === 401) {
    if (!current()) throw new ApiError(401, "signed out"); // signed out meanwhile: no refresh
    session = await refresh(session);
    if (session) response = await go(session.access);
    if (!session || response.status === 401) {
      signOut();
      onExpired();
      throw new ApiError(401, "session ended");
    }
  }
  if (!response.ok) throw await failure(response);
  return response;
}

/** Call the API as the signed-in user; JSON back, or an ApiError. */
export async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const response = await authed(method, path, body, undefined, signal);
  return (await response.json()) as T;
}

/** A file from the API (a ZIP pack), as the signed-in user. */
export async function fetchFile(path: string, accept = "application/zip"): Promise<Blob> {
  return (await authed("GET", path, undefined, accept)).blob();
}

export const get = <T>(path: string, query?: Query, signal?: AbortSignal) =>
  call<T>("GET", withQuery(path, query), undefined, signal);
export const post = <T>(path: string, body: unknown) => call<T>("POST", path, body);
export const patch = <T>(path: string, body: unknown) => call<T>("PATCH", path, body);
/** A DELETE answered 204, with no body. */
export async function remove(path: string): Promise<void> { await authed("DELETE", path); }

/** JSON and its `ETag` (for `If-Match` on a later change). */
export async function getTagged<T>(path: string): Promise<{ body: T; etag: string | null }> {
  const response = await authed("GET", path);
  return { body: (await response.json()) as T, etag: response.headers.get("ETag") };
}

/** A change sent with `If-Match: etag` (412 when someone changed the record since). */
export async function postIfMatch<T>(path: string, body: unknown, etag: string | null): Promise<T> {
  return (await changeIfMatch<T>("POST", path, body, etag)).body;
}

/** A change sent with `If-Match: etag`, and the record's new `ETag` for the next one. */
export async function changeIfMatch<T>(method: "POST" | "PATCH", path: string, body: unknown,
  etag: string | null): Promise<{ body: T; etag: string | null }> {
  const response = await authed(method, path, body, undefined, undefined, etag ? { "If-Match": etag } : {});
  return { body: (await response.json()) as T, etag: response.headers.get("ETag") };
}
