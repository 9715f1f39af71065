/**
 * ID tokens forged by the test: a stand-in provider (discovery, JWKS, an
 * authorize endpoint that signs nobody in, and a token endpoint answering
 * with a defective ID token signed by `npm:jose`) in front of a real
 * gateway. A certified provider never sends these, which is why it cannot
 * be the one to test them; each must end in a refusal that names the
 * problem, and none may sign anybody in.
 */
import assert from "node:assert/strict";
import * as jose from "jose";
import { followGateway } from "./_oidc_provider.ts";
import { freePort, startGateway } from "./_harness.ts";

type Defect = "none" | "audience" | "expired" | "unknown-key" | "alg-none" | "token-503";

async function startForger(clientId: string) {
  const port = freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const known = await jose.generateKeyPair("RS256", { extractable: true });
  const stranger = await jose.generateKeyPair("RS256");
  const jwk = {
    ...(await jose.exportJWK(known.publicKey)),
    kid: "known",
    alg: "RS256",
    use: "sig",
  };
  const state = { defect: "none" as Defect, nonce: "" };

  const idToken = async (): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      email: "mallory@example.com",
      groups: ["hoop-admins"],
      nonce: state.nonce,
    };
    if (state.defect === "alg-none") {
      const enc = (o: unknown) => jose.base64url.encode(JSON.stringify(o));
      return `${enc({ alg: "none" })}.${
        enc({ ...claims, iss: issuer, sub: "m", aud: clientId, iat: now, exp: now + 300 })
      }.`;
    }
    const jwt = new jose.SignJWT(claims)
      .setProtectedHeader({
        alg: "RS256",
        kid: state.defect === "unknown-key" ? "stranger" : "known",
      })
      .setIssuer(issuer)
      .setSubject("m")
      .setAudience(state.defect === "audience" ? "some-other-client" : clientId)
      .setIssuedAt(state.defect === "expired" ? now - 7200 : now)
      .setExpirationTime(state.defect === "expired" ? now - 3600 : now + 300);
    return await jwt.sign(state.defect === "unknown-key" ? stranger.privateKey : known.privateKey);
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    switch (url.pathname) {
      case "/.well-known/openid-configuration":
        return Response.json({
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ["code"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
        });
      case "/jwks":
        return Response.json({ keys: [jwk] });
      case "/authorize": {
        state.nonce = url.searchParams.get("nonce") ?? "";
        const back = new URL(url.searchParams.get("redirect_uri")!);
        back.searchParams.set("code", "forged-code");
        back.searchParams.set("state", url.searchParams.get("state") ?? "");
        return Response.redirect(back.href, 302);
      }
      case "/token":
        await req.body?.cancel();
        if (state.defect === "token-503") {
          return new Response("upstream unavailable", { status: 503 });
        }
        return Response.json({
          access_token: "at",
          token_type: "Bearer",
          expires_in: 300,
          id_token: await idToken(),
        });
      default:
        return new Response("not found", { status: 404 });
    }
  });
  return { issuer, state, close: () => server.shutdown() };
}

Deno.test("ID tokens forged by the test are refused, each with its reason", async (t) => {
  const clientId = "hoop-gateway";
  const forger = await startForger(clientId);
  const api = freePort();
  await using gw = await startGateway({
    ports: { grpc: freePort(), api, data: freePort() },
    args: [
      "--public-url",
      `http://127.0.0.1:${api}`,
      "--oidc-issuer",
      forger.issuer,
      "--oidc-client-id",
      clientId,
    ],
    env: { HOOP_OIDC_CLIENT_SECRET: "secret" },
  });
  try {
    const cases: [Defect, RegExp][] = [
      ["audience", /aud/i],
      ["expired", /exp|timestamp|expired/i],
      ["unknown-key", /key|kid|JWKS/i],
      ["alg-none", /alg|none|signature|JWS/i],
    ];
    for (const [defect, reason] of cases) {
      await t.step(`${defect}: refused`, async () => {
        forger.state.defect = defect;
        const page = await followGateway(`${gw.apiUrl}/api/oidc/web/login`);
        assert.equal(page.status, 401, page.text);
        assert.match(
          page.text,
          /Single sign-on failed: the provider&#39;s answer was refused|Single sign-on failed: the provider's answer was refused/,
        );
        assert.match(page.text, reason);
        assert.equal(page.headers.getSetCookie().length, 0, "no session cookie");
      });
    }
    await t.step("a provider failing at its token endpoint is named as down", async () => {
      forger.state.defect = "token-503";
      const page = await followGateway(`${gw.apiUrl}/api/oidc/web/login`);
      assert.equal(page.status, 401, page.text);
      assert.match(page.text, /did not answer the login/);
      assert.match(page.text, /check that the provider is up, then sign in again/);
      assert.equal(page.headers.getSetCookie().length, 0, "no session cookie");
    });
    await t.step(
      "the same stand-in with a sound token signs in (the refusals are the defects')",
      async () => {
        forger.state.defect = "none";
        const res = await fetch(
          (await followGateway(
            `${gw.apiUrl}/api/oidc/web/login`,
            (u) => u.pathname === "/api/oidc/callback",
          )).url,
          { redirect: "manual" },
        );
        await res.body?.cancel();
        assert.equal(res.status, 302);
        assert.ok(
          res.headers.getSetCookie().some((c) => c.startsWith("hoop_session=")),
        );
      },
    );
  } finally {
    await forger.close();
  }
});
