/**
 * `npm test`: runs the one suite under `deno test` and `bun test`, then prints one line that sums
 * both runtimes: `N passed, N failed`. Exits non-zero when any test fails on either runtime.
 * Run with Bun (`bun scripts/test.ts`); extra arguments are passed to both runners as file filters.
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";

const files = process.argv.slice(2);
mkdirSync("test-results", { recursive: true });

interface Run {
  runtime: string;
  passed: number;
  failed: number;
  exit: number;
}

/** Counts leaf test cases of a JUnit report (Deno lists describe blocks as cases too). */
function count(xml: string): { passed: number; failed: number } {
  const cases = [...xml.matchAll(/<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => ({
    name: m[1]!.replaceAll("&gt;", ">"),
    failed: /<failure|<error/.test(m[3] ?? ""),
  }));
  const leaves = cases.filter((c) => !cases.some((o) => o.name.startsWith(`${c.name} > `)));
  const failed = leaves.filter((c) => c.failed).length;
  return { passed: leaves.length - failed, failed };
}

function run(runtime: string, args: string[], report: string): Run {
  rmSync(report, { force: true });
  console.log(`\n=== ${runtime}: ${args.join(" ")}`);
  const result = spawnSync(`node_modules/.bin/${runtime}`, args, { stdio: "inherit", env: process.env });
  const exit = result.status ?? 1;
  if (!existsSync(report)) return { runtime, passed: 0, failed: 1, exit: exit || 1 };
  const { passed, failed } = count(readFileSync(report, "utf8"));
  // A runner that failed without a failing case (a file that did not load) still counts as a failure.
  return { runtime, passed, failed: failed === 0 && exit !== 0 ? 1 : failed, exit };
}

const deno = run("deno", ["test", "--allow-all", "--junit-path=test-results/deno.xml", ...files], "test-results/deno.xml");
const bun = run("bun", ["test", "--timeout=60000", "--reporter=junit", "--reporter-outfile=test-results/bun.xml", ...files], "test-results/bun.xml");

for (const r of [deno, bun]) console.log(`${r.runtime}: ${r.passed} passed, ${r.failed} failed (exit ${r.exit})`);
const passed = deno.passed + bun.passed;
const failed = deno.failed + bun.failed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || deno.exit !== 0 || bun.exit !== 0 ? 1 : 0);
