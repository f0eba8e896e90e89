/**
 * The contest portal API (`/api/portal/…`, docs/portal.md) as the UI reads it: shapes and paths.
 */

export type PortalStatus = 'waiting' | 'running' | 'done' | 'aborted' | 'canceled';
export type Phase = 'unscheduled' | 'before' | 'running' | 'frozen' | 'ended';

export interface PortalJob {
  id: number;
  team: { id: number; name: string };
  status: PortalStatus;
  score: number;
  is_passed: boolean;
  reason: string;
  stdout?: string;
  stderr?: string;
  progress: { score: number | null; message: string | null } | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  benchmarker?: string | null;
  error?: string | null;
}

export interface Server {
  id: number;
  hostname: string;
  global_ip: string;
  private_ip: string;
  is_bench_target: boolean;
}

export interface Contest {
  starts_at: string | null;
  freezes_at: string | null;
  ends_at: string | null;
  phase: Phase;
  now?: string;
}

export interface Me {
  team: { id: number; name: string };
  member: number | null;
  members: { id: number; name: string }[];
  servers: Server[];
  max_servers: number;
}

export interface Dashboard {
  team: { id: number; name: string };
  contest: Contest;
  latest_score: number;
  latest_passed: boolean | null;
  latest_at: string | null;
  best_score: number;
  best_at: string | null;
  runs: number;
  history: { job_id: number; score: number; is_passed: boolean; finished_at: string | null }[];
  current_job: PortalJob | null;
}

export interface BoardRow {
  rank: number | null;
  team: { id: number; name: string };
  latest_score: number;
  latest_passed: boolean | null;
  latest_at: string | null;
  best_score: number;
  best_at: string | null;
  runs: number;
  own?: boolean;
}

export interface Board {
  contest: Contest;
  frozen: boolean;
  /** The final ranking is published (then nobody sees a frozen board). */
  published?: boolean;
  teams: BoardRow[];
}

export interface BoardHistory {
  frozen: boolean;
  teams: {
    team: { id: number; name: string };
    rank: number | null;
    own?: boolean;
    points: { at: string; score: number; is_passed: boolean }[];
  }[];
}

export interface StaffTeam {
  id: number;
  name: string;
  owner: number | null;
  invite_token: string | null;
  has_password?: boolean;
  created_at?: string;
}

export interface StaffTeamDetail extends StaffTeam {
  members: { id: number; name: string }[];
  servers: Server[];
  benchmarkers: string[];
}

export interface Benchmarker {
  id: number;
  name: string;
  ip: string;
  has_token: boolean;
  token?: string;
  team_ids: number[];
  shared: boolean;
  worker_id: string | null;
}

export const P = '/api/portal';
export const S = '/api/portal/staff';

export const PHASE_TEXT: Record<Phase, string> = {
  unscheduled: 'No schedule yet',
  before: 'Not started',
  running: 'Open',
  frozen: 'Open — leaderboard frozen',
  ended: 'Ended',
};

export const isActive = (j: { status: PortalStatus } | null | undefined) =>
  j?.status === 'waiting' || j?.status === 'running';
