#!/usr/bin/env node
// Compiles contracts_sol/SealtrailAnchor.sol with solc-js (the exact version in package.json)
// and writes the artifact, byte for byte the same on every machine, to
//   contracts_sol/build/SealtrailAnchor.json   (committed; what verifiers and auditors read)
//   sealtrail/anchoring/SealtrailAnchor.json   (the same bytes, shipped in the Python package)
//
//   node contracts_sol/compile.js            compile and write both files
//   node contracts_sol/compile.js --check    compile and compare; exit 1 if a file differs
//   node contracts_sol/compile.js --out DIR  compile and write DIR/SealtrailAnchor.json only
//
// Settings: optimizer on (200 runs), evmVersion "shanghai" (Ganache 7 knows no cancun opcodes,
// and solc >= 0.8.25 would otherwise emit MCOPY). Compiler warnings are errors.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const CONTRACT = 'SealtrailAnchor';
const SOURCE_NAME = `${CONTRACT}.sol`;
const HERE = __dirname;
const ROOT = path.resolve(HERE, '..');
const TARGETS = [
  path.join(HERE, 'build', `${CONTRACT}.json`),
  path.join(ROOT, 'sealtrail', 'anchoring', `${CONTRACT}.json`),
];

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

/** Compiles the contract; returns the artifact's exact text (sorted keys, 2-space indent, \n). */
function compile() {
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
  const text = compile();
  if (argv[0] === '--check') {
    let stale = 0;
    for (const target of TARGETS) {
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
  let targets = TARGETS;
  if (argv[0] === '--out') {
    if (!argv[1]) throw new Error('--out needs a directory');
    targets = [path.join(path.resolve(argv[1]), `${CONTRACT}.json`)];
  } else if (argv.length > 0) {
    throw new Error(`unknown arguments: ${argv.join(' ')} (want none, --check or --out DIR)`);
  }
  for (const target of targets) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
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
