import type { ServiceImpl } from "@connectrpc/connect";
import { NotFoundError } from "../errors/berth-error.js";
import { type Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";

/** grpc.health.v1.Health: "" (the whole server) and each berth.v1 service name. */
export function createHealthService(deps: {
  ready: () => boolean;
  services: readonly string[];
}): ServiceImpl<typeof Health> {
  const status = (service: string) => {
    if (service !== "" && !deps.services.includes(service)) throw new NotFoundError("service", service);
    return deps.ready()
      ? HealthCheckResponse_ServingStatus.SERVING
      : HealthCheckResponse_ServingStatus.NOT_SERVING;
  };
  return {
    async check(req) {
      return { status: status(req.service) };
    },
    async list() {
      const statuses: Record<string, { status: HealthCheckResponse_ServingStatus }> = {
        "": { status: status("") },
      };
      for (const s of deps.services) statuses[s] = { status: status(s) };
      return { statuses };
    },
    async *watch(req, ctx) {
      let last: HealthCheckResponse_ServingStatus | undefined;
      while (!ctx.signal.aborted) {
        const now = status(req.service);
        if (now !== last) yield { status: now };
        last = now;
        await new Promise((r) => setTimeout(r, 1000));
      }
    },
  };
}
