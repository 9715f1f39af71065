/**
 * The web console in a real browser (Chromium through playwright-core)
 * against a real gateway, agents, PostgreSQL and a `python3 -i` console:
 * what issue 12 lists, step by step, with a screenshot of each page in
 * test-output/web/.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { buildWeb } from "../scripts/build_web.ts";
import { BROWSER_SKIP_REASON, launchBrowser } from "./_browser.ts";
import {
  createUser,
  hoopOk,
  type HoopProcess,
  signupAdmin,
  spawnHoop,
  startAgent,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, startPostgres } from "./_postgres.ts";
import { splitCommandLine } from "../proto/command_line.ts";

async function signIn(page: Page, url: string, email: string, password: string) {
  await page.goto(url);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Connections" }).waitFor();
}

/** The lines of a `hoop run` block as the page shows them: HOOP_KEY and the argv. */
function parseRunBlock(text: string): { key: string; args: string[] } {
  const [exportLine, runLine] = text.trim().split("\n");
  const key = splitCommandLine(exportLine.replace(/^export /, ""))[0].replace(/^HOOP_KEY=/, "");
  const argv = splitCommandLine(runLine);
  assert.equal(argv[0], "hoop");
  return { key, args: argv.slice(1) };
}

Deno.test({
  name: "the web console, in Chromium, against a real gateway, agents and PostgreSQL",
  ignore: BROWSER_SKIP_REASON !== undefined || POSTGRES_SKIP_REASON !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await buildWeb();
    await using pg = await startPostgres();
    const dbUrl = await pg.createUser("webapp", "webapp-secret-1");
    await using gw = await startGateway();
    const admin = await signupAdmin(gw);
    const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
    const procs: HoopProcess[] = [];
    await using browser = await launchBrowser();
    const page = await browser.newPage();
    try {
      // A python3 console to use from the browser.
      const py = spawnHoop("run py", ["run", "--name", "py", "--command", "python3 -i"], {
        env: { ...gw.env, HOOP_KEY: orgKey },
      });
      procs.push(py);
      await py.log.waitFor(/connected to the gateway/);

      await t.step("sign in", async () => {
        await page.goto(gw.apiUrl);
        await page.getByRole("heading", { name: "Sign in to hoop" }).waitFor();
        // A wrong password: the API's message in place, no navigation.
        await page.getByLabel("Email").fill(admin.email);
        await page.getByLabel("Password").fill("not-the-password");
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("alert").waitFor();
        await browser.shot(page, "01-sign-in");
        await signIn(page, gw.apiUrl, admin.email, admin.password);
        assert.match(await page.locator("header .email").innerText(), /admin@example\.com/);
      });

      await t.step(
        "an agent created on the page shows its key once and is ONLINE without a reload; delete asks first",
        async () => {
          await page.getByRole("link", { name: "Agents" }).click();
          await page.getByRole("heading", { name: "Agents" }).waitFor();
          await page.getByLabel("New agent name").fill("edge");
          await page.getByRole("button", { name: "Create agent" }).click();
          const lines = (await page.locator("pre[data-copy]").nth(1).getAttribute("data-copy"))!;
          const [exportLine, start] = lines.split("\n");
          assert.equal(start, "hoop start agent");
          const dsn = splitCommandLine(exportLine.replace(/^export /, ""))[0].replace(
            /^HOOP_KEY=/,
            "",
          );
          procs.push(await startAgent(dsn, { env: gw.env, name: "agent edge" }));
          await page.locator('tr[data-agent="edge"] .badge-online').waitFor({ timeout: 20_000 });
          await browser.shot(page, "02-agents");
          await page.getByRole("button", { name: "Done, hide the key" }).click();
          assert.equal(
            await page.locator("pre[data-copy]").count(),
            0,
            "the key is shown only once",
          );
          // Delete asks first.
          await page.getByLabel("New agent name").fill("spare");
          await page.getByRole("button", { name: "Create agent" }).click();
          await page.getByRole("button", { name: "Done, hide the key" }).click();
          page.once("dialog", (d) => d.accept());
          await page.getByRole("button", { name: "Delete agent spare" }).click();
          await page.locator('tr[data-agent="spare"]').waitFor({ state: "detached" });
        },
      );

      let runBlock = "";
      await t.step(
        "create a connection and copy its hoop run line; run it; it shows ONLINE",
        async () => {
          await page.getByRole("link", { name: "New connection" }).first().click();
          await page.getByLabel("Name").fill("webdb");
          await page.getByLabel("Type").selectOption("postgres");
          await page.getByLabel(/PostgreSQL URI/).fill(dbUrl);
          await page.getByLabel(/Groups that may use it/).fill("dba");
          await browser.shot(page, "03-new-connection");
          await page.getByRole("button", { name: "Create" }).click();
          const block = page.locator("pre[data-copy]").first();
          await block.waitFor();
          runBlock = (await block.getAttribute("data-copy"))!;
          assert.match(runBlock, /^export HOOP_KEY='.+'\nhoop run --name webdb --postgres '/);
          const { key, args } = parseRunBlock(runBlock);
          const run = spawnHoop("run webdb", args, { env: { ...gw.env, HOOP_KEY: key } });
          procs.push(run);
          await page.locator(".badge-online").waitFor({ timeout: 20_000 });
          await browser.shot(page, "04-connection-created");
          // The groups chosen on the page reach the published connection.
          await waitFor(async () => {
            const out = await hoopOk(["admin", "get", "connections", "-o", "json"], {
              env: admin.env,
            });
            const c = (JSON.parse(out.stdout) as { name: string; groups: string[] }[])
              .find((x) => x.name === "webdb");
            return c?.groups.join(",") === "dba";
          }, { message: "webdb has the groups set on the page" });
        },
      );

      await t.step("run select 42 and see 42", async () => {
        await page.getByRole("link", { name: "Connections" }).first().click();
        const card = page.locator('article[data-connection="webdb"]');
        await card.locator(".badge-online").waitFor();
        // The groups the page set after the agent published arrive by the event stream too.
        await card.getByText("dba").waitFor();
        await browser.shot(page, "05-connections");
        await card.getByRole("link", { name: "Run" }).click();
        await page.getByLabel("SQL").fill("select 42 as answer");
        await page.getByRole("button", { name: "Run" }).click();
        await page.locator("td", { hasText: "42" }).waitFor();
        assert.equal(await page.locator("th").first().innerText(), "answer");
        await page.getByLabel("SQL").fill("select 1; select nope");
        await page.getByRole("button", { name: "Run" }).click();
        await page.getByRole("alert").filter({ hasText: /nope/ }).waitFor();
        await browser.shot(page, "05-run-sql");
        await page.getByRole("link", { name: "this run's session record" }).click();
        await page.getByRole("heading", { name: "Statements" }).waitFor();
        await page.locator(".timeline", { hasText: "select nope" }).waitFor();
        await browser.shot(page, "05-session-sql");
        await page.goto(`${gw.apiUrl}/connections/py/run`);
        await page.getByLabel(/Input/).fill("print(6*7)");
        await page.getByRole("button", { name: "Run" }).click();
        await page.locator("pre.stdout", { hasText: "42" }).waitFor();
        await browser.shot(page, "05-run-command");
      });

      let consoleSession = "";
      await t.step(
        "python3 in a web terminal: 42, a resize python sees, and the exit code",
        async () => {
          await page.goto(`${gw.apiUrl}/connections/py/terminal`);
          await page.getByText("Connected").waitFor({ timeout: 20_000 });
          const screen = page.locator(".xterm-rows");
          await screen.getByText(">>>").first().waitFor();
          await page.locator(".term-box").click();
          await page.keyboard.type("print(6*7)\n");
          await screen.getByText(/^42$/).first().waitFor();
          // Meanwhile the sessions page, in another tab, lists the console as running, live.
          const audit = await browser.newPage();
          await audit.goto(`${gw.apiUrl}/sessions`);
          const running = audit.locator(".running li", { hasText: "py" });
          await running.waitFor({ timeout: 20_000 });
          assert.match(await running.innerText(), /console/);
          const sizeShown = () => page.locator(".status .hint").innerText();
          const before = await sizeShown();
          await page.setViewportSize({ width: 900, height: 640 });
          // The page shows the size it sent once the terminal has been fitted to the new window.
          const size = await waitFor(async () => {
            const s = await sizeShown();
            return /^\d+×\d+$/.test(s) && s !== before ? s : undefined;
          }, { message: `the terminal's size changes from ${before}` });
          await page.keyboard.type("import shutil; print(shutil.get_terminal_size())\n");
          const [cols, rows] = size!.split("×");
          await screen.getByText(`columns=${cols}, lines=${rows}`).first().waitFor();
          await browser.shot(page, "06-terminal");
          await page.keyboard.type("exit(3)\n");
          await page.locator(".exit-code", { hasText: "3" }).waitFor({ timeout: 20_000 });
          await running.waitFor({ state: "detached", timeout: 20_000 });
          await audit.getByText("No session is running.").waitFor();
          await audit.close();
          consoleSession = (await page.getByRole("link", { name: "session record" }).getAttribute(
            "href",
          ))!.split("/").pop()!;
          await page.setViewportSize({ width: 1280, height: 800 });
        },
      );

      await t.step("open that session and play it back", async () => {
        await page.goto(`${gw.apiUrl}/sessions/${consoleSession}`);
        await page.getByRole("heading", { name: "Replay" }).waitFor();
        // The player replays the recording: the answer appears in its terminal.
        await page.locator(".ap-player").getByText("42").first().waitFor({ timeout: 30_000 });
        // ... up to python's answer after the resize (the recording's size change included).
        await page.locator(".ap-player").getByText(/os\.terminal_size\(columns=\d+/).first()
          .waitFor({ timeout: 30_000 });
        const cast = page.getByRole("link", { name: "Download .cast" });
        assert.equal(await cast.getAttribute("href"), `/api/sessions/${consoleSession}/cast`);
        await browser.shot(page, "07-session-replay");
      });

      const dev = await createUser(gw, admin, "dev@example.com", { groups: ["web"] });
      // Another user's session, so that the filter by user has something to leave out.
      const ops = await createUser(gw, admin, "ops@example.com", { role: "admin" });
      await hoopOk(["exec", "webdb", "-i", "select 1"], { env: ops.env });

      await t.step("users and the organization key pages", async () => {
        await page.getByRole("link", { name: "Users" }).click();
        await page.getByLabel("Email").fill("viewer@example.com");
        await page.getByLabel("Groups").fill("dba");
        await page.getByRole("button", { name: "Create user" }).click();
        await page.getByText(/shown only now|once/i).first().waitFor();
        await browser.shot(page, "11-users");
        await page.getByRole("button", { name: "Done" }).click();
        await page.locator("td", { hasText: "viewer@example.com" }).waitFor();
        await page.getByRole("link", { name: "Org key" }).click();
        await page.getByRole("heading", { name: /Organization key/ }).waitFor();
        await browser.shot(page, "12-org-key");
      });

      await t.step("filter sessions by user; the filter stays in the URL", async () => {
        await page.goto(`${gw.apiUrl}/sessions`);
        await page.locator("tr[data-session]", { hasText: "ops@example.com" }).first().waitFor();
        await page.getByLabel("User").fill("admin@example.com");
        await page.getByRole("button", { name: "Filter" }).click();
        await page.waitForURL(/\/sessions\?user=admin%40example\.com/);
        await page.reload();
        await page.locator("tr[data-session]").first().waitFor();
        const users = await page.locator("tr[data-session] td:nth-child(2)").allInnerTexts();
        assert.ok(users.length > 0);
        assert.deepEqual([...new Set(users)], ["admin@example.com"]);
        assert.equal(await page.getByLabel("User").inputValue(), "admin@example.com");
        await browser.shot(page, "08-sessions");
      });

      await t.step(
        "390 px wide: the page never scrolls sideways (wide tables scroll in place)",
        async () => {
          const phone = await browser.newPage({ width: 390, height: 844 });
          const noOverflow = async (what: string) =>
            assert.equal(
              await phone.evaluate(
                "document.documentElement.scrollWidth > document.documentElement.clientWidth",
              ),
              false,
              `${what}: no horizontal scrolling at 390 px`,
            );
          await phone.goto(`${gw.apiUrl}/connections`);
          await phone.locator('article[data-connection="webdb"]').waitFor();
          await noOverflow("connections");
          await browser.shot(phone, "09-connections-phone");
          await phone.goto(`${gw.apiUrl}/sessions`);
          await phone.locator("tr[data-session]").first().waitFor();
          await noOverflow("sessions");
          await browser.shot(phone, "09-sessions-phone");
          await phone.goto(`${gw.apiUrl}/connections/webdb/run`);
          await phone.getByLabel("SQL").fill("select 42 as answer, 'a long text value' as wide");
          await phone.getByRole("button", { name: "Run" }).click();
          await phone.locator("td", { hasText: "42" }).waitFor();
          await noOverflow("run");
          await browser.shot(phone, "09-run-phone");
          await phone.close();
        },
      );

      await t.step("pages and assets carry the security and cache headers", async () => {
        const index = await browser.context.request.get(`${gw.apiUrl}/sessions/nope`);
        assert.equal(index.status(), 200);
        assert.equal(index.headers()["cache-control"], "no-store");
        // Only the console's own scripts; 'wasm-unsafe-eval' lets asciinema-player compile its wasm.
        assert.match(
          index.headers()["content-security-policy"],
          /(^|; )script-src 'self'( 'wasm-unsafe-eval')?;/,
        );
        assert.equal(index.headers()["x-frame-options"], "DENY");
        const script = /<script type="module" src="([^"]+)"/.exec(await index.text())![1];
        const asset = await browser.context.request.get(`${gw.apiUrl}${script}`);
        assert.equal(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert.equal(asset.headers()["x-content-type-options"], "nosniff");
      });

      await t.step("a cross-site POST without the CSRF token is refused", async () => {
        // As a forged form on another site would send it, were the cookie sent along.
        const forged = await browser.context.request.post(`${gw.apiUrl}/api/agents`, {
          headers: { Origin: "http://evil.example", "content-type": "application/json" },
          data: JSON.stringify({ name: "sneaky" }),
        });
        assert.equal(forged.status(), 403);
        assert.match(await forged.text(), /CSRF/);
        const status = await page.evaluate(async () => {
          const r = await fetch("/api/agents", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ name: "sneaky" }),
          });
          return r.status;
        });
        assert.equal(status, 403);
        const agents = await hoopOk(["admin", "get", "agents"], { env: admin.env });
        assert.doesNotMatch(agents.stdout, /sneaky/);
      });

      await t.step("a non-admin sees no admin pages and not others' connections", async () => {
        await using other = await launchBrowser();
        const p = await other.newPage();
        await signIn(p, gw.apiUrl, dev.email, dev.password);
        assert.equal(await p.getByRole("link", { name: "Agents" }).count(), 0);
        await p.locator("p.empty").waitFor();
        assert.equal(await p.locator('article[data-connection="webdb"]').count(), 0);
        await p.goto(`${gw.apiUrl}/admin/agents`);
        await p.getByRole("heading", { name: "Not allowed" }).waitFor();
        const status = await p.evaluate(async () => (await fetch("/api/agents")).status);
        assert.equal(status, 403, "the server refuses too");
        await other.shot(p, "10-non-admin");
      });

      await t.step("sign out", async () => {
        await page.goto(`${gw.apiUrl}/connections`);
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.getByRole("heading", { name: "Sign in to hoop" }).waitFor();
        const status = await page.evaluate(async () => (await fetch("/api/web/session")).status);
        assert.equal(status, 401);
      });

      assert.deepEqual(
        browser.cspViolations,
        [],
        `no Content-Security-Policy violations: ${browser.cspViolations.join("\n")}`,
      );
    } finally {
      for (const p of procs) await p.stop();
    }
  },
});
