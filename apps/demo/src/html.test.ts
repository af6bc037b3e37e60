import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pc from 'picocolors';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml, scriptSafeJson } from './html.js';
import { flagshipScenario } from './scenarios/flagship.js';
import { kernelScenario } from './scenarios/kernel.js';
import { bypassVsWorkerScenario } from './scenarios/queue-options.js';
import type { ScenarioResult } from './scenarios/index.js';

const colors = pc.createColors(false);
/** What the page's elements offer the test (no DOM types in a Node project). */
interface Attrs {
  getAttribute(name: string): string | null;
}
const run = async (s: typeof kernelScenario, params: Record<string, string> = {}): Promise<ScenarioResult> =>
  (await s.run({ seed: 1, log: () => undefined, colors, params }))!;

describe('--html: the page as text', () => {
  it('is self-contained: inline style, script and data, nothing to fetch, a CSP that forbids fetching', async () => {
    const html = renderHtml(await run(bypassVsWorkerScenario, { frames: '2' }));
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
    expect(html).not.toMatch(/<link\b|<img\b|<iframe\b|\ssrc=|@import|url\(\s*['"]?https?:/i);
    expect(html).toContain('<script id="timeline-data" type="application/json">');
    expect(html).toContain('"title":"dep demo: bypass-vs-worker"');
  });

  it('data cannot close its script element', () => {
    const json = scriptSafeJson({ name: '</script><script>alert(1)</script><!--' });
    expect(json).not.toContain('</script');
    expect(json).not.toContain('<!--');
    expect(JSON.parse(json)).toEqual({ name: '</script><script>alert(1)</script><!--' });
  });
});

// Debian's chromium (installed by .ci/run when missing) driven by playwright-core; never a
// downloaded browser. Without it the test fails in CI and is skipped, loudly, elsewhere.
const CHROMIUM = process.env.DEP_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOT = fileURLToPath(new URL('../docs/timeline.png', import.meta.url));

if (!HAVE_CHROMIUM && !IN_CI) {
  console.warn(`[demo] ${CHROMIUM} not found: the HTML timeline browser test is skipped (apt-get install -y chromium; CI installs it and fails without it)`);
}

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('--html: the page in headless Chromium', () => {
  let profile = '';
  let ctx: BrowserContext | null = null;
  let dir = '';

  beforeAll(async () => {
    expect(HAVE_CHROMIUM, `Chromium is missing at ${CHROMIUM}: .ci/run installs Debian's chromium package; run apt-get install -y chromium`).toBe(true);
    profile = mkdtempSync(join(tmpdir(), 'dep-demo-chromium-'));
    dir = mkdtempSync(join(tmpdir(), 'dep-demo-html-'));
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 900 } });
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Open a result's page; collect console errors, page errors and any request that is not the file itself. */
  async function open(result: ScenarioResult, name: string): Promise<{ page: Page; problems: string[] }> {
    const file = join(dir, `${name}.html`);
    writeFileSync(file, renderHtml(result));
    const page = await ctx!.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    const url = pathToFileURL(file).href;
    page.on('request', (r) => {
      if (r.url() !== url) problems.push(`request: ${r.url()}`);
    });
    await page.goto(url);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
    return { page, problems };
  }

  it('bypass-vs-worker: renders engine, queue and CPU lanes, client-coloured jobs, fences, arrows, a legend; hover and zoom work; no errors, no network', async () => {
    const { page, problems } = await open(await run(bypassVsWorkerScenario, { frames: '4' }), 'bypass');
    const view = page.locator('[data-testid="timeline-0"]');
    const lanes = await view.locator('g.lane').evaluateAll((gs: Attrs[]) => gs.map((g) => `${g.getAttribute('data-group')}:${g.getAttribute('data-lane')}`));
    expect(lanes.slice(0, 5)).toEqual(['engines:gpu0:gfx', 'engines:gpu0:compute', 'queues:drm_dep:game-gfx', 'queues:drm_dep:comp-gfx', 'queues:drm_dep:ml-compute']);
    expect(lanes.some((l) => l.startsWith('cpu:kworker/drm_dep_'))).toBe(true);
    expect(await page.locator('svg[data-testid^="timeline-"]').count()).toBe(2); // worker and bypass
    for (const client of ['game', 'compositor', 'ml']) {
      expect(await view.locator(`rect.slice[data-client="${client}"]`).count(), client).toBeGreaterThan(0);
      expect(await page.locator(`[data-testid="legend"] [data-client="${client}"]`).count()).toBe(1);
    }
    expect(await view.locator('rect.slice[data-client="game"]').count()).toBe(8); // 4 frames on the queue lane and the engine lane
    expect(await view.locator('.marker[data-kind="fence"]').count()).toBeGreaterThan(10);
    expect(await view.locator('path.flow').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="verdict"]').textContent()).toBe('✔ all fences signalled');
    expect(await page.locator('[data-testid="comparison"] tr').count()).toBeGreaterThan(5);

    // Hover details.
    const job = view.locator('rect.slice[data-client="game"]').first();
    await job.hover();
    const tip = page.locator('#tooltip');
    await expect.poll(() => tip.isVisible()).toBe(true);
    expect(await tip.textContent()).toMatch(/game-gfx #1[\s\S]*client: game/);

    // Wheel zoom moves the slices; reset brings them back.
    const x0 = await job.getAttribute('width');
    await view.scrollIntoViewIfNeeded();
    const box = (await view.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 60);
    await page.mouse.wheel(0, -400);
    expect(await view.locator('rect.slice[data-client="game"]').first().getAttribute('width')).not.toBe(x0);
    await page.locator('[data-testid="reset-zoom"]').click();
    expect(await view.locator('rect.slice[data-client="game"]').first().getAttribute('width')).toBe(x0);

    expect(problems).toEqual([]);
    await page.close();
  }, 30_000);

  it('flagship (the README picture): engine lanes of all three devices, the four clients\' queues, fences, dependency arrows; no errors', async () => {
    const { page, problems } = await open(await run(flagshipScenario), 'flagship');
    const view = page.locator('[data-testid="timeline-0"]');
    const lanes = await view.locator('g.lane').evaluateAll((gs: Attrs[]) => gs.map((g) => `${g.getAttribute('data-group')}:${g.getAttribute('data-lane')}`));
    for (const engine of ['engines:npu:col0', 'engines:mali:csg0.cs0', 'engines:xe:ccs0', 'engines:xe:bcs0']) expect(lanes, engine).toContain(engine);
    expect(lanes.filter((l) => l.startsWith('queues:')).length).toBeGreaterThanOrEqual(4);
    for (const client of ['npu', 'render', 'compute', 'compositor']) {
      // Each client: 4 jobs on its queue lane and 4 on its engine lane.
      expect(await view.locator(`rect.slice[data-client="${client}"]`).count(), client).toBeGreaterThanOrEqual(8);
      expect(await page.locator(`[data-testid="legend"] [data-client="${client}"]`).count(), client).toBe(1);
    }
    expect(await view.locator('.marker[data-kind="fence"]').count()).toBeGreaterThan(20);
    expect(await view.locator('.marker[data-kind="preempt"]').count()).toBeGreaterThan(0);
    expect(await view.locator('path.flow').count()).toBeGreaterThanOrEqual(12);
    expect(await page.locator('[data-testid="verdict"]').textContent()).toBe('✔ all fences signalled');

    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.evaluate('window.scrollTo(0, 0)');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  }, 30_000);

  it('kernel: CPU lanes only, work items and lockdep report markers, no errors', async () => {
    const { page, problems } = await open(await run(kernelScenario), 'kernel');
    const lanes = await page.locator('g.lane').evaluateAll((gs: Attrs[]) => gs.map((g) => g.getAttribute('data-lane')));
    expect(lanes).toEqual(['timer', 'kworker/submit:0', 'kworker/cleanup:0']);
    expect(await page.locator('g.lane[data-group="queues"]').count()).toBe(0);
    expect(await page.locator('rect.slice[data-kind="work"]').count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator('svg[data-testid="timeline-0"] .marker[data-kind="report"]').count()).toBe(2);
    expect(problems).toEqual([]);
    await page.close();
  }, 30_000);
});
