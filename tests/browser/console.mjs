// The operator console in real headless Chromium (Debian's), driven by
// playwright-core. Started by tests/tests/all/console.rs with a running
// `trustpub serve`; writes screenshots of each page when
// TRUSTPUB_SCREENSHOTS names a directory (cargo xtask screenshots).
//
// usage: node console.mjs <base-url> <admin-token>
// env:   REFUSED_TOKEN, GOOD_TOKEN, GOOD_TOKEN_2  GitHub Actions tokens: one
//                                   for another workflow, two for release.yml
//        VARIANT_PATH               a new github-actions component version
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, adminToken] = process.argv.slice(2);
const { REFUSED_TOKEN, GOOD_TOKEN, GOOD_TOKEN_2, VARIANT_PATH, TRUSTPUB_SCREENSHOTS } = process.env;
assert.ok(base && adminToken && REFUSED_TOKEN && GOOD_TOKEN && GOOD_TOKEN_2 && VARIANT_PATH, 'missing arguments');

// Without these flags Chromium waits on the network this machine lacks;
// the profile is a fresh directory, removed after a passing run.
const profile = mkdtempSync(join(tmpdir(), 'trustpub-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
  timeout: 60_000,
});
const page = await context.newPage();
page.setDefaultTimeout(30_000);

let step = 'start';
function log(s) { step = s; console.log(`console test: ${s}`); }

/** The admin token must never be in a page or a URL. */
async function noToken() {
  assert.ok(!page.url().includes(adminToken), `token in URL ${page.url()}`);
  assert.ok(!(await page.content()).includes(adminToken), `token in page ${page.url()}`);
}

async function shot(name, options = {}) {
  if (!TRUSTPUB_SCREENSHOTS) return;
  mkdirSync(TRUSTPUB_SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(TRUSTPUB_SCREENSHOTS, `${name}.png`), fullPage: true, ...options });
}

async function notice() {
  return (await page.locator('.notice').first().textContent()).trim();
}

async function exchange(token, username) {
  const r = await fetch(`${base}/api/v2/token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username, tokenType: 'ApiKey' }),
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

try {
  log('without a session the console sends us to sign-in');
  await page.goto(`${base}/console/policies`);
  assert.match(page.url(), /\/console\/sign-in$/);
  await shot('sign-in');

  log('a wrong token is refused');
  await page.getByLabel('Admin token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.match(await notice(), /not the admin token/);

  log('sign in with the admin token (typed, so keyboard only)');
  await page.getByLabel('Admin token').focus();
  await page.keyboard.type(adminToken);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/console$/);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Overview');
  await noToken();
  const [session] = (await context.cookies()).filter((c) => c.name === 'trustpub_console');
  assert.ok(session.httpOnly, 'the session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Strict');
  assert.ok(session.expires > Date.now() / 1000, 'the cookie expires');

  log('create a user');
  await page.getByRole('link', { name: 'Users and policies' }).click();
  await page.getByLabel('New user').fill('alice');
  await page.getByRole('button', { name: 'Create user' }).click();
  assert.match(await notice(), /User alice created/);

  log('the github-actions form is generated from its schema');
  await page.goto(`${base}/console/policies/new`);
  await page.getByLabel('Provider').selectOption('github-actions');
  await page.getByRole('button', { name: 'Show its form' }).click();
  await page.getByLabel('Registry user (required)').fill('alice');
  await page.getByLabel('Package owner (required)').fill('alice');
  await page.getByLabel('owner (required)', { exact: true }).fill('contoso');
  await page.getByLabel('repository (required)', { exact: true }).fill('app');
  await page.getByLabel('workflow (required)', { exact: true }).fill('release');
  await page.getByRole('button', { name: 'Create policy' }).click();
  const refusal = await notice();
  assert.match(refusal, /invalid criteria/, 'the evaluator says why');
  assert.equal(await page.getByLabel('repository (required)', { exact: true }).inputValue(), 'app', 'the form keeps what was typed');
  await shot('policy-form');
  await page.getByLabel('workflow (required)', { exact: true }).fill('release.yml');
  await page.getByRole('button', { name: 'Create policy' }).click();
  const created = await notice();
  const policyId = Number(created.match(/Policy (\d+) created for alice \(github-actions\)/)[1]);
  await noToken();

  log('one refused exchange and one that mints a key');
  const refused = await exchange(REFUSED_TOKEN, 'alice');
  assert.equal(refused.status, 401, JSON.stringify(refused.body));
  assert.ok(!JSON.stringify(refused.body).includes('workflow'), 'the client is not told why');
  const minted = await exchange(GOOD_TOKEN, 'alice');
  assert.equal(minted.status, 200, JSON.stringify(minted.body));
  const second = await exchange(GOOD_TOKEN_2, 'alice');
  assert.equal(second.status, 200, JSON.stringify(second.body));
  await page.reload();
  await shot('policies');

  log('the refused exchange is in the audit, with its reason');
  await page.getByRole('link', { name: 'Audit' }).click();
  await page.getByLabel('User').fill('alice');
  await page.getByLabel('Outcome').selectOption('unauthorized');
  await page.getByRole('button', { name: 'Filter' }).click();
  const row = page.locator('table.audit tbody tr').first();
  assert.match(await row.textContent(), /unauthorized/);
  const reasons = await row.getByRole('list', { name: 'Why each candidate policy did not match' }).textContent();
  assert.match(reasons, new RegExp(`policy ${policyId}: .*workflow`));
  await shot('audit');

  log('deploy a new github-actions version, then roll it back');
  await page.getByRole('link', { name: 'Evaluators' }).click();
  const section = page.locator('section', { has: page.getByRole('heading', { name: 'github-actions', exact: true }) });
  const before = await section.locator('dd code').first().textContent();
  await section.getByLabel('New version (.wasm component)').setInputFiles(new URL(import.meta.url).pathname);
  await section.getByRole('button', { name: 'Deploy to github-actions' }).click();
  assert.match(await page.locator('#result ~ p.bad').textContent(), /Refused: rejected: not a valid WebAssembly component.*The active version keeps serving/);
  assert.equal(await section.locator('dd code').first().textContent(), before, 'a refused version is not deployed');
  await section.getByLabel('New version (.wasm component)').setInputFiles(VARIANT_PATH);
  await section.getByRole('button', { name: 'Deploy to github-actions' }).click();
  assert.match(await page.locator('#result ~ p.ok').textContent(), /is now active/);
  assert.equal(await page.locator('ol.checks li').count(), 5, 'the admission checks are listed');
  const after = await section.locator('dd code').first().textContent();
  assert.notEqual(after, before);
  await shot('evaluators');
  await page.getByRole('button', { name: 'Roll github-actions back to the previous version' }).click();
  assert.match(await notice(), /github-actions rolled back/);
  assert.equal(await section.locator('dd code').first().textContent(), before);

  log('the minted keys are listed, never the keys themselves; revoke one');
  await page.getByRole('link', { name: 'Keys' }).click();
  const keyRows = page.locator('tbody tr');
  assert.equal(await keyRows.count(), 2);
  const content = await page.content();
  assert.ok(!content.includes(minted.body.apiKey) && !content.includes(second.body.apiKey), 'no key in the page');
  await shot('keys');
  await keyRows.first().getByRole('button', { name: /^Revoke key / }).click();
  assert.match(await notice(), /Key sha256:[0-9a-f]{12} revoked/);
  assert.equal(await keyRows.count(), 1);

  log('deleting the policy says how many keys it revokes, and revokes them');
  await page.getByRole('link', { name: 'Users and policies' }).click();
  await page.getByRole('link', { name: `Delete policy ${policyId}` }).click();
  assert.match(await page.locator('p.warning').textContent(), /revokes 1 live key\b/);
  await shot('delete-policy');
  await page.getByRole('button', { name: `Delete policy ${policyId} and revoke 1 keys` }).click();
  assert.match(await notice(), new RegExp(`Policy ${policyId} deleted; 1 live keys revoked`));
  await page.getByRole('link', { name: 'Keys' }).click();
  assert.match(await page.locator('main').textContent(), /No live key/);

  log('the overview counts the exchanges');
  await page.getByRole('link', { name: 'Overview' }).click();
  const table = await page.locator('#exchanges ~ .scroll table, section[aria-labelledby="exchanges"] table').first().textContent();
  assert.match(table, /github-actions\s*minted\s*2\s*2/);
  assert.match(table, /github-actions\s*unauthorized\s*1\s*1/);
  await shot('overview');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot('overview-narrow');
  await page.setViewportSize({ width: 1280, height: 900 });

  log('keyboard: the first tab stop skips to the content');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');

  log('sign out, and the old session is refused');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/console\/sign-in$/);
  await context.addCookies([session]);
  await page.goto(`${base}/console/keys`);
  assert.match(page.url(), /\/console\/sign-in$/);
  await noToken();
  console.log('console test: all steps passed');
} catch (e) {
  console.error(`console test failed at "${step}": ${e.stack || e}`);
  try {
    await page.screenshot({ path: join(profile, 'failure.png'), fullPage: true });
    console.error(`screenshot: ${join(profile, 'failure.png')}`);
    console.error((await page.content()).slice(0, 4000));
  } catch {}
  process.exitCode = 1;
} finally {
  await context.close();
  if (!process.exitCode) rmSync(profile, { recursive: true, force: true });
}
