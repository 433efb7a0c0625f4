/**
 * Named prepared statements under transaction pooling (the design of PgBouncer 1.21+ and PgDog):
 * a client's statement names are its own; each backend prepares a statement once, under a name of
 * Berth's, whoever asked first. A client's Bind or Describe of its statement is renamed to the
 * backend's name, and the statement is prepared there first when that backend has not seen it.
 *
 * A statement is identified by the Parse message's body after the name: the query text and the
 * parameter types. Two clients preparing the same query share one backend statement.
 */

/** What a client prepared under one of its names. */
export interface ClientStatement {
  /** The Parse body after the name: query text, parameter count and types. */
  readonly definition: Buffer;
  /** `definition` as a map key. */
  readonly key: string;
}

/** The statements one client prepared, by the client's names. */
export class ClientStatements {
  readonly #byName = new Map<string, ClientStatement>();

  define(name: string, definition: Buffer): ClientStatement {
    const statement = { definition, key: definition.toString("latin1") };
    this.#byName.set(name, statement);
    return statement;
  }

  get(name: string): ClientStatement | undefined {
    return this.#byName.get(name);
  }

  forget(name: string): void {
    this.#byName.delete(name);
  }

  clear(): void {
    this.#byName.clear();
  }

  get size(): number {
    return this.#byName.size;
  }
}

let nextName = 0;

/** The statement names Berth gives backends: never a name a client chose on that backend. */
function backendName(): string {
  nextName = (nextName + 1) % Number.MAX_SAFE_INTEGER;
  return `berth_${nextName}`;
}

/** The most statements one backend keeps prepared; the least recently used is closed past it. */
export const BACKEND_STATEMENT_LIMIT = 500;

/** What one backend has prepared, by definition; least recently used first. */
export class BackendStatements {
  readonly #byKey = new Map<string, string>();
  /** Names evicted from the map that the backend still holds: closed at the next opportunity. */
  readonly toClose: string[] = [];

  /** The backend's name for a definition (and it becomes the most recently used). */
  lookup(key: string): string | undefined {
    const name = this.#byKey.get(key);
    if (name !== undefined) {
      this.#byKey.delete(key);
      this.#byKey.set(key, name);
    }
    return name;
  }

  /** Records a statement about to be prepared on the backend; answers its name. */
  add(key: string): string {
    const name = backendName();
    this.#byKey.set(key, name);
    if (this.#byKey.size > BACKEND_STATEMENT_LIMIT) {
      const [oldestKey, oldestName] = this.#byKey.entries().next().value as [string, string];
      this.#byKey.delete(oldestKey);
      this.toClose.push(oldestName);
    }
    return name;
  }

  /** The Parse failed (or was skipped after an earlier error): the backend does not have it. */
  remove(key: string, name: string): void {
    if (this.#byKey.get(key) === name) this.#byKey.delete(key);
  }

  /** The backend forgot everything it had prepared (DISCARD ALL, DEALLOCATE ALL, a reset). */
  clear(): void {
    this.#byKey.clear();
    this.toClose.length = 0;
  }

  get size(): number {
    return this.#byKey.size;
  }
}
