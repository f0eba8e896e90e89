#!/usr/bin/env node
/* global process, setTimeout */
// A fake contest benchmark for `jobhub up --demo` and the web UI tests. It does not contact the
// target: it prints running scores for a few seconds, then the verdict the supervisor expects:
//   {"score": 420, "message": "…"}                       (running score, no "pass")
//   {"pass": true, "score": 1234, "messages": ["…"]}      (the verdict, last line)
// Scores grow with the job id, so each team's chart climbs. Options:
//   --duration=MS    how long a run takes (default 6000)
//   --fail-rate=R    chance of a failed run, 0..1 (default 0.1)
//   --target=ADDR    the team's bench target (shown in the messages)
const arg = (name, fallback) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
};
const durationMs = Math.max(0, Number(arg('duration', '6000')));
const failRate = Math.min(1, Math.max(0, Number(arg('fail-rate', '0.1'))));
const target = arg('target', process.env.JOBHUB_TARGET ?? '?');
const team = process.env.JOBHUB_TEAM_NAME ?? 'team';
const jobId = Number(process.env.JOBHUB_JOB_ID ?? 1);

// Each team has its own level (a hash of its name); later runs score higher.
let h = 0;
for (const c of team) h = (h * 31 + c.charCodeAt(0)) >>> 0;
const base = 800 + (h % 1600);
const final = base + jobId * 60 + Math.floor(Math.random() * 60);
const pass = Math.random() >= failRate;

const steps = 8;
const phases = [
  'initialize',
  'warm-up',
  'load level 1',
  'load level 2',
  'load level 3',
  'peak',
  'cool-down',
  'verify',
];
const out = (v) => process.stdout.write(JSON.stringify(v) + '\n');
process.stderr.write(`fake-bench: team=${team} job=${jobId} target=${target} duration=${durationMs}ms\n`);

for (let i = 0; i < steps; i++) {
  await new Promise((r) => setTimeout(r, durationMs / steps));
  const score = Math.floor((final * (i + 1)) / steps);
  out({ score, message: `${phases[i]}: ${score} points against ${target}` });
  process.stderr.write(`fake-bench: step ${i + 1}/${steps} score=${score}\n`);
}

if (pass) {
  out({ pass: true, score: final, messages: [`${team}: all checks passed`, `final score ${final}`] });
} else {
  out({
    pass: false,
    score: 0,
    messages: ['GET /api/items returned 500 (3 times)', 'consistency check failed'],
  });
  process.exit(1);
}
