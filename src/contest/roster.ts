/**
 * Reads of the contest's records as the portal's faces show them: the schedule, teams, members,
 * servers and benchmarkers. Writes go through Admin, which checks them and refreshes the views.
 */
import type {
  BenchmarkerRecord,
  ContestRecord,
  MemberRecord,
  PortalStore,
  ServerRecord,
  TeamRecord,
} from './store/store.js';

export class Roster {
  constructor(private readonly store: () => PortalStore) {}

  /** The schedule as stored now (Portal.contest() may serve a cached copy). */
  contest(): Promise<ContestRecord> {
    return this.store().contestGet();
  }

  teams(): Promise<TeamRecord[]> {
    return this.store().teamList();
  }

  teamByName(name: string): Promise<TeamRecord | null> {
    return this.store().teamFindByName({ name });
  }

  members(teamId: string): Promise<MemberRecord[]> {
    return this.store().memberList({ teamId });
  }

  servers(teamId: string): Promise<ServerRecord[]> {
    return this.store().serverList({ teamId });
  }

  benchmarkers(): Promise<BenchmarkerRecord[]> {
    return this.store().benchmarkerList();
  }
}
