// The README's example (`npm run example:readme`): examples/readme/main.js and processors/checksum.js are the README's
// two code blocks word for word (test/readme.test.ts compares them); a.bin and b.bin are the files main.js reads.
// This runs main.js in a child process started from another folder (the OS's temp folder), with a local HTTP server
// standing in for the scheduler its HttpReporter posts to (SCHEDULER_URL), prints what main.js printed and the final
// reports the server received, and exits 1 unless main.js exited 0 and both instances' final reports said SUCCEED.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

interface Report { readonly instanceId: string; readonly status: string; readonly result: string }

// This module runs from dist/examples/readme/; main.js is not compiled and stays in examples/readme/.
const main = fileURLToPath(new URL('../../../examples/readme/main.js', import.meta.url));

const reports: Report[] = [];
const server = createServer((request, response) => {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => (body += chunk));
  request.on('end', () => {
    if (request.method !== 'POST' || request.url !== '/report') {
      response.writeHead(404).end();
      return;
    }
    reports.push(JSON.parse(body) as Report);
    response.writeHead(200).end();
  });
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/report`;
console.log(`scheduler stand-in: ${url}`);
console.log(`$ cd ${tmpdir()} && SCHEDULER_URL=${url} node ${main}`);

const child = spawn(process.execPath, [main], { cwd: tmpdir(), env: { ...process.env, SCHEDULER_URL: url }, stdio: ['ignore', 'pipe', 'inherit'] });
child.stdout.setEncoding('utf8');
child.stdout.on('data', (text: string) => process.stdout.write(text.replace(/^(?=.)/gm, '  ')));
const [code] = (await once(child, 'close')) as [number | null];
server.close();

const finals = reports.filter((report) => report.status !== 'RUNNING');
console.log(`main.js exited with code ${code}; the scheduler stand-in received ${finals.length} final reports:`);
for (const report of finals) console.log(`  ${report.instanceId} ${report.status} ${report.result}`);
if (code !== 0 || finals.length !== 2 || finals.some((report) => report.status !== 'SUCCEED')) {
  console.log('UNEXPECTED: main.js should exit 0 after both instances reported SUCCEED');
  process.exitCode = 1;
}
