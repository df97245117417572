// Loads netanomaly (its TypeScript sources in ../src) into a tslab notebook.
//
// tslab compiles notebook cells with its own TypeScript and cannot import files outside the
// notebook's directory, so the library is loaded at run time through tsx's ESM loader (the same
// way the CLI runs) and used untyped in the cells:
//
//   import * as tslab from 'tslab';
//   const na: any = await require('./netanomaly.cjs').load(tslab);
//   na.show(na.elbowFigure({...}));   // a Plotly figure spec, drawn inline (plotly embedded, no CDN)
const path = require('node:path');
const fs = require('node:fs');
const { pathToFileURL } = require('node:url');

let loaded = null;

async function load(tslab) {
  if (!loaded) {
    const api = await import('tsx/esm/api');
    api.register();
    const src = path.join(__dirname, '..', 'src');
    const mods = [path.join(src, 'index.ts')];
    // Optional modules, loaded when present: insight (explain) and the multi-file traffic reader.
    for (const rel of [['explain', 'index.ts'], ['ingest', 'traffic', 'many.ts']]) {
      const m = path.join(src, ...rel);
      if (fs.existsSync(m)) mods.push(m);
    }
    const na = {};
    for (const m of mods) {
      const ns = await import(pathToFileURL(m).href);
      for (const [k, v] of Object.entries(ns)) if (!(k in na)) na[k] = v;
    }
    loaded = na;
  }
  const na = { ...loaded };
  if (tslab) {
    // Embed plotly.js once, in the output of the cell that calls load(); figures wait for it.
    tslab.display.html(await na.plotlyScriptTag());
    na.show = (fig) => tslab.display.html(na.figureHtml(fig));
    na.html = (s) => tslab.display.html(s);
  }
  return na;
}

module.exports = { load };
