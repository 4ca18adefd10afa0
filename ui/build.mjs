// Bundles the canvas and the operations view into the files the Python package serves.
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import { build } from "esbuild";

const target = new URL("../youmeyou/ui_bundle", import.meta.url).pathname;
// Built aside, then swapped in: a server reading the bundle never sees half of one.
const out = `${target}.building/`;
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { canvas: "src/canvas.tsx", ops: "src/ops.tsx" },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  outdir: out,
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "linked",
  logLevel: "warning",
});
for (const page of ["canvas.html", "ops.html"]) {
  await copyFile(new URL(`src/${page}`, import.meta.url), `${out}${page}`);
}
await rm(target, { recursive: true, force: true });
await rename(out, target);
