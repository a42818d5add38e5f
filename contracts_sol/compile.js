#!/usr/bin/env node
// Compiles the anchoring contracts with solc-js (the exact version in package.json), each
// alone (its own standard JSON input, so one contract's artifact never depends on another's
// source), and writes each artifact, byte for byte the same on every machine, to
//   contracts_sol/build/<Name>.json   (committed; what verifiers and auditors read)
//   sealtrail/anchoring/<Name>.json   (the same bytes, shipped in the Python package)
// for <Name> = SealtrailAnchor (version 1: log roots) and SealtrailAnchorV2 (version 2: log
// roots and map roots). Version 1 stays built and shipped: anchors made on it stay verifiable.
//
//   node contracts_sol/compile.js            compile and write every file
//   node contracts_sol/compile.js --check    compile and compare; exit 1 if a file differs
//   node contracts_sol/compile.js --out DIR  compile and write DIR/<Name>.json only
//
// Settings: optimizer on (200 runs), evmVersion "shanghai" (Ganache 7 knows no cancun opcodes,
// and solc >= 0.8.25 would otherwise emit MCOPY). Compiler warnings are errors.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const CONTRACTS = ['SealtrailAnchor', 'SealtrailAnchorV2'];
const HERE = __dirname;
const ROOT = path.resolve(HERE, '..');

/** Where the artifact of `contract` is written. */
function targets(contract) {
  return [
    path.join(HERE, 'build', `${contract}.json`),
    path.join(ROOT, 'sealtrail', 'anchoring', `${contract}.json`),
  ];
}

const SETTINGS = {
  evmVersion: 'shanghai',
  optimizer: { enabled: true, runs: 200 },
  outputSelection: {
    '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
  },
};

/** Returns value with every object's keys sorted, recursively (arrays keep their order). */
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
    return out;
  }
  return value;
}

/** Compiles `CONTRACT` (from `CONTRACT.sol`); returns the artifact's exact text (sorted keys,
 * 2-space indent, \n). */
function compile(CONTRACT) {
  const SOURCE_NAME = `${CONTRACT}.sol`;
  const source = fs.readFileSync(path.join(HERE, SOURCE_NAME), 'utf8');
  const input = {
    language: 'Solidity',
    sources: { [SOURCE_NAME]: { content: source } },
    settings: SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = output.errors || [];
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`${p.formattedMessage || p.message}\n`);
    throw new Error(`solc reported ${problems.length} error(s) or warning(s); want none`);
  }
  const contract = output.contracts[SOURCE_NAME][CONTRACT];
  const artifact = {
    contractName: CONTRACT,
    sourceName: SOURCE_NAME,
    sourceSha256: crypto.createHash('sha256').update(source, 'utf8').digest('hex'),
    compiler: {
      version: solc.version(),
      // The settings that shape the bytecode (outputSelection only picks what is reported).
      settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer },
    },
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
  };
  return `${JSON.stringify(sortKeys(artifact), null, 2)}\n`;
}

function main(argv) {
  const texts = Object.fromEntries(CONTRACTS.map((c) => [c, compile(c)]));
  if (argv[0] === '--check') {
    let stale = 0;
    for (const [contract, target] of CONTRACTS.flatMap((c) => targets(c).map((t) => [c, t]))) {
      const text = texts[contract];
      const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
      if (current !== text) {
        stale += 1;
        const why = current === null ? 'missing' : 'differs from a fresh compile';
        process.stderr.write(`${path.relative(ROOT, target)}: ${why}\n`);
      }
    }
    if (stale > 0) {
      process.stderr.write('run `node contracts_sol/compile.js` and commit the result\n');
      return 1;
    }
    process.stdout.write('artifacts match a fresh compile\n');
    return 0;
  }
  let where = targets;
  if (argv[0] === '--out') {
    if (!argv[1]) throw new Error('--out needs a directory');
    where = (c) => [path.join(path.resolve(argv[1]), `${c}.json`)];
  } else if (argv.length > 0) {
    throw new Error(`unknown arguments: ${argv.join(' ')} (want none, --check or --out DIR)`);
  }
  for (const [contract, target] of CONTRACTS.flatMap((c) => where(c).map((t) => [c, t]))) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, texts[contract]);
    process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`compile.js: ${err.message}\n`);
  process.exitCode = 2;
}
