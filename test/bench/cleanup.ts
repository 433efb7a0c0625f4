/**
 * What a benchmark started (processes, temp dirs) is undone at the end, also when it fails or is
 * interrupted: a `kill -INT` or `kill -TERM` of the bench alone (not its process group) would
 * otherwise leave Berth or PgBouncer running and their temp dirs behind.
 */
type Task = () => unknown;

const tasks: Task[] = [];
let installed = false;
/** Interrupted: what is started from now on (the bench's loop runs on until exit) is undone at once. */
let stopping = false;

/** Registers an undo step; the returned function runs it now (once) and unregisters it. */
export function onCleanup(task: Task): () => Promise<void> {
  install();
  if (stopping) {
    void Promise.resolve()
      .then(task)
      .catch(() => {});
    return async () => {};
  }
  tasks.push(task);
  return async () => {
    const i = tasks.indexOf(task);
    if (i < 0) return;
    tasks.splice(i, 1);
    await task();
  };
}

/** Runs every registered step, newest first; a step that fails does not stop the others. */
export async function cleanUp(): Promise<void> {
  for (let task = tasks.pop(); task; task = tasks.pop()) {
    try {
      await task();
    } catch (err) {
      console.error(`cleanup: ${(err as Error).message}`);
    }
  }
}

function install() {
  if (installed) return;
  installed = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      stopping = true;
      console.error(`\n${signal}: stopping what the bench started`);
      void cleanUp().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }
}
