import type { DurableRoleMemory, RoleMemory } from "./roles.js";

/** Where a connection's role memory outlives Berth (the store: connection_roles). */
export interface DurableRoles {
  load(connectionId: string): Promise<DurableRoleMemory | undefined>;
  save(connectionId: string, memory: DurableRoleMemory): Promise<void>;
  /** Forgets what outlives Berth (an admin's pool reset). */
  clear(connectionId: string): Promise<void>;
}

/** A connection's observed roles between checks. */
export interface Roles {
  memory: RoleMemory;
  writer: string | undefined;
  /** The durable memory was read (or there is none): elections may run. */
  loaded: boolean;
  /** What was last given to be saved (JSON), to save only changes. */
  saved: string;
  /** Saves in order: a slow earlier one must not overwrite a later one. */
  saving: Promise<void>;
  /** The store could not be read: nothing is written over what it holds (it may know more). */
  unread: boolean;
}

/**
 * Each connection's role memory: made on its first host's watch, its durable part (the highest
 * timeline seen, when each host became writable) read from the store then and written back when
 * it changes. Until the read is done, no election runs: an old primary must not take writes
 * because what Berth knew of it was still being read.
 */
export class RoleMemories {
  readonly #roles = new Map<string, Roles>();

  constructor(
    private readonly durable: DurableRoles | undefined,
    /** Told when a connection's durable memory has been read (elections may run now). */
    private readonly onLoaded: (connectionId: string) => void,
  ) {}

  peek(connectionId: string): Roles | undefined {
    return this.#roles.get(connectionId);
  }

  /** Forgets a connection (its hosts may have changed); the store's part is read again on next use. */
  forget(connectionId: string): void {
    this.#roles.delete(connectionId);
  }

  of(connectionId: string): Roles {
    const known = this.#roles.get(connectionId);
    if (known) return known;
    const fresh: Roles = {
      memory: { maxTimeline: 0, incumbent: undefined, writableSince: new Map() },
      writer: undefined,
      loaded: this.durable === undefined,
      saved: "",
      saving: Promise.resolve(),
      unread: false,
    };
    this.#roles.set(connectionId, fresh);
    // Unread, elections run on what the checks see (as without a store) rather than wait forever.
    void this.durable
      ?.load(connectionId)
      .catch(() => {
        fresh.unread = true;
        return undefined;
      })
      .then((stored) => {
        if (this.#roles.get(connectionId) !== fresh) return;
        if (stored) {
          fresh.memory.maxTimeline = Math.max(fresh.memory.maxTimeline, stored.maxTimeline);
          for (const [host, n] of Object.entries(stored.writableSince))
            fresh.memory.writableSince.set(host, n);
          fresh.saved = JSON.stringify(stored);
        }
        fresh.loaded = true;
        this.onLoaded(connectionId);
      });
    return fresh;
  }

  /** Hands the durable part of the memory to be saved, when it changed. */
  persist(connectionId: string, roles: Roles): void {
    const durable = this.durable;
    if (!durable || roles.unread) return;
    const memory: DurableRoleMemory = {
      maxTimeline: roles.memory.maxTimeline,
      writableSince: Object.fromEntries(roles.memory.writableSince),
    };
    const json = JSON.stringify(memory);
    if (json === roles.saved) return;
    roles.saved = json;
    // A failed save costs only the memory across a restart; the next change tries again.
    roles.saving = roles.saving
      .then(() => durable.save(connectionId, memory))
      .catch(() => {
        if (roles.saved === json) roles.saved = "";
      });
  }
}
