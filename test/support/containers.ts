import { getContainerRuntimeClient } from "testcontainers";

/**
 * Whether a container engine answers here. Suites that need one are skipped — reported as
 * skipped, never passed — with the reason testcontainers gives ("Could not find a working
 * container runtime strategy" on a machine with only the Docker client).
 */
export async function containerRuntime(): Promise<{ available: boolean; reason: string }> {
  try {
    await getContainerRuntimeClient();
    return { available: true, reason: "" };
  } catch (err) {
    const reason = `no container engine: ${(err as Error).message}`;
    console.warn(`[containers] skipped: ${reason}`);
    return { available: false, reason };
  }
}
