// SPDX-License-Identifier: GPL-3.0-or-later
// Reads SpineMet SRs with the code OHIF 3.13.2 uses to turn SR measurement groups into tracked
// measurements (@cornerstonejs/adapters MeasurementReport.generateToolState, dcmjs to parse), and
// checks that every group becomes a closed PlanarFreehandROI labelled with the group's Comment.
// A group the adapter cannot hydrate is dropped by OHIF with a console warning: that is a failure.
// Usage: node hydrate.mjs SR.dcm...
import fs from 'fs';
import dcmjs from 'dcmjs';
import { metaData } from '@cornerstonejs/core';
import { adaptersSR } from '@cornerstonejs/adapters';

// The adapter maps region points to patient space through the image plane of the referenced
// slice; any axial plane will do, the check is about structure, not geometry.
const plane = { frameOfReferenceUID: '1.2.3', rowCosines: [1, 0, 0], columnCosines: [0, 1, 0],
                imagePositionPatient: [0, 0, 0], rowPixelSpacing: 0.7, columnPixelSpacing: 0.7,
                rows: 512, columns: 512 };
metaData.addProvider((type) => (type === 'imagePlaneModule' ? plane : undefined), 10000);
const metadata = { get: (type) => (type === 'imagePlaneModule' ? plane : undefined) };
const imageIds = new Proxy({}, { get: (target, key) => 'wadors:' + String(key) });

const asArray = (x) => (Array.isArray(x) ? x : x ? [x] : []);

function groupComments(dataset) {
  const measurements = asArray(dataset.ContentSequence)
    .find((item) => item.ConceptNameCodeSequence && asArray(item.ConceptNameCodeSequence)[0].CodeValue === '126010');
  return asArray(measurements && measurements.ContentSequence)
    .filter((item) => asArray(item.ConceptNameCodeSequence)[0].CodeValue === '125007')
    .map((group) => {
      const comment = asArray(group.ContentSequence)
        .find((item) => asArray(item.ConceptNameCodeSequence)[0].CodeValue === '121106');
      return comment ? comment.TextValue : undefined;
    });
}

let failures = 0;
const fail = (file, message) => { failures += 1; process.stderr.write(`FAIL ${file}: ${message}\n`); };

for (const file of process.argv.slice(2)) {
  const bytes = fs.readFileSync(file);
  const parsed = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict);
  const comments = groupComments(dataset);

  const warnings = [];
  const { warn, log } = console;
  console.warn = (...args) => warnings.push(args.map(String).join(' '));
  console.log = () => {};   // the adapter logs every measurement
  let state;
  try {
    state = adaptersSR.Cornerstone3D.MeasurementReport.generateToolState(dataset, imageIds, metadata);
  } finally {
    console.warn = warn;
    console.log = log;
  }

  const hydrated = (state.PlanarFreehandROI || []).map((m) => ({
    label: m.annotation.data.label, closed: m.annotation.data.contour && m.annotation.data.contour.closed,
  }));
  const others = Object.keys(state).filter((tool) => tool !== 'PlanarFreehandROI');
  if (comments.length === 0) fail(file, 'no measurement group found');
  if (others.length) fail(file, `groups hydrated as other tools: ${others.join(', ')}`);
  if (warnings.length) fail(file, `the adapter dropped groups:\n  ${warnings.join('\n  ')}`);
  if (hydrated.length !== comments.length) fail(file, `${hydrated.length} of ${comments.length} groups hydrated`);
  comments.forEach((comment, i) => {
    if (!hydrated[i]) return;
    if (hydrated[i].label !== comment) fail(file, `group ${i} labelled "${hydrated[i].label}", its Comment is "${comment}"`);
    if (!hydrated[i].closed) fail(file, `group ${i} ("${comment}") is not a closed contour`);
  });
  process.stdout.write(`${file}: ${hydrated.length} of ${comments.length} groups tracked: ` +
                       `${hydrated.map((h) => h.label).join(' | ')}\n`);
}
process.exit(failures ? 1 : 0);
