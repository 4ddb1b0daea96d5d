// Regenerates golden.json from cases.txt and data.json with the reference
// JSONata (the npm package jsonata@2.0.6, the version Step Functions runs).
// Not run by CI: the Go tests read only the committed golden.json.
//
//   cd $(mktemp -d) && npm install jsonata@2.0.6 &&
//   NODE_PATH=$PWD/node_modules node /path/to/gen.js /path/to/testdata/differential
//
// Step Functions' changes are reproduced: $parse is bound and $eval is not.
const fs = require('fs');
const path = require('path');
const jsonata = require('jsonata');

const dir = process.argv[2] || __dirname;
const data = JSON.parse(fs.readFileSync(path.join(dir, 'data.json'), 'utf8'));
const lines = fs.readFileSync(path.join(dir, 'cases.txt'), 'utf8').split('\n');

function plain(v) {
  if (typeof v === 'function' || (v && typeof v === 'object' && (v._jsonata_lambda || v._jsonata_function))) {
    return { function: true };
  }
  return v;
}

async function main() {
  const out = [];
  for (const line of lines) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const sp = line.indexOf(' ');
    const doc = line.slice(0, sp);
    const expr = line.slice(sp + 1);
    let input = data[doc];
    const bindings = {
      parse: (s) => JSON.parse(s),
      eval: undefined,
    };
    if (doc === 'states') {
      bindings.states = input;
      input = undefined;
    }
    const c = { data: doc, expr };
    try {
      const e = jsonata(expr);
      e.registerFunction('parse', (s) => JSON.parse(s), '<s:j>');
      const r = await e.evaluate(input, { eval: undefined, states: bindings.states });
      if (r === undefined) c.undefined = true;
      else c.result = JSON.parse(JSON.stringify(r, (k, v) => plain(v)));
    } catch (err) {
      c.error = { code: err.code || '', message: err.message || String(err) };
      if (err.position !== undefined) c.error.position = err.position;
    }
    out.push(c);
  }
  fs.writeFileSync(path.join(dir, 'golden.json'), JSON.stringify(out, null, 1) + '\n');
  console.log(out.length + ' cases');
}
main();
