// Adds up the vitest JSON reports of every project, and the JUnit reports of the experiments'
// quick targets (one test case per expectation bound), into one closing line, "N passed, N failed";
// fails when a project that has tests wrote no report (so a crashed suite cannot pass unseen).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const projects = ['libs', 'apps', 'tools']
  .filter((group) => existsSync(group))
  .flatMap((group) => readdirSync(group).map((name) => join(group, name)))
  .filter((project) => existsSync(join(project, 'package.json')) || existsSync(join(project, 'project.json')))
  .concat(['tests']);
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const project of projects) {
  const report = join(project, 'test-results', 'vitest.json');
  if (!existsSync(report)) {
    missing.push(project);
    continue;
  }
  const results = JSON.parse(readFileSync(report, 'utf8'));
  passed += results.numPassedTests;
  failed += results.numFailedTests;
  skipped += results.numPendingTests + results.numTodoTests;
  console.log(`${project}: ${results.numPassedTests} passed, ${results.numFailedTests} failed`);
}
// The experiments' quick runs: a JUnit report per experiment, beside its run directory.
const quickReports = existsSync(join('runs', 'nx')) ? readdirSync(join('runs', 'nx')).map((name) => join('runs', 'nx', name, 'quick.junit.xml')).filter(existsSync) : [];
let quickPassed = 0;
let quickFailed = 0;
for (const report of quickReports) {
  const head = /<testsuites\b[^>]*>/.exec(readFileSync(report, 'utf8'))?.[0] ?? '';
  const attribute = (name) => Number(new RegExp(`\\s${name}="(\\d+)"`).exec(head)?.[1] ?? 0);
  const tests = attribute('tests');
  const bad = attribute('failures') + attribute('errors');
  quickPassed += tests - bad - attribute('skipped');
  quickFailed += bad;
}
if (quickReports.length > 0) console.log(`experiments (quick): ${quickReports.length} runs, ${quickPassed} expectations met, ${quickFailed} not met`);
passed += quickPassed;
failed += quickFailed;
if (missing.length > 0) console.log(`no test report from: ${missing.join(', ')}`);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || missing.length > 0 ? 1 : 0);
