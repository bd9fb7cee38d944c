// SPDX-License-Identifier: GPL-3.0-or-later
// The demo as a person sees it: Debian's headless Chromium, driven by playwright-core, opens the
// OHIF viewer of the native stack, finds the phantom study in the study list, opens it, and checks
// that the CT, SpineMet's SR measurements and the overlay series are shown. Screenshots go to
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

const expectedFindings = JSON.parse(env('EXPECTED_FINDINGS'));   // [{name, finding}]
const screenshots = env('SCREENSHOT_DIR');
fs.mkdirSync(screenshots, { recursive: true });

// OHIF's first-visit notices ("investigational use", the guided tour) cover the viewport.
async function dismissNotices(page) {
  for (const label of ['Confirm and hide', 'Skip all']) {
    const button = page.getByText(label, { exact: true }).first();
    if (await button.isVisible().catch(() => false)) await button.click().catch(() => {});
  }
}

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

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
  page.on('pageerror', (error) => console.log(`page error: ${error.message}`));

  // The study list.
  await page.goto(viewerUrl + '/', { waitUntil: 'domcontentloaded' });
  const listed = await page.getByText(patientText).first()
    .waitFor({ timeout: 60000 }).then(() => true, () => false);
  await dismissNotices(page);
  await page.screenshot({ path: path.join(screenshots, 'study-list.png') });
  check(listed, `the study list shows the phantom study (${patientText})`);

  // The study in the viewer.
  await page.goto(`${viewerUrl}/viewer?StudyInstanceUIDs=${studyUid}`, { waitUntil: 'domcontentloaded' });
  const canvas = page.locator('canvas').first();
  const hasCanvas = await canvas.waitFor({ timeout: 90000 }).then(() => true, () => false);
  await page.waitForTimeout(8000);
  await dismissNotices(page);
  await page.screenshot({ path: path.join(screenshots, 'viewer.png') });
  const body = await page.locator('body').innerText();
  check(hasCanvas, 'the viewer draws a viewport');
  check(/SpineMet/i.test(body), 'the study browser lists SpineMet series (SR, overlays)');

  fs.writeFileSync(path.join(screenshots, 'viewer.txt'), body);
  for (const { name, finding } of expectedFindings) {
    check(body.includes(name), `the measurement panel names ${name} (${finding})`);
  }
} finally {
  await browser.close();
}
if (failures.length) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('all browser checks passed');
