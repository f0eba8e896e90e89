/**
 * The native API's contracts, in one place: request bodies checked at the edge, and the same
 * schemas feed the OpenAPI document served at /openapi.json.
 */
import { Type, type Static } from '@sinclair/typebox';

const Id = Type.String({ pattern: '^[0-9]{1,18}$', description: 'A 64-bit id as a decimal string' });
const Tag = Type.String({ minLength: 1, maxLength: 65 });
const Tags = Type.Array(Tag, { maxItems: 32 });
/** A process exit status (a 32-bit integer: what the stores keep). */
const ExitStatus = Type.Integer({ minimum: -2147483648, maximum: 2147483647 });

export const Input = Type.Union(
  [
    Type.Object({ blobId: Id }, { additionalProperties: false }),
    Type.Object({ text: Type.String() }, { additionalProperties: false }),
    Type.Object(
      { base64: Type.String({ pattern: '^[A-Za-z0-9+/_-]*={0,2}$' }) },
      { additionalProperties: false },
    ),
  ],
  { description: 'A blob id, or small inline bytes as UTF-8 text or base64' },
);

const JobCore = {
  function: Type.Optional(Id),
  runtime: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  tags: Type.Optional(Tags),
  priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000 })),
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 7 * 24 * 3600_000 })),
  group: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description: "A group: fair dispatch among groups, and the group's concurrency, rate and pause",
    }),
  ),
};

export const NextJob = Type.Recursive((Self) =>
  Type.Object({ ...JobCore, next: Type.Optional(Self) }, { additionalProperties: false }),
);

export const JobCreate = Type.Object(
  {
    ...JobCore,
    input: Type.Optional(Input),
    idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    runAt: Type.Optional(
      Type.String({
        maxLength: 64,
        description:
          'RFC 3339 time before which the job does not run (at most a day past, 366 days ahead); not with delayMs',
      }),
    ),
    delayMs: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Run no sooner than this many ms from now; not with runAt' }),
    ),
    next: Type.Optional(NextJob),
  },
  { additionalProperties: false },
);
export type JobCreate = Static<typeof JobCreate>;

export const JobBatchCreate = Type.Object(
  { jobs: Type.Array(JobCreate, { minItems: 1, maxItems: 10_000 }) },
  { additionalProperties: false },
);

const JobStateName = Type.Union(
  ['queued', 'running', 'succeeded', 'failed', 'canceled'].map((s) => Type.Literal(s)),
);

export const JobBulk = Type.Object(
  {
    action: Type.Union([Type.Literal('retry'), Type.Literal('cancel')], {
      description: 'retry: failed and canceled jobs (not contest jobs); cancel: queued and running jobs',
    }),
    filter: Type.Object(
      {
        state: Type.Optional(
          Type.Union([JobStateName, Type.Array(JobStateName, { minItems: 1, maxItems: 5 })]),
        ),
        function: Type.Optional(Id),
        runtime: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
        tag: Type.Optional(Tag),
        group: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        createdBefore: Type.Optional(Type.String({ maxLength: 64, description: 'RFC 3339 time' })),
      },
      { additionalProperties: false, description: 'Every field narrows the selection; {} = all your jobs' },
    ),
  },
  { additionalProperties: false },
);
export type JobBulk = Static<typeof JobBulk>;

export const ScheduleCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    cron: Type.String({
      minLength: 1,
      maxLength: 200,
      description: '5 fields (minute hour day month weekday), or 6 with seconds first',
    }),
    timezone: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'IANA time zone; default UTC' }),
    ),
    job: JobCreate,
    overlap: Type.Optional(
      Type.Union([Type.Literal('skip'), Type.Literal('allow')], {
        description:
          "skip: no job at a tick while the schedule's previous job is queued or running; default allow",
      }),
    ),
  },
  { additionalProperties: false },
);
export type ScheduleCreate = Static<typeof ScheduleCreate>;

export const WebhookCreate = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2000, description: 'http(s) URL the hub POSTs to' }),
    events: Type.Array(
      Type.Union([Type.Literal('job.succeeded'), Type.Literal('job.failed'), Type.Literal('job.canceled')]),
      { minItems: 1, maxItems: 3 },
    ),
    secret: Type.String({
      minLength: 8,
      maxLength: 200,
      description: 'key of the HMAC-SHA256 signature (Jobhub-Signature); never shown again',
    }),
  },
  { additionalProperties: false },
);

export const FunctionCreate = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    runtime: Type.String({ minLength: 1, maxLength: 256 }),
    codeBlobId: Type.Optional(Id),
    tags: Type.Optional(Tags),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 7 * 24 * 3600_000 })),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

export const WorkerRegister = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    runtimes: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { minItems: 1, maxItems: 64 }),
    tags: Type.Optional(Tags),
    capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

const LeaseFields = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
  tags: Type.Optional(Tags),
};

export const LeaseRequest = Type.Object(LeaseFields, { additionalProperties: false });

/** A lease made with a batch completion, for the worker `workerId` (protocol §9). */
export const NextLease = Type.Object(
  { workerId: Id, ...LeaseFields },
  {
    additionalProperties: false,
    description: 'Lease for this worker in the same request; the reply carries `next: {jobs}`',
  },
);

export const Heartbeat = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 200 }),
    progress: Type.Optional(Type.Unknown()),
    logs: Type.Optional(Type.Array(Type.String({ maxLength: 16_384 }), { maxItems: 1000 })),
  },
  { additionalProperties: false },
);

export const Complete = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 200 }),
    output: Type.Optional(Input),
    result: Type.Optional(Type.Unknown()),
    exitStatus: Type.Optional(ExitStatus),
  },
  { additionalProperties: false },
);

export const CompleteBatch = Type.Object(
  {
    completions: Type.Array(
      Type.Object({ jobId: Id, ...Complete.properties }, { additionalProperties: false }),
      {
        minItems: 1,
        maxItems: 1000,
      },
    ),
    next: Type.Optional(NextLease),
  },
  { additionalProperties: false },
);

export const Fail = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 200 }),
    error: Type.String({ maxLength: 65_536 }),
    retryable: Type.Optional(Type.Boolean()),
    exitStatus: Type.Optional(ExitStatus),
    result: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

export const GroupUpdate = Type.Object(
  {
    concurrency: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()], {
        description: 'Most jobs of the group running at once, across all hubs; null: no limit',
      }),
    ),
    perSecond: Type.Optional(
      Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }), Type.Null()], {
        description: 'Most jobs of the group started per second, across all hubs; null: no limit',
      }),
    ),
    paused: Type.Optional(Type.Boolean({ description: 'A paused group starts none of its jobs' })),
  },
  { additionalProperties: false },
);

export const TokenCreate = Type.Object(
  {
    role: Type.Union([Type.Literal('admin'), Type.Literal('client'), Type.Literal('worker')]),
    name: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const ErrorEnvelope = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'Stable machine-readable code, e.g. not_found, lease_stale' }),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  }),
});
