/**
 * A stand-in for the gateway's HTTP API in unit tests ("(fake API)" tests):
 * a `Deno.serve` on a loopback port 0 that answers with a scripted handler and
 * records every request. End-to-end tests use the real gateway instead.
 *
 * @module
 */

import type { ErrorBody } from "../proto/api_types.ts";
import type { ErrorCode } from "../proto/errors.ts";

/** A request the fake API received. */
export interface RecordedRequest {
  method: string;
  path: string;
  search: string;
  authorization: string | null;
  body: unknown;
}

/** A running fake API. */
export interface FakeApi extends AsyncDisposable {
  url: string;
  requests: RecordedRequest[];
}

/** A JSON response, as the gateway writes them. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** An error response in the API's `{error: {code, message, hint}}` shape. */
export function apiError(
  status: number,
  code: ErrorCode,
  message: string,
  hint?: string,
): Response {
  const body: ErrorBody = { error: { code, message, hint } };
  return json(body, status);
}

/** Start a fake API answering with `handler`. */
export function startFakeApi(
  handler: (req: RecordedRequest) => Response | Promise<Response>,
): FakeApi {
  const requests: RecordedRequest[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      const text = await req.text();
      const recorded: RecordedRequest = {
        method: req.method,
        path: url.pathname,
        search: url.search,
        authorization: req.headers.get("authorization"),
        body: text ? JSON.parse(text) : undefined,
      };
      requests.push(recorded);
      return await handler(recorded);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A loopback port nothing listens on: bound, then closed. */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
