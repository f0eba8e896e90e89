/**
 * The `s3://bucket[/prefix]?endpoint=…&region=…&forcePathStyle=…&checksums=…` locator for the
 * S3-compatible blob store. Kept free of SDK imports so configuration can validate it cheaply.
 */

export interface S3Location {
  bucket: string;
  /** Key prefix under which `objects/` and `tmp/` live: `''` or ends with `/` (`team-a/blobs/`). */
  prefix: string;
  /** Non-AWS endpoint (MinIO, R2, Ceph, s3rver) as an origin URL; undefined = AWS. */
  endpoint: string | undefined;
  /** undefined = the SDK's own lookup (AWS_REGION, shared config); with an endpoint: us-east-1. */
  region: string | undefined;
  forcePathStyle: boolean;
  /**
   * `when_supported`: the SDK's default extra CRC32 checksums on uploads and checked downloads.
   * `when_required`: only where S3 demands them; many S3-compatible servers reject the others
   * (R2: 501 NotImplemented for x-amz-checksum-crc32, older MinIO and Ceph RGW: 400).
   */
  checksums: 'when_supported' | 'when_required';
}

/** A malformed blob-store URL; the message names the part that is wrong. */
export class S3UrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'S3UrlError';
  }
}

const PARAMS = ['endpoint', 'region', 'forcePathStyle', 'checksums'] as const;
// S3's rules (3–63 characters of lowercase letters, digits, dots, hyphens; alphanumeric at both
// ends), plus underscores, which older buckets and some S3-compatible servers allow.
const BUCKET_RE = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
const REGION_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const PREFIX_SEGMENT_RE = /^[A-Za-z0-9!_.*'()=+,;:@ -]+$/;

/**
 * Parses an `s3://` locator. Credentials never go in the URL (it ends up in logs and `ps`); the
 * SDK's default chain supplies them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, roles).
 */
export function parseS3Url(url: string): S3Location {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new S3UrlError(`blob store URL ${JSON.stringify(url)} is not a URL; expected s3://bucket[/prefix]`);
  }
  if (u.protocol !== 's3:' || !/^s3:\/\//i.test(url)) {
    throw new S3UrlError(`blob store URL scheme must be s3://, got ${u.protocol}//`);
  }
  if (u.username || u.password) {
    throw new S3UrlError(
      'blob store URL must not carry credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead',
    );
  }
  if (u.port) {
    throw new S3UrlError(
      `blob store URL: the bucket takes no port (${u.host}); put the server in ?endpoint=`,
    );
  }
  const bucket = u.hostname;
  if (!bucket) throw new S3UrlError('blob store URL names no bucket; expected s3://bucket[/prefix]');
  if (!BUCKET_RE.test(bucket) || bucket.includes('..')) {
    throw new S3UrlError(
      `blob store URL: bucket ${JSON.stringify(bucket)} is not a valid bucket name ` +
        '(3-63 lowercase letters, digits, dots, hyphens)',
    );
  }
  if (u.hash) throw new S3UrlError(`blob store URL: unexpected fragment ${u.hash}`);

  // The prefix is read from the raw text: the URL parser would quietly resolve `a/../b` to `b`.
  const rest = url.slice('s3://'.length);
  const hostAndPath = rest.slice(0, rest.search(/[?#]|$/));
  const slash = hostAndPath.indexOf('/');
  const path = slash < 0 ? '' : hostAndPath.slice(slash + 1).replace(/\/$/, '');
  let prefix = '';
  if (path !== '') {
    for (const raw of path.split('/')) {
      let segment: string;
      try {
        segment = decodeURIComponent(raw);
      } catch {
        throw new S3UrlError(
          `blob store URL: prefix segment ${JSON.stringify(raw)} is not valid percent-encoding`,
        );
      }
      if (segment === '' || segment === '.' || segment === '..' || !PREFIX_SEGMENT_RE.test(segment)) {
        throw new S3UrlError(
          `blob store URL: prefix segment ${JSON.stringify(segment)} is not allowed ` +
            '(no empty, "." or ".." segments; letters, digits and !_.*\'()=+,;:@- only)',
        );
      }
      prefix += `${segment}/`;
    }
    if (prefix.length > 512) throw new S3UrlError('blob store URL: prefix longer than 512 characters');
  }

  for (const key of new Set(u.searchParams.keys())) {
    if (!(PARAMS as readonly string[]).includes(key)) {
      throw new S3UrlError(
        `blob store URL: unknown parameter ${JSON.stringify(key)} (known: ${PARAMS.join(', ')})`,
      );
    }
    if (u.searchParams.getAll(key).length > 1) {
      throw new S3UrlError(`blob store URL: parameter ${key} given more than once`);
    }
  }

  let endpoint: string | undefined;
  const rawEndpoint = u.searchParams.get('endpoint');
  if (rawEndpoint !== null) {
    let e: URL;
    try {
      e = new URL(rawEndpoint);
    } catch {
      throw new S3UrlError(`blob store URL: endpoint ${JSON.stringify(rawEndpoint)} is not a URL`);
    }
    if (e.protocol !== 'http:' && e.protocol !== 'https:') {
      throw new S3UrlError(`blob store URL: endpoint must be http:// or https://, got ${e.protocol}//`);
    }
    if (e.username || e.password) {
      throw new S3UrlError('blob store URL: endpoint must not carry credentials');
    }
    if ((e.pathname !== '/' && e.pathname !== '') || e.search || e.hash) {
      throw new S3UrlError(`blob store URL: endpoint must be just scheme://host[:port], got ${rawEndpoint}`);
    }
    endpoint = e.origin;
  }

  const rawRegion = u.searchParams.get('region');
  if (rawRegion !== null && !REGION_RE.test(rawRegion)) {
    throw new S3UrlError(
      `blob store URL: region ${JSON.stringify(rawRegion)} is not a region name (like us-east-1)`,
    );
  }
  const region = rawRegion ?? (endpoint ? 'us-east-1' : undefined);

  const rawPathStyle = u.searchParams.get('forcePathStyle');
  let forcePathStyle = endpoint !== undefined;
  if (rawPathStyle !== null) {
    if (rawPathStyle !== 'true' && rawPathStyle !== 'false') {
      throw new S3UrlError(
        `blob store URL: forcePathStyle must be true or false, got ${JSON.stringify(rawPathStyle)}`,
      );
    }
    forcePathStyle = rawPathStyle === 'true';
  }

  const rawChecksums = u.searchParams.get('checksums');
  let checksums: S3Location['checksums'] = endpoint ? 'when_required' : 'when_supported';
  if (rawChecksums !== null) {
    if (rawChecksums !== 'when_supported' && rawChecksums !== 'when_required') {
      throw new S3UrlError(
        `blob store URL: checksums must be when_supported or when_required, got ${JSON.stringify(rawChecksums)}`,
      );
    }
    checksums = rawChecksums;
  }

  return { bucket, prefix, endpoint, region, forcePathStyle, checksums };
}
