// Adds up the vitest JSON reports of every project into one closing line, "N passed, N failed",
// and fails when a project that has tests wrote no report (so a crashed suite cannot pass unseen).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const projects = ['libs', 'apps'].flatMap((group) => readdirSync(group).map((name) => join(group, name))).concat(['tests']);
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
if (missing.length > 0) console.log(`no test report from: ${missing.join(', ')}`);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || missing.length > 0 ? 1 : 0);
