// SPDX-License-Identifier: GPL-3.0-or-later
// The demo as a person uses it: Debian's headless Chromium, driven by playwright-core, opens the
// OHIF viewer of the native stack, finds the phantom study in the study list, opens it, opens
// SpineMet's SR, accepts OHIF's offer to track its measurements, reads the Measurements panel
// (one entry per vertebra, labelled "T11: lytic, posterolateral bilateral" by the SR's comment),
// and opens the overlay series. Screenshots (study-list, viewer, measurements, overlays) go to
// SCREENSHOT_DIR. Settings come from the environment (see run-browser-test.sh).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const viewerUrl = env('VIEWER_URL');
const studyUid = env('STUDY_UID');
const patientText = env('PATIENT_TEXT');      // as OHIF lists it, e.g. "PHANTOM, SPINE"
// [{name, label}]: the vertebra's name and the label the SR gives it (from the plugin's result).
const expectedVertebrae = JSON.parse(env('EXPECTED_VERTEBRAE'));
const screenshots = env('SCREENSHOT_DIR');
fs.mkdirSync(screenshots, { recursive: true });

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

// OHIF's first-visit notices (the guided tour, "investigational use") cover the viewport; the tour
// must go first, and its overlay intercepts ordinary clicks.
async function dismissNotices(page) {
  for (const label of ['Skip all', 'Confirm and hide']) {
    const button = page.getByText(label, { exact: true }).first();
    if (await button.isVisible().catch(() => false)) {
      await button.click({ force: true, timeout: 5000 }).catch(() => {});
      await page.waitForTimeout(500);
    }
  }
}

// The share of clearly coloured pixels in a PNG of the viewport: CT is grey, SpineMet's overlays are
// tinted by class and carry a colour legend. Decoded in the page, which has a PNG decoder.
async function colouredShare(page, png) {
  return page.evaluate(async (base64) => {
    const image = new Image();
    image.src = `data:image/png;base64,${base64}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const { data } = context.getImageData(0, 0, image.width, image.height);
    let coloured = 0;
    for (let i = 0; i < data.length; i += 4) {
      const max = Math.max(data[i], data[i + 1], data[i + 2]);
      const min = Math.min(data[i], data[i + 1], data[i + 2]);
      if (max - min > 60) coloured += 1;
    }
    return coloured / (data.length / 4);
  }, png.toString('base64'));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--use-angle=swiftshader',
         '--enable-unsafe-swiftshader', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  const context = await browser.newContext({
    viewport: { width: 1600, height: 1000 },
    httpCredentials: { username: env('VIEWER_USER'), password: env('VIEWER_PASSWORD') },
  });
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text().slice(0, 400)}`));
  page.on('pageerror', (error) => console.log(`page error: ${error.message}`));

  // The study list.
  await page.goto(viewerUrl + '/', { waitUntil: 'domcontentloaded' });
  const listed = await page.getByText(patientText).first()
    .waitFor({ timeout: 60000 }).then(() => true, () => false);
  await dismissNotices(page);
  await page.screenshot({ path: path.join(screenshots, 'study-list.png') });
  check(listed, `the study list shows the phantom study (${patientText})`);

  // Open the study as a person does: from the list (the row expands, then "Basic Viewer").
  let opened = false;
  if (listed) {
    await page.getByText(patientText).first().click();
    const basicViewer = page.getByRole('button', { name: /Basic Viewer/i }).first();
    if (await basicViewer.waitFor({ timeout: 15000 }).then(() => true, () => false)) {
      await basicViewer.click();
      opened = await page.waitForURL(/\/viewer/, { timeout: 30000 }).then(() => true, () => false);
    }
  }
  check(opened, 'the study opens from the study list');
  if (!opened || !page.url().includes(studyUid)) {
    await page.goto(`${viewerUrl}/viewer?StudyInstanceUIDs=${studyUid}`, { waitUntil: 'domcontentloaded' });
  }
  const hasCanvas = await page.locator('canvas').first().waitFor({ timeout: 90000 }).then(() => true, () => false);
  await page.waitForTimeout(5000);
  await dismissNotices(page);
  await page.screenshot({ path: path.join(screenshots, 'viewer.png') });
  check(hasCanvas, 'the viewer draws a viewport');
  const studyBrowser = await page.locator('body').innerText();
  check(studyBrowser.includes('SpineMet AI results'), 'the study browser lists the SR series "SpineMet AI results"');
  check(studyBrowser.includes('SpineMet AI overlays'), 'the study browser lists the series "SpineMet AI overlays"');

  // The SR: OHIF shows it in its SR viewport and offers to track its measurements.
  await page.getByText('SpineMet AI results').first().dblclick();
  const offered = await page.locator('[data-cy=yes-hydrate-btn]').waitFor({ timeout: 60000 }).then(() => true, () => false);
  check(offered, 'the SR opens and OHIF offers to track its measurements');
  if (offered) {
    await page.locator('[data-cy=yes-hydrate-btn]').click();
    await page.waitForTimeout(5000);
  }
  const panelButton = page.locator('[data-cy=trackedMeasurements-btn]');
  if (await panelButton.isVisible().catch(() => false)) {
    const panelText = await page.locator('body').innerText();
    if (!/Measurements\s*\(\d+\)/.test(panelText)) await panelButton.click().catch(() => {});
  }
  await page.waitForTimeout(3000);
  await dismissNotices(page);
  await page.screenshot({ path: path.join(screenshots, 'measurements.png') });
  const panel = await page.locator('body').innerText();
  fs.writeFileSync(path.join(screenshots, 'measurements.txt'), panel);
  const count = /Measurements\s*\((\d+)\)/.exec(panel);
  check(count && Number(count[1]) === expectedVertebrae.length,
        `the Measurements panel counts ${expectedVertebrae.length} measurements (it says ${count ? count[1] : 'nothing'})`);
  for (const { name, label } of expectedVertebrae) {
    check(panel.includes(label), `the Measurements panel lists ${name} with its finding: "${label}"`);
  }

  // The overlay series in the viewport: OHIF names the displayed series in the viewport (so its
  // description appears once more on the page than in the study browser alone), and the viewport's
  // image changes from the CT to the burned-in overlay (tints, legend, warning banner).
  const overlaysName = 'SpineMet AI overlays';
  const mentions = async () => (await page.locator('body').innerText()).split(overlaysName).length - 1;
  const viewport = page.locator('.cornerstone-viewport-element').first();
  const mentionsBefore = await mentions();
  const imageBefore = await viewport.screenshot();
  await page.getByText(overlaysName).first().dblclick();
  await page.waitForTimeout(8000);
  await dismissNotices(page);
  await page.screenshot({ path: path.join(screenshots, 'overlays.png') });
  const imageAfter = await viewport.screenshot();
  const mentionsAfter = await mentions();
  console.log(`coloured share of the viewport: before ${(100 * await colouredShare(page, imageBefore)).toFixed(2)}%, ` +
              `overlays ${(100 * await colouredShare(page, imageAfter)).toFixed(2)}%`);
  check(mentionsAfter > mentionsBefore, `the viewport names the series "${overlaysName}"`);
  check(!imageBefore.equals(imageAfter) && await colouredShare(page, imageAfter) > 0.002,
        'the viewport shows the overlay image (changed from the CT, coloured legend and banner)');

  fs.writeFileSync(path.join(screenshots, 'console.txt'), consoleLines.join('\n'));
} finally {
  await browser.close();
}
if (failures.length) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('all browser checks passed');
