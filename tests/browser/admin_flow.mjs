// Drives the /admin UI in real headless Chromium (Debian's /usr/bin/chromium through
// playwright-core; Playwright's own browser builds are never downloaded). Started by
// tests/api/admin_browser.rs, which runs the broker and snowsim on port 0 and passes:
//   BROKER_URL, ADMIN_KEY            the broker and its bootstrap admin key
//   SIM_URL, SIM_ADMIN_TOKEN         snowsim and an ACCOUNTADMIN token for its SQL API
//   OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET  of the security integration made for connection "sales"
//   ARTIFACTS_DIR                    where the screenshots go
//   CHROMIUM (optional)              the browser binary, default /usr/bin/chromium
// Every step asserts what a person would check; any failure exits non-zero with the reason.

import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`environment variable ${name} is required`);
  }
  return value;
}

const broker = env("BROKER_URL");
const adminKey = env("ADMIN_KEY");
const simUrl = env("SIM_URL");
const simToken = env("SIM_ADMIN_TOKEN");
const clientId = env("OAUTH_CLIENT_ID");
const clientSecret = env("OAUTH_CLIENT_SECRET");
const artifacts = env("ARTIFACTS_DIR");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

function check(condition, message) {
  if (!condition) {
    throw new Error(`check failed: ${message}`);
  }
}

/** The input labelled exactly `label` (a "(required)" note after it allowed). */
function field(page, label) {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return page.getByLabel(new RegExp(`^${escaped}( \\(required\\))?$`));
}

function log(step) {
  console.log(`admin_flow: ${step}`);
}

/** Runs `sql` in snowsim as its ACCOUNTADMIN, the way a Snowflake admin pastes it. */
async function runInSnowflake(sql) {
  const res = await fetch(`${simUrl}/api/v2/statements`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${simToken}`,
      "X-Snowflake-Authorization-Token-Type": "OAUTH",
      "Content-Type": "application/json",
      Accept: "application/json",
      "User-Agent": "icebroker-browser-test/1.0",
    },
    body: JSON.stringify({ statement: sql }),
  });
  const body = await res.text();
  check(res.status === 200, `snowsim ran ${sql.slice(0, 40)}…: ${res.status} ${body}`);
}

mkdirSync(artifacts, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "icebroker-chromium-"));
let shot = 0;
let context;
let current;

async function screenshot(page, name) {
  shot += 1;
  const file = join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

async function noHorizontalScroll(page, what) {
  const fits = await page.evaluate(
    () => document.documentElement.scrollWidth <= window.innerWidth + 1,
  );
  check(fits, `${what} scrolls sideways at ${page.viewportSize().width}px`);
}

try {
  // A fresh profile every run; the flags keep Chromium from calling home or using the GPU.
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: broker });
  const page = context.pages()[0] ?? (await context.newPage());
  const violations = [];
  // Errors on admin pages (a CSP violation shows up here) fail the run.
  page.on("console", (msg) => {
    const url = msg.location()?.url ?? "";
    if (msg.type() === "error" && url.startsWith(`${broker}/admin`) && !url.includes("favicon")) {
      violations.push(`${url}: ${msg.text()}`);
    }
  });
  page.setDefaultTimeout(20000);
  current = page;

  // 1. Log in with the admin key.
  await page.goto(`${broker}/admin/login`);
  await screenshot(page, "login");
  await field(page, "Admin API key").fill(adminKey);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${broker}/admin/connections`);
  await screenshot(page, "connections-empty");
  log("logged in");

  // 2. Create a keypair connection; the page shows ALTER USER and the fingerprint.
  await page.getByRole("link", { name: "New keypair connection" }).click();
  await field(page, "Name").fill("warehouse-bot");
  await field(page, "Snowflake account").fill("xy12345.us-east-2.aws");
  await field(page, "Host override").fill(simUrl);
  await field(page, "Snowflake user (LOGIN_NAME)").fill("jsmith");
  await field(page, "Role").fill("ANALYST");
  await field(page, "Warehouse").fill("COMPUTE_WH");
  await screenshot(page, "new-keypair-form");
  await page.getByRole("button", { name: "Create connection" }).click();
  await page.waitForURL(`${broker}/admin/connections/warehouse-bot`);
  const alterUser = (await page.locator("#sql-alter-user").textContent()).trim();
  const fingerprint = (await page.locator("#fingerprint").textContent()).trim();
  check(alterUser.startsWith('ALTER USER "JSMITH" SET RSA_PUBLIC_KEY='), alterUser);
  check(/^SHA256:[A-Za-z0-9+/]{43}=$/.test(fingerprint), `fingerprint ${fingerprint}`);
  check(
    (await page.locator("#status").textContent()).trim() === "pending enrollment",
    "new keypair connection is pending enrollment",
  );
  // The copy button (the one thing that needs JavaScript) copies the statement exactly.
  const copy = page.locator('button.copy[data-copy="sql-alter-user"]');
  await copy.click();
  // The confirmation appears once the Clipboard API's promise resolves.
  await page.waitForFunction(
    () => document.querySelector('button.copy[data-copy="sql-alter-user"]')?.textContent.trim() === "Copied",
  );
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  check(copied.trim() === alterUser, "clipboard holds the ALTER USER statement");
  await screenshot(page, "keypair-pending");
  log(`keypair created, fingerprint ${fingerprint}`);

  // 3. Enroll: run the shown statement in Snowflake, then press Test.
  await runInSnowflake(alterUser);
  await page.getByRole("button", { name: "Test connection" }).click();
  await page.waitForURL(`${broker}/admin/connections/warehouse-bot#test`);
  const result = (await page.locator("#test-result").textContent()).replace(/\s+/g, " ");
  check(result.includes("connected"), `test result: ${result}`);
  check((await page.locator("#status").textContent()).trim() === "connected", "badge connected");
  await screenshot(page, "keypair-connected");
  log("keypair test: connected");

  // 4. Create an OAuth connection with the integration's client id and secret.
  await page.goto(`${broker}/admin/connections/new?kind=oauth`);
  await field(page, "Name").fill("sales");
  await field(page, "Snowflake account").fill("xy12345.us-east-2.aws");
  await field(page, "Host override").fill(simUrl);
  await field(page, "Client id").fill(clientId);
  await field(page, "Client secret").fill(clientSecret);
  await field(page, "Security integration name").fill("ICEBROKER_SALES");
  await field(page, "Scopes").fill("refresh_token session:role:ANALYST");
  await screenshot(page, "new-oauth-form");
  await page.getByRole("button", { name: "Create connection" }).click();
  await page.waitForURL(`${broker}/admin/connections/sales`);
  const redirectUri = (await page.locator("#redirect-uri").textContent()).trim();
  check(redirectUri === `${broker}/oauth/callback/sales`, `redirect URI ${redirectUri}`);
  const create = await page.locator("#sql-create-integration").textContent();
  check(create.includes("CREATE SECURITY INTEGRATION"), create);
  check(!(await page.content()).includes(clientSecret), "client secret not shown");
  await screenshot(page, "oauth-connection");
  log("oauth connection created");

  // 5. Create an authorization link for identifier "alice" and complete it in snowsim.
  await field(page, "End user identifier").fill("alice");
  await page.getByRole("button", { name: "Create authorization link" }).click();
  const link = (await page.locator("#auth-link").textContent()).trim();
  check(link.startsWith(`${broker}/connect/sfb_link_`), `link ${link}`);
  await screenshot(page, "authorization-link");
  await page.goto(link);
  await page.waitForURL(/\/oauth\/authorize/);
  check(page.url().startsWith(simUrl), `at Snowflake's login: ${page.url()}`);
  await screenshot(page, "snowflake-login");
  // snowsim's page, not ours: its fields are found by name.
  await page.locator('input[name="username"]').fill("jsmith");
  await page.locator('input[name="password"]').fill("jsmith-pass");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Allow" }).waitFor();
  await screenshot(page, "snowflake-consent");
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL(/\/oauth\/callback\/sales\?/);
  check(
    (await page.locator("h1").textContent()).includes("connected"),
    "the end user sees the connected page",
  );
  await screenshot(page, "end-user-connected");
  log("end user authorized");

  // 6. The account is active; revoke it.
  await page.goto(`${broker}/admin/connections/sales`);
  const row = page.locator("#accounts tbody tr", { hasText: "alice" });
  const active = (await row.locator(".badge").textContent()).trim();
  check(active === "active", `account status ${active}`);
  check((await row.textContent()).includes("JSMITH"), "Snowflake user shown");
  await screenshot(page, "account-active");
  await row.getByRole("button", { name: "Revoke alice" }).click();
  await page.getByRole("heading", { name: "Account alice revoked" }).waitFor();
  const revokeSql = await page.locator("pre.code").first().textContent();
  check(revokeSql.includes("REMOVE DELEGATED AUTHORIZATIONS"), revokeSql);
  await screenshot(page, "account-revoked");
  await page.getByRole("link", { name: "Back" }).click();
  const after = (await page.locator("#accounts tbody tr", { hasText: "alice" }).locator(".badge").textContent()).trim();
  check(after === "revoked", `account status after revoke ${after}`);
  log("account revoked");

  // 7. API keys (shown once) and the audit log.
  await page.getByRole("link", { name: "API keys" }).click();
  await field(page, "Name").fill("reporting service");
  await field(page, "Limit to connections").fill("sales");
  await page.getByRole("button", { name: "Create API key" }).click();
  const newKey = (await page.locator("#new-key").textContent()).trim();
  check(newKey.startsWith("ibk_"), "new key shown");
  await screenshot(page, "api-key-created");
  await page.goto(`${broker}/admin/api-keys`);
  check(!(await page.content()).includes(newKey), "the key is not shown again");
  await page.getByRole("link", { name: "Audit log" }).click();
  await field(page, "Connection").fill("sales");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/\/admin\/audit\?connection=sales/);
  await screenshot(page, "audit-log");

  // 8. Phone width: nothing scrolls sideways, the keyboard reaches the main actions.
  await page.setViewportSize({ width: 360, height: 740 });
  for (const path of ["/admin/connections", "/admin/connections/warehouse-bot", "/admin/connections/sales", "/admin/api-keys", "/admin/audit"]) {
    await page.goto(`${broker}${path}`);
    await noHorizontalScroll(page, path);
  }
  await screenshot(page, "phone-audit");
  await page.goto(`${broker}/admin/connections/warehouse-bot`);
  await screenshot(page, "phone-connection");
  let reachedTest = false;
  for (let i = 0; i < 40 && !reachedTest; i += 1) {
    await page.keyboard.press("Tab");
    reachedTest = await page.evaluate(() => document.activeElement?.id === "test-button");
  }
  check(reachedTest, "Tab reaches the Test connection button");

  // 9. Log out: the admin pages are closed again.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(`${broker}/admin/login`);
  await page.goto(`${broker}/admin/connections`);
  check(page.url() === `${broker}/admin/login`, "logged out");
  check(violations.length === 0, `browser console errors (CSP?): ${violations.join(" | ")}`);
  log("OK");
} catch (err) {
  console.error(`admin_flow FAILED: ${err.stack || err}`);
  process.exitCode = 1;
  if (current) {
    try {
      console.error(`at ${current.url()}:\n${(await current.content()).slice(0, 4000)}`);
      await screenshot(current, "failure");
    } catch (e) {
      console.error(`(no failure screenshot: ${e})`);
    }
  }
} finally {
  if (context) {
    await context.close();
  }
  rmSync(profile, { recursive: true, force: true });
}
