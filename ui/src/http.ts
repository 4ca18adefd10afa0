// The caller's identity on plain HTTP requests, and the server's own JSON API (``/v1/...``).

/** Who the page speaks for: a bearer token when the server checks tokens, else a user name. */
export interface Caller {
  user: string;
  token: string;
}

export function callerHeaders(caller: Caller): Record<string, string> {
  if (caller.token) return { Authorization: `Bearer ${caller.token}` };
  return caller.user ? { "X-User-Id": caller.user } : {};
}

export function fetchAs(caller: Caller): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    for (const [name, value] of Object.entries(callerHeaders(caller))) headers.set(name, value);
    return fetch(input, { ...init, headers });
  };
}

/** How the server's own API words an error. */
interface Problem {
  error?: { code: number; message: string };
}

/** ``POST /v1/feedback``: a 1–5 rating of a finished task. */
export async function rate(caller: Caller, taskId: string, rating: number): Promise<string> {
  const response = await fetchAs(caller)("/v1/feedback", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ taskId, rating }),
  });
  const body = (await response.json()) as Problem & { agent?: string };
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
  return body.agent ?? "";
}

/** A JSON document of the server's own API (``/v1/...``), as the caller. */
export async function getJson<T>(caller: Caller, path: string): Promise<T> {
  const response = await fetchAs(caller)(path, { headers: { Accept: "application/json" } });
  const body = (await response.json()) as T & Problem;
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
  return body;
}
