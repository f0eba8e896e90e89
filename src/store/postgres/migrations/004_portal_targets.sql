-- 003: the contest's allowed bench-target blocks (src/contest/net.ts benchTarget): a JSON array of
-- canonical CIDR blocks that contestants may use for server addresses despite the default refusal
-- (loopback, link-local, private...). NULL = none.
ALTER TABLE portal_contest ADD COLUMN allowed_target_cidrs TEXT;
